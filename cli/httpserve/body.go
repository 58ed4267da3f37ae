package httpserve

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// guardBody gives the body of each request that has one a read deadline of
// timeout, and answers requests whose handler did not read their body to
// the end without draining it: the response says "Connection: close" and
// the connection closes right after it.
//
// net/http would otherwise read up to 256 KiB of an unread body before
// writing the response (so a 401 waits for a client that sends one byte a
// second), and again after it. Requests without a body get no deadline:
// for them net/http already watches the connection for the client going
// away, and a deadline would end live streams.
func guardBody(h http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		// Errors here mean a writer that cannot set deadlines (not
		// net/http's); the request is served all the same.
		_ = rc.SetReadDeadline(time.Now().Add(timeout))
		b := &trackedBody{ReadCloser: r.Body, length: r.ContentLength}
		r.Body = b
		h.ServeHTTP(&closingWriter{ResponseWriter: w, body: b}, r)
		if !b.done() {
			// net/http closes the body after the response is sent,
			// reading what is left; a deadline in the past makes
			// that read fail at once, and the connection is closed.
			_ = rc.SetReadDeadline(time.Now())
		}
	})
}

// trackedBody is a request body that knows whether it was read to the end.
type trackedBody struct {
	io.ReadCloser
	length int64 // Content-Length, -1 when unknown (chunked)
	n      atomic.Int64
	eof    atomic.Bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	if errors.Is(err, io.EOF) {
		b.eof.Store(true)
	}
	return n, err
}

// done reports whether the whole body was read.
func (b *trackedBody) done() bool {
	return b.eof.Load() || b.length > 0 && b.n.Load() >= b.length
}

// closingWriter marks the response "Connection: close" when its header is
// written before the request's body was read to the end.
type closingWriter struct {
	http.ResponseWriter
	body  *trackedBody
	wrote bool
}

func (w *closingWriter) WriteHeader(code int) {
	if !w.wrote && code >= http.StatusOK {
		w.wrote = true
		if !w.body.done() {
			w.Header().Set("Connection", "close")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *closingWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Flush sends what was written so far, for handlers that stream.
func (w *closingWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach net/http's writer.
func (w *closingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
