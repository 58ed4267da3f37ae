package builder

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/worker/sha256sum"
)

// ksPackages is what a kickstart's %packages section asks for.
type ksPackages struct {
	// names are the packages named directly (globs allowed, as dnf takes
	// them).
	names []string
	// groups are the @group lines, without the @.
	groups []ksGroup
	// excluded are the -package lines.
	excluded []string
}

// ksGroup is one @group line.
type ksGroup struct {
	id string
	// nodefaults installs the mandatory packages only; optional adds the
	// optional ones (kickstart's --nodefaults and --optional).
	nodefaults, optional bool
}

// parsePackages reads the %packages sections of a flattened kickstart.
func parsePackages(ks string) (*ksPackages, error) {
	pk := &ksPackages{}
	in, found := false, false
	excludedGroups := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(ks))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		l := strings.TrimSpace(sc.Text())
		f := strings.Fields(l)
		switch {
		case len(f) == 0 || strings.HasPrefix(l, "#"):
		case !in && f[0] == "%packages":
			in, found = true, true
		case !in:
		case f[0] == "%end":
			in = false
		case strings.TrimLeft(f[0], "-@^") == "":
			return nil, fmt.Errorf("line %d: %%packages: %q names nothing", line, f[0])
		case strings.HasPrefix(f[0], "@^"), strings.HasPrefix(f[0], "-@^"):
			return nil, fmt.Errorf("line %d: %%packages: environment %s: environments are not supported on DVDs; name its groups instead", line, f[0])
		case strings.HasPrefix(f[0], "-@"):
			excludedGroups[f[0][2:]] = true
		case strings.HasPrefix(f[0], "@"):
			g := ksGroup{id: f[0][1:]}
			g.nodefaults = slices.Contains(f[1:], "--nodefaults")
			g.optional = slices.Contains(f[1:], "--optional")
			pk.groups = append(pk.groups, g)
		case strings.HasPrefix(f[0], "-"):
			pk.excluded = append(pk.excluded, f[0][1:])
		default:
			pk.names = append(pk.names, f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, errors.New("no %packages section: a DVD holds the packages it names")
	}
	pk.groups = slices.DeleteFunc(pk.groups, func(g ksGroup) bool { return excludedGroups[g.id] })
	return pk, nil
}

// comps is a comps file: the package groups of a repository.
type comps struct {
	XMLName xml.Name     `xml:"comps"`
	Groups  []compsGroup `xml:"group"`
}

// compsGroup is one group; names and descriptions in other languages are
// dropped.
type compsGroup struct {
	ID           string        `xml:"id"`
	Names        []langText    `xml:"name"`
	Descriptions []langText    `xml:"description"`
	Default      bool          `xml:"default"`
	UserVisible  bool          `xml:"uservisible"`
	Packages     []compsPkgReq `xml:"packagelist>packagereq"`
}

// langText is a comps text with its language, "" for the untranslated one.
type langText struct {
	Lang string `xml:"http://www.w3.org/XML/1998/namespace lang,attr,omitempty"`
	Text string `xml:",chardata"`
}

// compsPkgReq is one package of a group.
type compsPkgReq struct {
	Type string `xml:"type,attr,omitempty"`
	Name string `xml:",chardata"`
}

// untranslated keeps the texts without a language.
func untranslated(ts []langText) []langText {
	return slices.DeleteFunc(slices.Clone(ts), func(t langText) bool { return t.Lang != "" })
}

// pick returns the groups the kickstart names, with the packages each
// installs, or an error naming the first group the repositories lack.
func (c *comps) pick(want []ksGroup) ([]pickedGroup, error) {
	var out []pickedGroup
	for _, w := range want {
		i := slices.IndexFunc(c.Groups, func(g compsGroup) bool { return g.ID == w.id })
		if i < 0 {
			if len(c.Groups) == 0 {
				return nil, fmt.Errorf("%%packages: group @%s: the release repositories have no comps file", w.id)
			}
			return nil, fmt.Errorf("%%packages: group @%s is not in the release repositories' comps", w.id)
		}
		out = append(out, pickedGroup{group: c.Groups[i], ks: w})
	}
	return out, nil
}

// pickedGroup is a release group the kickstart names.
type pickedGroup struct {
	group compsGroup
	ks    ksGroup
}

// install lists the packages the kickstart's group line installs:
// mandatory and default ones (only mandatory with --nodefaults; optional
// ones too with --optional), as Anaconda does.
func (g pickedGroup) install() []string {
	var out []string
	for _, p := range g.group.Packages {
		switch p.Type {
		case "mandatory", "":
		case "default":
			if g.ks.nodefaults {
				continue
			}
		case "optional":
			if !g.ks.optional {
				continue
			}
		default:
			continue
		}
		out = append(out, strings.TrimSpace(p.Name))
	}
	return out
}

