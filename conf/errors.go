package conf

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error is one problem with the configuration.
type Error struct {
	// File and Line say where the value was read; Line is 0 when unknown.
	File string
	Line int
	// Env is the environment variable the value came from, if it did.
	Env          string
	Section, Key string
	Reason       string
}

// Error formats e as "fbs.conf:12: [worker] concurrency: reason" or
// "$FBS_WORKER_CONCURRENCY: [worker] concurrency: reason".
func (e *Error) Error() string {
	var where []string
	switch {
	case e.Env != "":
		where = append(where, "$"+e.Env)
	case e.File != "" && e.Line > 0:
		where = append(where, fmt.Sprintf("%s:%d", e.File, e.Line))
	case e.File != "":
		where = append(where, e.File)
	}
	switch {
	case e.Section != "" && e.Key != "":
		where = append(where, fmt.Sprintf("[%s] %s", name(e.Section), name(e.Key)))
	case e.Section != "":
		where = append(where, "["+name(e.Section)+"]")
	case e.Key != "":
		where = append(where, name(e.Key))
	}
	return strings.Join(append(where, e.Reason), ": ")
}

// Errors is every problem found; Load returns it as its error.
type Errors []*Error

// Error formats the errors one per line.
func (e Errors) Error() string {
	s := make([]string, len(e))
	for i, err := range e {
		s[i] = err.Error()
	}
	return strings.Join(s, "\n")
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
