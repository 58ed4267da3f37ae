package kickstarts

import (
	"errors"
	"fmt"
)

// ErrNotFound is wrapped by every error for a kickstart or %include target
// that does not exist (file, standard name or URL answering 404).
var ErrNotFound = errors.New("not found")

// ErrRefused is wrapped by every error for an %include or URL the safety
// rules forbid: an absolute path, a ".." or symlink escape when confined, a
// scheme that is not http, https or ftp, or a private address.
var ErrRefused = errors.New("refused")

// ErrLimit is wrapped when input exceeds a bound: include depth, total size,
// line length or number of includes.
var ErrLimit = errors.New("limit exceeded")

var (
	errTrailingBackslash = errors.New("line ends in a backslash (kickstart has no continuation lines)")
	errNoClosingQuote    = errors.New("no closing quotation")
)

// ParseError is a problem at a place in a kickstart: a syntax error, a
// removed command, an include that failed. Err, when set, is the cause
// (ErrNotFound, ErrRefused, a *FetchError...).
type ParseError struct {
	File string
	Line int
	Msg  string
	Err  error
}

// Error gives "file:line: message: cause".
func (e *ParseError) Error() string {
	msg := e.Msg
	if e.Err != nil {
		if msg == "" {
			msg = e.Err.Error()
		} else {
			msg += ": " + e.Err.Error()
		}
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, msg)
	}
	return fmt.Sprintf("%s: %s", e.File, msg)
}

// Unwrap gives the cause, for errors.Is and errors.As.
func (e *ParseError) Unwrap() error { return e.Err }

// FetchError is a failed URL fetch: the URL and why.
type FetchError struct {
	URL string
	Err error
}

// Error gives "fetch URL: cause".
func (e *FetchError) Error() string { return fmt.Sprintf("fetch %s: %v", e.URL, e.Err) }

// Unwrap gives the cause, for errors.Is and errors.As.
func (e *FetchError) Unwrap() error { return e.Err }
