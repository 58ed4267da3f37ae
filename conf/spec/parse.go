package spec

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"gopkg.in/ini.v1"

	"github.com/fedora-fbs/fbs/conf/inilines"
	"github.com/fedora-fbs/fbs/tasks"
)

// Result is a parsed spec with its non-fatal warnings.
type Result struct {
	Spec tasks.Spec `json:"spec"`
	// Warnings are formatted like errors ("file:line: [section] key:
	// reason") and name what was ignored and why.
	Warnings []string `json:"warnings,omitempty"`

	name string
	idx  *inilines.Index
}

// ErrorAt is a problem that a later check found with the field at path
// (a tasks field path such as "ksiso.iso"), placed in the file like a
// parse error: file, line, section and key.
func (r *Result) ErrorAt(field, reason string) *Error {
	section, key := Key(r.Spec.Type, field)
	e := &Error{File: r.name, Section: section, Key: key, Reason: reason, Field: field}
	if r.idx != nil {
		if e.Line = r.idx.KeyLine(section, key); e.Line == 0 {
			e.Line = r.idx.SectionLine(section)
		}
	}
	return e
}

// ParseFile reads and parses the spec at path; messages name path.
func ParseFile(path string) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read build spec: %w", err)
	}
	return Parse(path, data)
}

const defaultSection = inilines.DefaultSection

// isDirKey reports whether k is one of the original service's keys for the
// builder's directories. fbs accepts and ignores them: where a build writes
// is the worker's call.
func isDirKey(k string) bool {
	switch k {
	case "outdir", "workdir", "tmpdir", "cachedir", "destdir", "logfile":
		return true
	}
	return false
}

// isDefaultKey reports whether k belongs in [DEFAULT], for hints when it
// turns up in another section.
func isDefaultKey(k string) bool {
	switch k {
	case "type", "arch", "release", "staging", "email":
		return true
	}
	return false
}

// loadOptions is the INI dialect of specs: the original read them with
// Python's ConfigParser, where keys are case-insensitive and ';' or '#'
// inside a value (as in a cgit URL) is not a comment.
func loadOptions() ini.LoadOptions {
	return ini.LoadOptions{
		InsensitiveKeys:     true,
		IgnoreInlineComment: true,
		IgnoreContinuation:  true,
	}
}

