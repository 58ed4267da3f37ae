package webapp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/fedora-fbs/fbs/conf/spec"
	"github.com/fedora-fbs/fbs/kickstarts"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// Stable error codes of the API; clients may switch on them.
const (
	CodeBadRequest      = "bad_request"       // malformed JSON, form or multipart
	CodeInvalid         = "invalid"           // a field's value is not acceptable
	CodeInvalidSpec     = "invalid_spec"      // the INI spec does not parse
	CodeInvalidKS       = "invalid_kickstart" // the kickstart does not parse or flatten
	CodeKSFetch         = "kickstart_fetch"   // a kickstart URL cannot be fetched
	CodeUnauthenticated = "unauthenticated"   // no credentials
	CodeBadToken        = "bad_token"         // unknown token
	CodeTokenRevoked    = "token_revoked"
	CodeTokenExpired    = "token_expired"
	CodeCSRF            = "csrf"      // missing or wrong CSRF token
	CodeForbidden       = "forbidden" // signed in but not allowed
	CodeNotFound        = "not_found"
	CodeFinished        = "build_finished" // cancel of a build that ended
	CodeConflict        = "conflict"
	CodeTooLarge        = "too_large"    // body or upload over the limits
	CodeRateLimited     = "rate_limited" // too many submissions
	CodeInternal        = "internal"
)

// Error is the JSON body of every API error.
type Error struct {
	// Code is one of the Code* constants.
	Code string `json:"code"`
	// Message says what is wrong, for people.
	Message string `json:"message"`
	// Field names the input at fault: a JSON field ("spec.arch"), a form
	// field ("arch"), a spec key ("[boot] version") or a file name.
	Field string `json:"field,omitempty"`
}

// Error gives "field: message".
func (e *Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// problem is an error raised by the web app itself with its HTTP status.
type problem struct {
	status int
	body   Error
}

func (p *problem) Error() string { return p.body.Error() }

// invalid is a bad field value (422).
func invalid(field, format string, args ...any) error {
	return &problem{http.StatusUnprocessableEntity, Error{CodeInvalid, fmt.Sprintf(format, args...), field}}
}

// badRequest is a request that cannot be read at all (400).
func badRequest(field, format string, args ...any) error {
	return &problem{http.StatusBadRequest, Error{CodeBadRequest, fmt.Sprintf(format, args...), field}}
}

// tooLarge is a body or upload over the limits (413).
func tooLarge(field, format string, args ...any) error {
	return &problem{http.StatusRequestEntityTooLarge, Error{CodeTooLarge, fmt.Sprintf(format, args...), field}}
}

var (
	errUnauthenticated = &problem{http.StatusUnauthorized, Error{Code: CodeUnauthenticated,
		Message: "sign in, or send an API token as \"Authorization: Bearer TOKEN\""}}
	errCSRF = &problem{http.StatusForbidden, Error{Code: CodeCSRF,
		Message: "missing or wrong CSRF token: reload the page and try again", Field: "csrf"}}
	errNotAllowedToSubmit = &problem{http.StatusForbidden, Error{Code: CodeForbidden,
		Message: "your account is not in the group allowed to submit builds"}}
	errNotYours = &problem{http.StatusForbidden, Error{Code: CodeForbidden,
		Message: "this build belongs to someone else"}}
)

// rateLimited is a submission over the per-user limit (429).
type rateLimited struct {
	retryAfter int // seconds
	limit      int
	window     string
}

func (r *rateLimited) Error() string {
	return fmt.Sprintf("at most %d submissions per %s: try again in %d s", r.limit, r.window, r.retryAfter)
}

// toHTTP is the one place where errors become HTTP statuses and API error
// bodies. Unexpected errors become 500 with a message that reveals nothing.
func toHTTP(err error) (int, Error) {
	var (
		p  *problem
		se spec.Errors
		pe *kickstarts.ParseError
		fe *kickstarts.FetchError
		mb *http.MaxBytesError
		rl *rateLimited
	)
	switch {
	case errors.As(err, &p):
		return p.status, p.body
	case errors.As(err, &se) && len(se) > 0:
		msgs := make([]string, len(se))
		for i, e := range se {
			msgs[i] = e.Error()
		}
		return http.StatusUnprocessableEntity, Error{CodeInvalidSpec, strings.Join(msgs, "\n"), specField(se[0])}
	case errors.As(err, &fe):
		return http.StatusUnprocessableEntity, Error{CodeKSFetch, err.Error(), "kickstart"}
	case errors.As(err, &pe), errors.Is(err, kickstarts.ErrNotFound), errors.Is(err, kickstarts.ErrRefused),
		errors.Is(err, kickstarts.ErrLimit):
		return http.StatusUnprocessableEntity, Error{CodeInvalidKS, err.Error(), "kickstart"}
	case errors.As(err, &mb):
		return http.StatusRequestEntityTooLarge, Error{CodeTooLarge, fmt.Sprintf("request body over %d bytes", mb.Limit), ""}
	case errors.As(err, &rl):
		return http.StatusTooManyRequests, Error{CodeRateLimited, rl.Error(), ""}
	case errors.Is(err, auth.ErrUnknownToken):
		return http.StatusUnauthorized, Error{CodeBadToken, "unknown API token", "Authorization"}
	case errors.Is(err, auth.ErrRevokedToken):
		return http.StatusUnauthorized, Error{CodeTokenRevoked, "this API token was revoked", "Authorization"}
	case errors.Is(err, auth.ErrExpiredToken):
		return http.StatusUnauthorized, Error{CodeTokenExpired, "this API token has expired", "Authorization"}
	case errors.Is(err, auth.ErrNoSession):
		return http.StatusUnauthorized, Error{CodeUnauthenticated, "your session has ended: sign in again", ""}
	case errors.Is(err, builds.ErrNotFound):
		return http.StatusNotFound, Error{CodeNotFound, "no such build", "id"}
	case errors.Is(err, client.ErrFinished):
		return http.StatusConflict, Error{CodeFinished, err.Error(), "id"}
	case errors.Is(err, builds.ErrConflict):
		return http.StatusConflict, Error{CodeConflict, "the build changed meanwhile: try again", "id"}
	}
	return http.StatusInternalServerError, Error{CodeInternal, "internal error: see the server's log", ""}
}

// specField names where a spec error is: "[boot] version", "[DEFAULT]
// arch", or the file.
func specField(e *spec.Error) string {
	switch {
	case e.Section != "" && e.Key != "":
		return "[" + e.Section + "] " + e.Key
	case e.Section != "":
		return "[" + e.Section + "]"
	case e.Key != "":
		return e.Key
	}
	return "spec"
}
