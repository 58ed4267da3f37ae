package kickstarts

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// embedded holds the standard kickstarts written for fbs.
//
//go:embed standard/*.ks
var embedded embed.FS

// Entry is a standard kickstart.
type Entry struct {
	// Name is how it is asked for (config=NAME): the file name without
	// ".ks".
	Name string
	// Description comes from the file's leading comment.
	Description string
	// Source is "embedded" or the file's path in the site directory.
	Source string
}

// Standard lists the standard kickstarts, the site ones (the *.ks files at
// the top of siteDir, if set) first, then the embedded ones not shadowed by
// a site one, each sorted by name.
func Standard(siteDir string) ([]Entry, error) {
	var site, builtin []Entry
	seen := make(map[string]bool)
	if siteDir != "" {
		ents, err := os.ReadDir(siteDir)
		if err != nil {
			return nil, fmt.Errorf("list site kickstarts in %s: %w", siteDir, err)
		}
		for _, e := range ents {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".ks") {
				continue
			}
			p := filepath.Join(siteDir, e.Name())
			data, err := readOS(p)
			if err != nil {
				return nil, fmt.Errorf("read site kickstart %s: %w", p, err)
			}
			name := strings.TrimSuffix(e.Name(), ".ks")
			seen[name] = true
			site = append(site, Entry{Name: name, Description: describe(string(data), e.Name()), Source: p})
		}
	}
	ents, err := fs.ReadDir(embedded, "standard")
	if err != nil {
		return nil, fmt.Errorf("list embedded kickstarts: %w", err)
	}
	for _, e := range ents {
		name := strings.TrimSuffix(e.Name(), ".ks")
		if seen[name] {
			continue
		}
		data, err := fs.ReadFile(embedded, "standard/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read embedded kickstart %s: %w", e.Name(), err)
		}
		builtin = append(builtin, Entry{Name: name, Description: describe(string(data), e.Name()), Source: "embedded"})
	}
	byName := func(es []Entry) { sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name }) }
	byName(site)
	byName(builtin)
	return append(site, builtin...), nil
}

// describe takes a description from a kickstart's leading comment: the
// lines after a "Description:" line if there is one, else the first
// paragraph, skipping a first line that only repeats the file name.
func describe(text, file string) string {
	var lines []string
	for l := range strings.Lines(text) {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "#") {
			if l == "" && len(lines) == 0 {
				continue
			}
			break
		}
		lines = append(lines, strings.TrimSpace(strings.TrimLeft(l, "#")))
	}
	for i, l := range lines {
		if len(l) >= 12 && strings.EqualFold(l[:12], "description:") {
			rest := strings.TrimSpace(l[12:])
			lines = lines[i+1:]
			if rest != "" {
				lines = append([]string{rest}, lines...)
			}
			break
		}
	}
	for len(lines) > 0 && (lines[0] == "" || strings.HasSuffix(lines[0], ".ks") && !strings.Contains(lines[0], " ")) {
		lines = lines[1:]
	}
	var para []string
	for _, l := range lines {
		if l == "" {
			break
		}
		para = append(para, strings.TrimPrefix(l, "- "))
	}
	d := strings.Join(para, " ")
	if len(d) > 200 {
		d = d[:197] + "..."
	}
	if d == "" {
		d = file
	}
	return d
}

// openStandard finds a standard kickstart by name (with or without ".ks"):
// in the site directory first, confined to it, then among the embedded.
func openStandard(ref string, opts Options, f *fetcher) (source, []byte, func(), error) {
	base := strings.TrimSuffix(ref, ".ks") + ".ks"
	if !fs.ValidPath(base) || strings.Contains(base, "/") {
		return nil, nil, nil, fmt.Errorf("kickstart %s: no such file, and not a standard kickstart name: %w", ref, ErrNotFound)
	}
	if opts.SiteDir != "" {
		root, err := os.OpenRoot(opts.SiteDir)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("open site kickstart directory %s: %w", opts.SiteDir, err)
		}
		data, err := readFS(root.FS(), base)
		switch {
		case err == nil:
			return &fsSource{fsys: root.FS(), path: base, display: dirPrefix(opts.SiteDir), fetch: f}, data, func() { root.Close() }, nil
		case !errors.Is(err, ErrNotFound):
			root.Close()
			return nil, nil, nil, fmt.Errorf("site kickstart %s: %w", base, err)
		}
		root.Close()
	}
	sub, _ := fs.Sub(embedded, "standard")
	data, err := readFS(sub, base)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, nil, nil, fmt.Errorf("kickstart %s: no such file, and not a standard kickstart name: %w", ref, ErrNotFound)
		}
		return nil, nil, nil, fmt.Errorf("standard kickstart %s: %w", base, err)
	}
	return &fsSource{fsys: sub, path: base, display: "standard:"}, data, func() {}, nil
}
