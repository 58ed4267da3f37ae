// Package httperr is the HTTP side of fbs's error contract, shared by both
// listeners (`fbs web`, `fbs monitor`, and `fbs serve`, which mounts both
// under one /api/v1): the one table from a tasks.Error code to an HTTP
// status, and the one JSON body of every API error,
//
//	{"code": "not_found", "message": "build not found", "field": "id"}
//
// with "field" left out when no one input is at fault, and "details" listing
// every problem when a request had several. Domain errors carry their code
// and know nothing of HTTP; From gives a code to the errors that have none
// (the build store's, a Redis that cannot be reached, anything unexpected).
// It needs net/http alone, not gin.
package httperr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

// Status is the HTTP status of code: the one table from the domain's codes
// to statuses. An unknown code is a 500.
func Status(code string) int {
	switch code {
	case tasks.CodeBadRequest:
		return http.StatusBadRequest
	case tasks.CodeUnauthenticated, tasks.CodeBadToken, tasks.CodeTokenRevoked, tasks.CodeTokenExpired:
		return http.StatusUnauthorized
	case tasks.CodeCSRF, tasks.CodeForbidden:
		return http.StatusForbidden
	case tasks.CodeNotFound:
		return http.StatusNotFound
	case tasks.CodeConflict, tasks.CodeFinished:
		return http.StatusConflict
	case tasks.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case tasks.CodeInvalid, tasks.CodeInvalidSpec, tasks.CodeInvalidKickstart, tasks.CodeKickstartFetch:
		return http.StatusUnprocessableEntity
	case tasks.CodeRateLimited:
		return http.StatusTooManyRequests
	case tasks.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Messages of the errors From gives a code to.
const (
	msgNotFound    = "build not found"
	msgUnavailable = "Redis is unavailable; try again shortly"
	msgInternal    = "internal error: see the server's log"
)

// From returns err as a tasks.Error: itself (or the first of tasks.Errors)
// when it is one; not_found and conflict for the build store's errors;
// too_large for a body over http.MaxBytesReader's limit; unavailable when
// Redis (or the network to it) cannot be reached; else internal, with a
// message that reveals nothing.
func From(err error) *tasks.Error {
	var (
		te *tasks.Error
		mb *http.MaxBytesError
	)
	switch {
	case errors.As(err, &te):
		return te
	case errors.Is(err, builds.ErrNotFound):
		return tasks.Errorf(tasks.CodeNotFound, "id", msgNotFound)
	case errors.Is(err, builds.ErrConflict):
		return tasks.Errorf(tasks.CodeConflict, "id", "the build changed meanwhile: try again")
	case errors.As(err, &mb):
		return tasks.Errorf(tasks.CodeTooLarge, "", "request body over %d bytes", mb.Limit)
	case Unavailable(err):
		return tasks.Errorf(tasks.CodeUnavailable, "", msgUnavailable)
	}
	return tasks.Errorf(tasks.CodeInternal, "", msgInternal)
}

// Unavailable reports whether err says Redis cannot be reached or cannot
// serve yet: a network error, a closed client, a pool or request that timed
// out, a server still loading its data (LOADING, just after a restart on
// its append-only file), a read-only replica (READONLY, during a
// failover), or a transaction refused for such an error (EXECABORT: fbs's
// transactions hold no command Redis would refuse otherwise).
func Unavailable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || redis.IsLoadingError(err) || redis.IsReadOnlyError(err) ||
		redis.HasErrorPrefix(err, "EXECABORT") || redis.HasErrorPrefix(err, "MASTERDOWN")
}

// NotFound is a not_found error about field.
func NotFound(field, format string, args ...any) *tasks.Error {
	return tasks.Errorf(tasks.CodeNotFound, field, format, args...)
}

// Body is the JSON of an error answer.
type Body struct {
	tasks.Error
	// Details lists every problem when there were several, the first of
	// which is the body's own code, message and field.
	Details []*tasks.Error `json:"details,omitempty"`
}

// BodyOf returns the answer to err, classified by From, and its status.
func BodyOf(err error) (int, Body) {
	b := Body{Error: *From(err)}
	var list tasks.Errors
	if errors.As(err, &list) && len(list) > 1 {
		b.Details = list
	}
	return Status(b.Code), b
}

// Write answers with err as JSON: its status and Body. It is not cached,
// and says which kind of credentials an unauthenticated request lacks.
func Write(w http.ResponseWriter, err error) int {
	status, b := BodyOf(err)
	WriteBody(w, status, b)
	return status
}

// WriteBody writes b with status.
func WriteBody(w http.ResponseWriter, status int, b Body) {
	data, err := json.Marshal(b)
	if err != nil {
		data = fmt.Appendf(nil, `{"code":%q,"message":%q}`, tasks.CodeInternal, msgInternal)
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="fbs"`)
	}
	w.WriteHeader(status)
	// A failed write is a client gone away: there is nobody left to tell.
	_, _ = w.Write(data)
}