// Parse reads a build spec; name is used in messages (the file name). It
// returns Errors listing every problem when the spec is not valid.
func Parse(name string, data []byte) (*Result, error) {
	p := &parser{name: name, idx: inilines.Scan(data, true)}
	for _, e := range p.idx.Errors {
		p.errs = append(p.errs, &Error{File: name, Section: e.Section, Line: e.Line, Reason: e.Reason})
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	f, err := ini.LoadSources(loadOptions(), data)
	if err != nil {
		return nil, Errors{{File: name, Reason: "read INI: " + err.Error()}}
	}
	for _, d := range p.idx.Duplicates() {
		if d.Key == "" {
			p.errorAt(d.Section, "", d.Lines[1], "section appears again (first on line %d)", d.Lines[0])
		} else {
			p.errorAt(d.Section, d.Key, d.Lines[1], "set again (first on line %d)", d.Lines[0])
		}
	}
	sections := map[string]*section{}
	for _, s := range f.Sections() {
		switch n := s.Name(); n {
		case defaultSection, string(tasks.TypeBoot), string(tasks.TypeDVD), string(tasks.TypeLive), string(tasks.TypeKSISO):
			sections[n] = p.section(s)
		default:
			p.errorAt(n, "", p.idx.SectionLine(n), "unknown section (want [DEFAULT] and one of [boot], [dvd], [live], [ksiso])")
		}
	}
	spec := p.readDefault(sections[defaultSection])
	if spec.Type.Valid() {
		for _, t := range tasks.ImageTypes {
			if s := sections[string(t)]; s != nil && t != spec.Type {
				p.warnAt(s.name, "", p.idx.SectionLine(s.name), "section is ignored: type is %s", spec.Type)
			}
		}
		if s := sections[string(spec.Type)]; s == nil {
			p.errorAt(defaultSection, "type", p.idx.KeyLine(defaultSection, "type"), "type is %s but there is no [%s] section", spec.Type, spec.Type)
		} else {
			p.readType(&spec, s)
		}
	}
	p.validate(&spec)
	if len(p.errs) > 0 {
		sortByLine(p.errs)
		return nil, p.errs
	}
	sortByLine(p.warns)
	r := &Result{Spec: spec, name: name, idx: p.idx}
	for _, w := range p.warns {
		r.Warnings = append(r.Warnings, w.Error())
	}
	return r, nil
}

// validate adds the problems tasks.Spec.Validate finds, which holds every
// rule on a field's value, to those of the file's form, one per key.
func (p *parser) validate(spec *tasks.Spec) {
	err := spec.Validate()
	if err == nil {
		return
	}
	var fe tasks.Errors
	if !errors.As(err, &fe) {
		p.errs = append(p.errs, &Error{File: p.name, Reason: err.Error()})
		return
	}
	seen := map[[2]string]bool{}
	for _, e := range p.errs {
		seen[[2]string{e.Section, e.Key}] = true
	}
	for _, e := range fe {
		section, key := Key(spec.Type, e.Field)
		if seen[[2]string{section, key}] || (section != defaultSection && len(p.idx.Section(section)) == 0) {
			continue // said already, or about a section the file lacks, which is said
		}
		line := p.idx.KeyLine(section, key)
		if line == 0 {
			line = p.idx.SectionLine(section)
		}
		p.errorAt(section, key, line, "%s", e.Message)
		if e.Field != tasks.FieldNVRs && e.Field != tasks.FieldBuildIDs {
			seen[[2]string{section, key}] = true
		}
	}
}

type parser struct {
	name  string
	idx   *inilines.Index
	errs  Errors
	warns []*Error
}

func (p *parser) errorAt(section, key string, line int, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.name, Section: section, Key: key, Line: line, Reason: fmt.Sprintf(format, args...),
		Field: fieldPath(section, key)})
}

func (p *parser) warnAt(section, key string, line int, format string, args ...any) {
	p.warns = append(p.warns, &Error{File: p.name, Section: section, Key: key, Line: line, Reason: fmt.Sprintf(format, args...)})
}

// section reads the keys of one section, remembering which ones were
// asked for so that the rest can be reported as unknown.
type section struct {
	p     *parser
	name  string
	vals  map[string]string
	order []string
	known []string
	used  map[string]bool
	bad   map[string]bool
}

func (p *parser) section(s *ini.Section) *section {
	sec := &section{p: p, name: s.Name(), vals: map[string]string{}, used: map[string]bool{}, bad: map[string]bool{}}
	for _, k := range s.Keys() {
		sec.order = append(sec.order, k.Name())
		sec.vals[k.Name()] = k.Value()
	}
	return sec
}

// line is where key is set, or else where the section starts.
func (s *section) line(key string) int {
	if l := s.p.idx.KeyLine(s.name, key); l > 0 {
		return l
	}
	return s.p.idx.SectionLine(s.name)
}

func (s *section) errorf(key, format string, args ...any) {
	s.p.errorAt(s.name, key, s.line(key), format, args...)
}

func (s *section) warnf(key, format string, args ...any) {
	s.p.warnAt(s.name, key, s.line(key), format, args...)
}

// get returns key's value, trimmed, and whether the key is set, and
// records key as known to the section.
func (s *section) get(key string) (string, bool) {
	if !slices.Contains(s.known, key) {
		s.known = append(s.known, key)
	}
	return s.value(key)
}

// value returns key's value, trimmed, and whether the key is set. A value
// that is not plain text is reported and read as unset.
func (s *section) value(key string) (string, bool) {
	v, ok := s.vals[key]
	if !ok {
		return "", false
	}
	s.used[key] = true
	v = strings.TrimSpace(v)
	if reason := badText(v); reason != "" {
		s.errorf(key, "%s", reason)
		s.bad[key] = true
		return "", false
	}
	return v, true
}

