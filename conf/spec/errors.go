package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fedora-fbs/fbs/tasks"
)

// Error is one problem in a spec.
type Error struct {
	// File is the name the spec was parsed under.
	File string
	// Section and Key say where the problem is; either may be empty when the
	// problem is with the file or a whole section.
	Section, Key string
	// Line is the 1-based line of the key or section, or 0 if it has none
	// (a missing key in a missing section).
	Line   int
	Reason string
	// Field is the tasks field path of Section and Key ("arch",
	// "ksiso.iso", "kickstart"), the name adapters map to their own.
	Field string
}

// Error formats e as "boot.conf:12: [boot] version: must not be empty".
func (e *Error) Error() string {
	where := e.File
	if e.Line > 0 {
		where += fmt.Sprintf(":%d", e.Line)
	}
	switch {
	case e.Section != "" && e.Key != "":
		where += fmt.Sprintf(": [%s] %s", name(e.Section), name(e.Key))
	case e.Section != "":
		where += fmt.Sprintf(": [%s]", name(e.Section))
	case e.Key != "":
		where += ": " + name(e.Key)
	}
	return where + ": " + e.Reason
}

// Errors is every problem found in a spec, in line order. Parse returns it
// as its error when there is any.
type Errors []*Error

// Error formats the errors one per line.
func (e Errors) Error() string {
	s := make([]string, len(e))
	for i, err := range e {
		s[i] = err.Error()
	}
	return strings.Join(s, "\n")
}

// sortByLine orders problems by line, those without a line last, keeping
// the order they were found in otherwise.
func sortByLine(e []*Error) {
	slices.SortStableFunc(e, func(a, b *Error) int {
		return cmp.Compare(lineKey(a.Line), lineKey(b.Line))
	})
}

func lineKey(l int) int {
	if l == 0 {
		return int(^uint(0) >> 1)
	}
	return l
}

// name shows a section or key name as written, or quoted when it holds
// anything but printable characters, so that a message stays one readable
// line.
func name(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || r == ' ' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// Key returns the section and key of the spec of type t that hold the field
// at path (a tasks field path): "arch" is [DEFAULT] arch, "ksiso.iso" is
// [ksiso] iso, "kickstart" is config= and "nvr" and "bid" are keys of the
// type's section. An empty path is the whole file.
func Key(t tasks.ImageType, path string) (section, key string) {
	switch path {
	case "":
		return "", ""
	case tasks.FieldType, tasks.FieldArch, tasks.FieldRelease, tasks.FieldStaging, tasks.FieldEmail:
		return defaultSection, path
	case tasks.FieldKickstart:
		return string(t), "config"
	case tasks.FieldNVRs, tasks.FieldBuildIDs:
		return string(t), path
	}
	if s, k, ok := strings.Cut(path, "."); ok {
		return s, k
	}
	return path, ""
}

// fieldPath is the tasks field path of section and key: Key's inverse.
func fieldPath(section, key string) string {
	switch {
	case section == "" || strings.EqualFold(section, defaultSection):
		return key
	case key == "config":
		return tasks.FieldKickstart
	case key == tasks.FieldNVRs, key == tasks.FieldBuildIDs:
		return key
	case key == "":
		return section
	}
	return section + "." + key
}

// Where names the field at path of a spec of type t as the spec does:
// "[DEFAULT] arch", "[ksiso] iso", or "spec" for the whole file.
func Where(t tasks.ImageType, path string) string {
	section, key := Key(t, path)
	return where(section, key)
}

// Where names the key at fault as Where does.
func (e *Error) Where() string { return where(e.Section, e.Key) }

func where(section, key string) string {
	switch {
	case section != "" && key != "":
		return "[" + section + "] " + key
	case section != "":
		return "[" + section + "]"
	case key != "":
		return key
	}
	return "spec"
}
