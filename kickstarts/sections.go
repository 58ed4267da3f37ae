package kickstarts

import "strconv"

// sectionKind classifies the sections fbs knows.
type sectionKind uint8

const (
	secPackages sectionKind = iota
	secScript
	secNull // %addon, %anaconda: kept as they are
	secCertificate
)

// sectionSpec describes a section: how its header is parsed and how its
// body is treated.
type sectionSpec struct {
	name string
	kind sectionKind
	// header parses the header's options; nil for sections whose header
	// is kept unparsed.
	header *command
	// allLines sections keep blank and comment lines in their body.
	allLines bool
}

// versionNumber gives the number of a version name such as "F42".
func versionNumber(v string) int {
	n, _ := strconv.Atoi(v[1:])
	return n
}

// sectionSpecs returns the sections of a syntax version.
func (s *syntax) sectionSpecs() map[string]*sectionSpec {
	script := func(name string, nochroot bool) *sectionSpec {
		opts := []option{
			{names: []string{"--erroronfail"}, dest: "errorOnFail", act: actStoreTrue, hasDefault: true},
			{names: []string{"--interpreter"}, dest: "interpreter", act: actStore, hasDefault: true},
			{names: []string{"--log", "--logfile"}, dest: "log", act: actStore},
		}
		if nochroot {
			opts = append(opts, option{names: []string{"--nochroot"}, dest: "nochroot", act: actStoreTrue, hasDefault: true})
		}
		return &sectionSpec{name: name, kind: secScript, allLines: true, header: &command{class: name, options: opts}}
	}
	m := map[string]*sectionSpec{
		"%pre":         script("%pre", false),
		"%pre-install": script("%pre-install", false),
		"%post":        script("%post", true),
		"%onerror":     script("%onerror", false),
		"%traceback":   script("%traceback", false),
		"%addon":       {name: "%addon", kind: secNull, allLines: true},
		"%anaconda":    {name: "%anaconda", kind: secNull, allLines: true},
		"%packages": {name: "%packages", kind: secPackages, header: &command{class: "%packages", options: []option{
			{names: []string{"--excludedocs"}, dest: "excludedocs", act: actStoreTrue, hasDefault: true},
			{names: []string{"--ignoremissing"}, dest: "ignoremissing", act: actStoreTrue, hasDefault: true},
			// --default is only ever switched on: pykickstart never resets it.
			{names: []string{"--default"}, dest: "defaultPackages", act: actStoreTrue},
			{names: []string{"--multilib"}, dest: "multiLib", act: actStoreTrue, hasDefault: true},
			{names: []string{"--nocore"}, dest: "nocore", act: actStoreTrue, hasDefault: true},
			// --timeout and --retries take the value of the last header,
			// unset included.
			{names: []string{"--timeout"}, dest: "timeout", act: actStore, typ: "int", hasDefault: true},
			{names: []string{"--retries"}, dest: "retries", act: actStore, typ: "int", hasDefault: true},
			{names: []string{"--inst-langs", "--instLangs"}, dest: "instLangs", act: actStore},
			{names: []string{"--exclude-weakdeps", "--excludeWeakdeps"}, dest: "excludeWeakdeps", act: actStoreTrue, hasDefault: true},
			{names: []string{"--ignorebroken"}, dest: "ignorebroken", act: actStoreTrue, hasDefault: true},
		}}},
	}
	if n := versionNumber(s.version); n >= 42 {
		opts := []option{
			{names: []string{"--filename"}, dest: "filename", act: actStore, required: true},
			{names: []string{"--dir"}, dest: "dir", act: actStore},
		}
		if n >= 45 {
			opts = append(opts, option{names: []string{"--type"}, dest: "type", act: actStore})
		}
		m["%certificate"] = &sectionSpec{name: "%certificate", kind: secCertificate, allLines: true, header: &command{class: "%certificate", options: opts}}
	}
	return m
}