// badText says why v cannot be a spec value: specs are line-based text, and
// a value must survive Marshal and Parse unchanged.
func badText(v string) string {
	if !utf8.ValidString(v) {
		return "value is not valid UTF-8"
	}
	for _, r := range v {
		if unicode.IsControl(r) && r != '\t' {
			return fmt.Sprintf("value contains the control character %U", r)
		}
	}
	return ""
}

// optional returns key's value, "" when unset.
func (s *section) optional(key string) string {
	v, _ := s.get(key)
	return v
}

// required returns key's value and reports it when it is unset or empty.
func (s *section) required(key, what string) string {
	v, ok := s.get(key)
	switch {
	case s.bad[key]:
	case !ok:
		s.errorf(key, "missing: %s", what)
	case v == "":
		s.errorf(key, "must not be empty: %s", what)
	}
	return v
}

// boolean reads 0/1 (and the spellings ConfigParser accepted); unset or
// empty is false.
func (s *section) boolean(key string) bool {
	v, _ := s.get(key)
	switch strings.ToLower(v) {
	case "", "0", "false", "no", "off":
		return false
	case "1", "true", "yes", "on":
		return true
	}
	s.errorf(key, "%q is not a boolean (want 0 or 1)", v)
	return false
}

// list reads a list separated by semicolons (the original's separator),
// commas or spaces.
func (s *section) list(key string) []string {
	v, _ := s.get(key)
	return SplitList(v)
}

// SplitList splits a list value (nvr=, bid=) on semicolons, commas and
// spaces, as the spec format and the web form write them.
func SplitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ',' || unicode.IsSpace(r) })
}

// finish reports the keys nobody asked for: the original's directory keys
// with a warning, anything else as unknown.
func (s *section) finish() {
	for _, k := range s.order {
		switch {
		case s.used[k]:
		case isDirKey(k):
			s.warnf(k, "key %s is ignored: the worker decides where it writes", k)
		case s.name != defaultSection && isDefaultKey(k):
			s.errorf(k, "unknown key: %s belongs in [DEFAULT]", k)
		case s.name == defaultSection && (k == "nvr" || k == "bid"):
			s.errorf(k, "unknown key: %s belongs in the section of the image type", k)
		default:
			s.errorf(k, "unknown key (known keys in [%s]: %s)", s.name, strings.Join(s.known, ", "))
		}
	}
}

func (p *parser) readDefault(d *section) tasks.Spec {
	const every = "every spec needs one"
	var spec tasks.Spec
	// The values' rules are tasks.Spec.Validate's, checked in validate.
	spec.Type = tasks.ImageType(d.required("type", every))
	spec.Arch = d.required("arch", every)
	spec.Release = d.required("release", every)
	spec.Staging = d.required("staging", "where the images go")
	spec.Email = d.optional("email")
	d.finish()
	return spec
}