// repomd is the part of a repository's repomd.xml that locates its comps.
type repomd struct {
	Data []struct {
		Type     string `xml:"type,attr"`
		Location struct {
			Href string `xml:"href,attr"`
		} `xml:"location"`
	} `xml:"data"`
}

// cachedComps reads the comps files dnf fetched into cacheDir with the
// repositories' metadata, merged (the first repository's definition of a
// group wins). Repositories without comps add nothing.
func cachedComps(cacheDir string) (*comps, error) {
	mds, err := filepath.Glob(filepath.Join(cacheDir, "*", "repodata", "repomd.xml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(mds)
	all := &comps{}
	for _, md := range mds {
		c, err := repoComps(filepath.Dir(filepath.Dir(md)))
		if err != nil {
			return nil, err
		}
		for _, g := range c.Groups {
			if !slices.ContainsFunc(all.Groups, func(h compsGroup) bool { return h.ID == g.ID }) {
				all.Groups = append(all.Groups, g)
			}
		}
	}
	return all, nil
}

// repoComps reads the comps file of the repository in dir (its
// repodata/repomd.xml's group_gz or group, whichever is there); a
// repository without one has no groups.
func repoComps(dir string) (*comps, error) {
	md := filepath.Join(dir, "repodata", "repomd.xml")
	raw, err := os.ReadFile(md)
	if err != nil {
		return nil, fmt.Errorf("read repository metadata: %w", err)
	}
	var r repomd
	if err := xml.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", md, err)
	}
	for _, typ := range []string{"group_gz", "group"} {
		for _, d := range r.Data {
			if d.Type != typ {
				continue
			}
			c, err := readComps(filepath.Join(dir, filepath.FromSlash(d.Location.Href)))
			if !errors.Is(err, os.ErrNotExist) {
				return c, err
			}
		}
	}
	return &comps{}, nil
}

// readComps reads a comps file, gzip-compressed when its name ends in .gz.
func readComps(path string) (*comps, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("comps %s: %w", path, err)
		}
		defer z.Close()
		r = z
	}
	c := &comps{}
	d := xml.NewDecoder(r)
	d.Strict = false
	if err := d.Decode(c); err != nil {
		return nil, fmt.Errorf("comps %s: %w", path, err)
	}
	return c, nil
}

// packageNames returns the names of the RPMs in dir, from their file
// names (NAME-VERSION-RELEASE.ARCH.rpm, as dnf download saves them).
func packageNames(dir string) (map[string]bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list packages: %w", err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".rpm") {
			continue
		}
		for range 2 {
			if i := strings.LastIndexByte(n, '-'); i > 0 {
				n = n[:i]
			}
		}
		names[n] = true
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("dnf downloaded no package into %s", dir)
	}
	return names, nil
}

// dvdKickstartGroup is the ID of the comps group of the packages the
// kickstart names directly.
const dvdKickstartGroup = "kickstart-packages"

// writeDVDComps writes the DVD's comps file: the release groups the
// kickstart names, cut to the packages on the DVD, and one group of the
// packages it names directly, so that the same selection can be made
// from the DVD's repository.
func writeDVDComps(path string, d *tasks.DVDSpec, groups []pickedGroup, names []string, onDVD map[string]bool) error {
	out := comps{}
	for _, g := range groups {
		c := g.group
		c.Names, c.Descriptions = untranslated(c.Names), untranslated(c.Descriptions)
		c.Packages = slices.DeleteFunc(slices.Clone(c.Packages), func(p compsPkgReq) bool { return !onDVD[strings.TrimSpace(p.Name)] })
		out.Groups = append(out.Groups, c)
	}
	ks := compsGroup{ID: dvdKickstartGroup,
		Names:        []langText{{Text: d.Name + " " + d.Flavor}},
		Descriptions: []langText{{Text: "The packages the kickstart of " + d.Name + " " + d.Version + " " + d.Flavor + " names."}},
		Default:      true, UserVisible: true}
	for _, n := range dedupe(names, nil) {
		if onDVD[n] {
			ks.Packages = append(ks.Packages, compsPkgReq{Type: "mandatory", Name: n})
		}
	}
	if len(ks.Packages) > 0 {
		out.Groups = append(out.Groups, ks)
	}
	raw, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("write comps: %w", err)
	}
	text := xml.Header + `<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">` + "\n" + string(raw) + "\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("write comps: %w", err)
	}
	return nil
}

