package webapp

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/fedora-fbs/fbs/conf/spec"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/tasks/httperr"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// Stable error codes of the API; clients may switch on them. They are the
// domain's codes (tasks.Code*), each with one HTTP status (tasks/httperr).
const (
	CodeBadRequest      = tasks.CodeBadRequest       // malformed JSON, form or multipart
	CodeInvalid         = tasks.CodeInvalid          // a field's value is not acceptable
	CodeInvalidSpec     = tasks.CodeInvalidSpec      // the INI spec does not parse
	CodeInvalidKS       = tasks.CodeInvalidKickstart // the kickstart does not parse or flatten
	CodeKSFetch         = tasks.CodeKickstartFetch   // a kickstart URL cannot be fetched
	CodeUnauthenticated = tasks.CodeUnauthenticated  // no credentials
	CodeBadToken        = tasks.CodeBadToken         // unknown token
	CodeTokenRevoked    = tasks.CodeTokenRevoked
	CodeTokenExpired    = tasks.CodeTokenExpired
	CodeCSRF            = tasks.CodeCSRF      // missing or wrong CSRF token
	CodeForbidden       = tasks.CodeForbidden // signed in but not allowed
	CodeNotFound        = tasks.CodeNotFound
	CodeFinished        = tasks.CodeFinished // cancel of a build that ended
	CodeConflict        = tasks.CodeConflict
	CodeTooLarge        = tasks.CodeTooLarge    // body or upload over the limits
	CodeRateLimited     = tasks.CodeRateLimited // too many submissions
	CodeUnavailable     = tasks.CodeUnavailable // Redis cannot be reached
	CodeInternal        = tasks.CodeInternal
)

// Error is the JSON body of every API error: a code, a message and the
// input at fault, a JSON field ("spec.arch"), a form field ("arch"), a spec
// key ("[boot] version") or a file name.
type Error = tasks.Error

// invalid is a bad field value (422).
func invalid(field, format string, args ...any) error {
	return tasks.Invalid(field, format, args...)
}

// badRequest is a request that cannot be read at all (400).
func badRequest(field, format string, args ...any) error {
	return tasks.Errorf(CodeBadRequest, field, format, args...)
}

// tooLarge is a body or upload over the limits (413).
func tooLarge(field, format string, args ...any) error {
	return tasks.Errorf(CodeTooLarge, field, format, args...)
}

var (
	errUnauthenticated = tasks.Errorf(CodeUnauthenticated, "",
		"sign in, or send an API token as \"Authorization: Bearer TOKEN\"")
	errCSRF = tasks.Errorf(CodeCSRF, "csrf",
		"missing or wrong CSRF token: reload the page and try again")
	errNotAllowedToSubmit = tasks.Errorf(CodeForbidden, "",
		"your account is not in the group allowed to submit builds")
	errNotYours = tasks.Errorf(CodeForbidden, "",
		"this build belongs to someone else")
	errNotBearer = tasks.Errorf(CodeBadToken, "Authorization", "Authorization must be \"Bearer TOKEN\"")
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

// toHTTP gives err its code (the web app's own errors here, the rest in
// httperr.From) and the status and body of its answer, which
// tasks/httperr writes for the API and the error page shows otherwise.
// Unexpected errors become 500 with a message that reveals nothing.
func toHTTP(err error) (int, httperr.Body) {
	if e := classify(err); e != nil {
		return httperr.Status(e.Code), httperr.Body{Error: *e}
	}
	return httperr.BodyOf(err)
}

// classify gives a code to the errors of the packages only the web app
// uses, or returns nil.
func classify(err error) *tasks.Error {
	var (
		te *tasks.Error
		se spec.Errors
		rl *rateLimited
	)
	switch {
	case errors.As(err, &te):
		return nil // coded already
	case errors.As(err, &se) && len(se) > 0:
		return &Error{Code: CodeInvalidSpec, Message: se.Error(), Field: se[0].Where()}
	case errors.As(err, &rl):
		return tasks.Errorf(CodeRateLimited, "", "%s", rl.Error())
	case errors.Is(err, auth.ErrUnknownToken):
		return tasks.Errorf(CodeBadToken, "Authorization", "unknown API token")
	case errors.Is(err, auth.ErrRevokedToken):
		return tasks.Errorf(CodeTokenRevoked, "Authorization", "this API token was revoked")
	case errors.Is(err, auth.ErrExpiredToken):
		return tasks.Errorf(CodeTokenExpired, "Authorization", "this API token has expired")
	case errors.Is(err, auth.ErrNoSession):
		return tasks.Errorf(CodeUnauthenticated, "", "your session has ended: sign in again")
	case errors.Is(err, client.ErrFinished):
		return tasks.Errorf(CodeFinished, "id", "%s", err.Error())
	}
	return nil
}

// logged reports whether a failure with status is the server's, which it
// logs, rather than the request's.
func logged(status int) bool { return status >= http.StatusInternalServerError }