func (p *parser) readType(spec *tasks.Spec, s *section) {
	need := "required for type " + string(spec.Type)
	switch spec.Type {
	case tasks.TypeBoot:
		spec.Boot = p.readBoot(spec, s, need)
	case tasks.TypeDVD:
		d := &tasks.DVDSpec{
			Name:       s.required("name", need),
			Version:    s.required("version", need),
			Flavor:     s.required("flavor", need),
			Config:     kickstart(s, need),
			BugURL:     s.optional("bugurl"),
			NoSource:   s.boolean("nosource"),
			SourceISOs: s.boolean("sourceisos"),
			Force:      s.boolean("force"),
			Stage:      s.optional("stage"),
		}
		if d.BugURL != "" {
			if reason := checkURL(d.BugURL, "http", "https"); reason != "" {
				s.errorf("bugurl", "%s", reason)
			}
		}
		if d.Stage != "" {
			stage, ok := pungiStage(d.Stage)
			switch {
			case !ok:
				s.errorf("stage", "unknown pungi stage %q (want all, gather, createrepo, buildinstall or createiso)", d.Stage)
			case stage != "all":
				s.warnf("stage", "stage=%s no longer applies: pungi's classic stages are gone, every DVD build runs all of lorax, dnf, createrepo_c and xorriso", d.Stage)
			}
			d.Stage = stage
		}
		// The keys pungi's classic command line took that the DVD
		// pipeline has no use for (doc/howto.md, "The [dvd] keys").
		if v, ok := s.get("nosource"); ok && !d.NoSource {
			s.warnf("nosource", "nosource=%s no longer applies: DVDs hold binary packages only, never source packages", v)
		}
		if d.SourceISOs {
			s.warnf("sourceisos", "sourceisos=1 no longer applies: no source ISO is made")
		}
		if d.Force {
			s.warnf("force", "force=1 no longer applies: every build starts in an empty work directory")
		}
		spec.DVD = d
	case tasks.TypeLive:
		l := &tasks.LiveSpec{
			Label:      s.required("label", need),
			Title:      s.optional("title"),
			Product:    s.optional("product"),
			ReleaseVer: s.optional("releasever"),
			Config:     kickstart(s, need),
			Builder:    s.optional("builder"),
		}
		if len(l.Label) > 32 {
			s.errorf("label", "%q is longer than 32 characters, the limit of an ISO volume label", l.Label)
		}
		if l.ReleaseVer == "" {
			l.ReleaseVer = spec.Release
		}
		if l.Builder == "" {
			l.Builder = tasks.BuilderLiveMedia
		}
		spec.Live = l
	case tasks.TypeKSISO:
		k := &tasks.KSISOSpec{
			ISO:     s.required("iso", need),
			Config:  kickstart(s, need),
			Cmdline: s.optional("cmdline"),
			RmArgs:  s.optional("rm_args"),
			Updates: s.optional("updates"),
			Add:     s.list("add"),
			VolID:   s.optional("volid"),
			Replace: replacePairs(s),
		}
		if len(k.Add) == 0 {
			k.Add = nil
		}
		spec.KSISO = k
	}
	spec.NVRs = s.list("nvr")
	spec.BuildIDs = s.list("bid")
	s.finish()
}

// replacePairs reads [ksiso] replace: "FROM TO" pairs separated by
// semicolons, as mkksiso's repeated -R FROM TO.
func replacePairs(s *section) []tasks.Replace {
	v := s.optional("replace")
	var pairs []tasks.Replace
	for i, p := range strings.Split(v, ";") {
		f := strings.Fields(p)
		switch len(f) {
		case 0:
		case 2:
			pairs = append(pairs, tasks.Replace{From: f[0], To: f[1]})
		default:
			s.errorf("replace", "pair %d: want \"FROM TO\" (two words), pairs separated by ';'", i+1)
			return nil
		}
	}
	return pairs
}

// FormatReplace writes pairs as the value of [ksiso] replace.
func FormatReplace(pairs []tasks.Replace) string {
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.From + " " + p.To)
	}
	return b.String()
}

// kickstart reads config=: a standard kickstart name, a path, or an http(s)
// or ftp URL. Which names and paths exist is for the submitter to resolve.
func kickstart(s *section, need string) string {
	c := s.required("config", need)
	if strings.Contains(c, "://") {
		if reason := checkURL(c, "http", "https", "ftp"); reason != "" {
			s.errorf("config", "%s", reason)
		}
	}
	return c
}