// ini is a small INI file: sections of ordered keys.
type ini map[string]map[string]string

// readINI reads path as INI; a missing file is an empty one.
func readINI(path string) (ini, error) {
	out := ini{}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	sec := ""
	for _, l := range strings.Split(string(raw), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case l[0] == '[' && strings.HasSuffix(l, "]"):
			sec = l[1 : len(l)-1]
			if out[sec] == nil {
				out[sec] = map[string]string{}
			}
		default:
			k, v, ok := strings.Cut(l, "=")
			if ok && sec != "" {
				out[sec][strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return out, nil
}

// String renders the file with sections and keys sorted, as productmd
// writes it.
func (f ini) String() string {
	var b strings.Builder
	secs := make([]string, 0, len(f))
	for s := range f {
		secs = append(secs, s)
	}
	sort.Strings(secs)
	for i, s := range secs {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "[%s]\n", s)
		keys := make([]string, 0, len(f[s]))
		for k := range f[s] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s = %s\n", k, f[s][k])
		}
	}
	return b.String()
}

// dvdVariant is the variant ID of the DVD's tree: the spec's flavor, in
// the characters productmd allows.
func dvdVariant(d *tasks.DVDSpec) string {
	return volIDBad.ReplaceAllString(d.Flavor, "-")
}

// writeTreeinfo writes the tree's .treeinfo in productmd's format 1.2:
// the release and tree, one variant whose packages and repository are in
// the tree, and the boot images and stage2 lorax recorded in its own
// .treeinfo, with their SHA-256 checksums. The [general] section is the
// pre-productmd one older installers read.
func writeTreeinfo(ctx context.Context, tree string, job *Job) error {
	path := filepath.Join(tree, ".treeinfo")
	lorax, err := readINI(path)
	if err != nil {
		return fmt.Errorf("read lorax's .treeinfo: %w", err)
	}
	d, arch := job.Spec.DVD, isoArch(job.Spec.Arch)
	variant := dvdVariant(d)
	stamp := fmt.Sprint(time.Now().Unix())
	out := ini{
		"header":  {"type": "productmd.treeinfo", "version": "1.2"},
		"release": {"name": d.Name, "short": d.Name, "version": d.Version},
		"tree":    {"arch": arch, "build_timestamp": stamp, "platforms": arch, "variants": variant},
		"variant-" + variant: {"id": variant, "uid": variant, "name": d.Flavor, "type": "variant",
			"packages": "Packages", "repository": "."},
		"general": {"name": d.Name + " " + d.Version, "family": d.Name, "version": d.Version, "arch": arch,
			"platforms": arch, "timestamp": stamp, "variant": variant, "variants": variant,
			"packagedir": "Packages", "repository": "."},
	}
	var images []string
	platforms := []string{}
	for s, keys := range lorax {
		switch {
		case strings.HasPrefix(s, "images-"):
			out[s] = keys
			platforms = append(platforms, strings.TrimPrefix(s, "images-"))
			for _, p := range keys {
				images = append(images, p)
			}
		case s == "stage2":
			out[s] = keys
			for _, p := range keys {
				images = append(images, p)
			}
		}
	}
	if len(platforms) > 0 {
		sort.Strings(platforms)
		out["tree"]["platforms"] = strings.Join(platforms, ",")
		out["general"]["platforms"] = strings.Join(platforms, ",")
	}
	sums := map[string]string{}
	for _, p := range images {
		if _, done := sums[p]; done {
			continue
		}
		sum, err := sha256sum.File(ctx, filepath.Join(tree, filepath.FromSlash(p)))
		if err != nil {
			return fmt.Errorf("checksum of %s (in lorax's .treeinfo): %w", p, err)
		}
		sums[p] = "sha256:" + sum
	}
	if len(sums) > 0 {
		out["checksums"] = sums
	}
	if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
		return fmt.Errorf("write .treeinfo: %w", err)
	}
	return nil
}

// writeDiscinfo writes the tree's .discinfo as productmd does: the build
// time, the release's name and version, the architecture and the disc
// numbers (ALL: one disc holds everything).
func writeDiscinfo(tree string, job *Job) error {
	d := job.Spec.DVD
	text := fmt.Sprintf("%d.000000\n%s %s\n%s\nALL\n", time.Now().Unix(), d.Name, d.Version, isoArch(job.Spec.Arch))
	if err := os.WriteFile(filepath.Join(tree, ".discinfo"), []byte(text), 0o644); err != nil {
		return fmt.Errorf("write .discinfo: %w", err)
	}
	return nil
}
