package tasks

import (
	"fmt"
	"strings"
)

// Error codes: what kind of failure an Error is. They are stable strings
// that API clients may switch on; the HTTP layer (tasks/httperr) maps each
// to a status, and nothing else in fbs knows about statuses.
const (
	CodeInvalid          = "invalid"           // a field's value is not acceptable
	CodeBadRequest       = "bad_request"       // malformed JSON, form or multipart
	CodeInvalidSpec      = "invalid_spec"      // the INI spec does not parse
	CodeInvalidKickstart = "invalid_kickstart" // the kickstart does not parse or flatten
	CodeKickstartFetch   = "kickstart_fetch"   // a kickstart URL cannot be fetched
	CodeNotFound         = "not_found"
	CodeConflict         = "conflict"
	CodeFinished         = "build_finished" // cancel of a build that ended
	CodeUnavailable      = "unavailable"    // a dependency (Redis) cannot be reached
	CodeUnauthenticated  = "unauthenticated"
	CodeBadToken         = "bad_token" // unknown API token
	CodeTokenRevoked     = "token_revoked"
	CodeTokenExpired     = "token_expired"
	CodeCSRF             = "csrf" // missing or wrong CSRF token
	CodeForbidden        = "forbidden"
	CodeTooLarge         = "too_large"    // body or upload over the limits
	CodeRateLimited      = "rate_limited" // too many submissions
	CodeInternal         = "internal"
)

// Error is a domain error: a code saying what kind of failure it is, a
// message for people, and the field at fault. Field is a field path in the
// spec's vocabulary (see Spec.Validate) until an adapter maps it to the
// name its user knows (a form field, a JSON path, an INI key).
type Error struct {
	// Code is one of the Code* constants.
	Code string `json:"code"`
	// Message says what is wrong, for people.
	Message string `json:"message"`
	// Field names the input at fault; empty when it is not one field.
	Field string `json:"field,omitempty"`
}

// Error gives "field: message".
func (e *Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Errorf returns an Error of code about field.
func Errorf(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Field: field}
}

// Invalid returns an invalid-value Error about field.
func Invalid(field, format string, args ...any) *Error {
	return Errorf(CodeInvalid, field, format, args...)
}

// Errors is every problem of one request, in the order of its fields.
type Errors []*Error

// Error joins the problems with "; ".
func (e Errors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap lets errors.As find the first problem.
func (e Errors) Unwrap() []error {
	out := make([]error, len(e))
	for i, err := range e {
		out[i] = err
	}
	return out
}

// Err returns e as an error, or nil when it is empty.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}
