package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
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