// repoKeyRE matches the [boot] repository keys: 17_url, 42-updates_mirror,
// rawhide_url...
var repoKeyRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([0-9]+|rawhide)(-updates|-updates-testing)?_(url|mirror)$`)
})

func (p *parser) readBoot(spec *tasks.Spec, s *section, need string) *tasks.BootSpec {
	// As in ConfigParser, [boot] release falls back to [DEFAULT]'s.
	release, hasRelease := s.get("release")
	b := &tasks.BootSpec{
		Product:        s.required("product", need),
		Version:        s.required("version", need),
		Updates:        s.boolean("updates"),
		UpdatesTesting: s.boolean("updates-testing"),
		Proxy:          s.optional("proxy"),
	}
	b.Release = spec.Release
	if hasRelease {
		b.Release = release
		switch {
		case release == "":
			s.errorf("release", "must not be empty: lorax needs the release")
		case !tasks.ValidRelease(release):
			s.errorf("release", "unknown release %q (want a number such as 42, or rawhide)", release)
		}
	}
	if b.Proxy != "" {
		if reason := checkURL(b.Proxy, "http", "https", "socks5"); reason != "" {
			s.errorf("proxy", "%s", reason)
		}
	}
	s.known = append(s.known, "<release>[-updates|-updates-testing]_url", "<release>[-updates|-updates-testing]_mirror")
	repos := map[string]*tasks.Repo{}
	var names []string
	for _, k := range s.order {
		m := repoKeyRE().FindStringSubmatch(k)
		if m == nil || !tasks.ValidRelease(m[1]) {
			continue
		}
		v, _ := s.value(k)
		if v == "" {
			continue
		}
		if m[1] != b.Release {
			s.warnf(k, "repository %s is not for release %s, the release lorax builds", m[1]+m[2], b.Release)
		}
		schemes := []string{"http", "https", "ftp", "file"}
		if m[3] == "mirror" {
			schemes = []string{"http", "https"}
		}
		if reason := checkURL(v, schemes...); reason != "" {
			s.errorf(k, "%s", reason)
			continue
		}
		name := m[1] + m[2]
		r := repos[name]
		if r == nil {
			r = &tasks.Repo{Name: name}
			repos[name] = r
			names = append(names, name)
		}
		if m[3] == "url" {
			r.URL = v
		} else {
			r.Mirror = v
		}
	}
	for _, n := range names {
		b.Repos = append(b.Repos, *repos[n])
	}
	if len(b.Repos) == 0 {
		s.p.errorAt(s.name, "", p.idx.SectionLine(s.name), "no repository: lorax needs at least one %s_url or %s_mirror", b.Release, b.Release)
	}
	for _, want := range []struct {
		on     bool
		key    string
		suffix string
	}{{b.Updates, "updates", "-updates"}, {b.UpdatesTesting, "updates-testing", "-updates-testing"}} {
		if want.on && repos[b.Release+want.suffix] == nil {
			s.warnf(want.key, "%s=1 but there is no %s%s_url or _mirror: no such repository is added", want.key, b.Release, want.suffix)
		}
	}
	return b
}

// pungiStage maps the stage key to a stage name. The original passed the
// value to pungi as a flag, so its flags are accepted too.
func pungiStage(v string) (string, bool) {
	switch v {
	case "all", "gather", "createrepo", "buildinstall", "createiso":
		return v, true
	case "-G":
		return "gather", true
	case "-C":
		return "createrepo", true
	case "-B":
		return "buildinstall", true
	case "-I":
		return "createiso", true
	}
	return v, false
}

// checkURL says why v is not an absolute URL with one of schemes, or "".
func checkURL(v string, schemes ...string) string {
	u, err := url.Parse(v)
	if err != nil {
		return fmt.Sprintf("%q is not a URL: %v", v, urlErr(err))
	}
	if !slices.Contains(schemes, u.Scheme) {
		return fmt.Sprintf("%q has scheme %q (want %s)", v, u.Scheme, strings.Join(schemes, ", "))
	}
	if u.Scheme == "file" {
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return fmt.Sprintf("%q is not a file:///absolute/path URL", v)
		}
		return ""
	}
	if u.Host == "" {
		return fmt.Sprintf("%q has no host", v)
	}
	return ""
}

// urlErr unwraps url.Error, whose message repeats the URL.
func urlErr(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
