// Package inilines finds where sections and keys sit in INI text.
//
// gopkg.in/ini.v1 reads values well but forgets line numbers, merges repeated
// sections and keys, and reports syntax errors without saying where. The
// fbs INI formats (the service configuration, build specs and the deploy
// file) scan the text with this package first, so every message can name a line, and then read
// values with ini.v1. The scanner follows ini.v1's reading of a line with the
// options fbs uses (no inline comments, no continuation lines) and is
// stricter where ini.v1 silently drops text.
package inilines

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
	"unicode"
)

// DefaultSection is the section keys before the first header belong to, as
// in ini.v1.
const DefaultSection = "DEFAULT"

// Index records where each section and key of one INI text is.
type Index struct {
	sections map[string][]int
	keys     map[string]map[string][]int
	// Errors lists the lines that are not INI, in file order.
	Errors []LineError
}

// LineError is a line that cannot be read as INI.
type LineError struct {
	Line int
	// Section is the section the line is in.
	Section string
	Reason  string
}

// Scan indexes text. With lowerKeys, key names are lower-cased, matching
// ini.v1's InsensitiveKeys option.
func Scan(text []byte, lowerKeys bool) *Index {
	x := &Index{
		sections: map[string][]int{},
		keys:     map[string]map[string][]int{},
	}
	text = bytes.TrimPrefix(text, []byte("\xef\xbb\xbf"))
	lines := strings.Split(string(text), "\n")
	section := DefaultSection
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line := strings.TrimLeftFunc(lines[i], unicode.IsSpace)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[':
			end := strings.LastIndexByte(line, ']')
			if end < 0 {
				x.fail(n, section, "section header has no closing ]")
				continue
			}
			if rest := strings.TrimSpace(line[end+1:]); rest != "" && rest[0] != '#' && rest[0] != ';' {
				x.fail(n, section, "text after the section header: "+quote(rest))
			}
			if end == 1 {
				x.fail(n, section, "empty section name")
				continue
			}
			section = line[1:end]
			x.sections[section] = append(x.sections[section], n)
			continue
		}
		// ini.v1 sees each line with its newline, which matters to its
		// length checks for """.
		nl := 0
		if i < len(lines)-1 {
			nl = 1
		}
		key, rest, reason := splitKey(line, nl)
		if reason != "" {
			x.fail(n, section, reason)
			continue
		}
		if lowerKeys {
			key = strings.ToLower(key)
		}
		if x.keys[section] == nil {
			x.keys[section] = map[string][]int{}
		}
		x.keys[section][key] = append(x.keys[section][key], n)
		// A value opened with """ or ` and not closed on its line runs on
		// until a line holding the closing quote, as in ini.v1.
		rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
		q := ""
		switch {
		case len(rest)+nl > 3 && strings.HasPrefix(rest, `"""`):
			q = `"""`
		case strings.HasPrefix(rest, "`"):
			q = "`"
		}
		if q == "" || strings.Contains(rest[len(q):], q) {
			continue
		}
		closed := false
		for i+1 < len(lines) {
			i++
			if strings.Contains(lines[i], q) {
				closed = true
				break
			}
		}
		if !closed {
			x.fail(n, section, "quoted value is never closed")
		}
	}
	return x
}

// splitKey splits a key line as ini.v1 does: the key ends at the first = or
// :, unless it is quoted.
func splitKey(line string, nl int) (key, rest, reason string) {
	q := ""
	switch {
	case len(line)+nl > 6 && strings.HasPrefix(line, `"""`):
		q = `"""`
	case line[0] == '"':
		q = `"`
	case line[0] == '`':
		q = "`"
	}
	if q != "" {
		end := strings.Index(line[len(q):], q)
		if end < 0 {
			return "", "", "quoted key name is never closed"
		}
		end += len(q)
		d := strings.IndexAny(line[end+len(q):], "=:")
		if d < 0 {
			return "", "", "no = after the key " + quote(line[len(q):end])
		}
		key = strings.TrimSpace(line[len(q):end])
		rest = line[end+len(q)+d+1:]
	} else {
		d := strings.IndexAny(line, "=:")
		if d < 0 {
			return "", "", "not a section header, key = value or comment: " + quote(strings.TrimSpace(line))
		}
		key = strings.TrimSpace(line[:d])
		rest = line[d+1:]
	}
	switch key {
	case "":
		return "", "", "empty key name"
	case "-":
		return "", "", `key name "-" is not allowed`
	}
	return key, rest, ""
}

func quote(s string) string {
	const max = 60
	if len(s) > max {
		s = s[:max] + "..."
	}
	return "\"" + strings.ReplaceAll(s, "\"", "\\\"") + "\""
}

func (x *Index) fail(line int, section, reason string) {
	x.Errors = append(x.Errors, LineError{Line: line, Section: section, Reason: reason})
}

// Section returns the lines of the headers of section, in file order.
func (x *Index) Section(section string) []int { return x.sections[section] }

// Key returns the lines where key is set in section, in file order.
func (x *Index) Key(section, key string) []int { return x.keys[section][key] }

// KeyLine returns the first line where key is set in section, or 0.
func (x *Index) KeyLine(section, key string) int {
	if l := x.keys[section][key]; len(l) > 0 {
		return l[0]
	}
	return 0
}

// SectionLine returns the line of the first header of section, or 0.
func (x *Index) SectionLine(section string) int {
	if l := x.sections[section]; len(l) > 0 {
		return l[0]
	}
	return 0
}

// Duplicate is a section or key set more than once.
type Duplicate struct {
	Section string
	// Key is empty for a repeated section header.
	Key   string
	Lines []int
}

// Duplicates lists the sections and keys that appear more than once, by
// line of their second appearance.
func (x *Index) Duplicates() []Duplicate {
	var d []Duplicate
	for s, lines := range x.sections {
		if len(lines) > 1 {
			d = append(d, Duplicate{Section: s, Lines: lines})
		}
	}
	for s, keys := range x.keys {
		for k, lines := range keys {
			if len(lines) > 1 {
				d = append(d, Duplicate{Section: s, Key: k, Lines: lines})
			}
		}
	}
	slices.SortFunc(d, func(a, b Duplicate) int { return cmp.Compare(a.Lines[1], b.Lines[1]) })
	return d
}
