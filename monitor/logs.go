package monitor

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// lineNumber parses a line number given by a client (?since=, ?after=,
// Last-Event-ID).
func lineNumber(what, v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badRequest("%s must be a line number (0 or more)", what)
	}
	return n, nil
}

// fullLog serves the log as text/plain, one line per stream entry, read
// from Redis a page at a time so memory stays bounded however long the log
// is. ?since=N starts after line N. A single byte range (Range: bytes=a-b,
// a- or -n) is honoured against the log as it stands when the request
// arrives; the lines added after that are not part of this response.
func (s *Server) fullLog(c *gin.Context) {
	id, err := buildID(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	since, err := lineNumber("since", c.Query("since"))
	if err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	hctx, cancel := s.reqContext(c)
	defer cancel()
	if _, _, ok := s.readable(hctx, c, true); !ok {
		return
	}
	top, err := s.store.LastLogLine(hctx, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Accept-Ranges", "bytes")
	h.Set("X-Log-Last-Line", strconv.Itoa(top))

	rng, ok := parseRange(c.GetHeader("Range"))
	if !ok {
		bw := bufio.NewWriterSize(c.Writer, 64<<10)
		c.Status(http.StatusOK)
		if err := s.copyLog(ctx, id, since, top, 0, -1, bw); err != nil {
			s.abortStream(c, err)
			return
		}
		bw.Flush()
		return
	}
	total, err := s.logSize(ctx, id, since, top)
	if err != nil {
		s.fail(c, err)
		return
	}
	first, last, ok := rng.resolve(total)
	if !ok {
		h.Set("Content-Range", fmt.Sprintf("bytes */%d", total))
		c.Data(http.StatusRequestedRangeNotSatisfiable, "text/plain; charset=utf-8", []byte("range not satisfiable\n"))
		return
	}
	h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, total))
	h.Set("Content-Length", strconv.FormatInt(last-first+1, 10))
	c.Status(http.StatusPartialContent)
	bw := bufio.NewWriterSize(c.Writer, 64<<10)
	if err := s.copyLog(ctx, id, since, top, first, last-first+1, bw); err != nil {
		s.abortStream(c, err)
		return
	}
	bw.Flush()
}

// abortStream ends a response whose status is already sent: the client sees
// a truncated body (no terminating chunk), never a silently short log.
func (s *Server) abortStream(c *gin.Context, err error) {
	if c.Request.Context().Err() == nil {
		s.log.Error("monitor: log download failed", "path", c.Request.URL.EscapedPath(), "err", err)
	}
	panic(http.ErrAbortHandler)
}

// copyLog writes the lines after since up to top, skipping the first skip
// bytes and stopping after limit bytes (limit < 0: no limit).
func (s *Server) copyLog(ctx context.Context, id string, since, top int, skip, limit int64, w io.Writer) error {
	after := since
	for after < top && limit != 0 {
		lines, _, err := s.store.ReadLog(ctx, id, after, int64(min(s.cfg.LogPage, top-after)), 0)
		if err != nil {
			return err
		}
		if len(lines) == 0 {
			return nil
		}
		for _, l := range lines {
			if l.N > top {
				return nil
			}
			after = l.N
			n := int64(len(l.Text) + 1)
			if skip >= n {
				skip -= n
				continue
			}
			var err error
			if skip == 0 && (limit < 0 || n <= limit) {
				// The common case: the whole line, without copying it.
				if _, err = io.WriteString(w, l.Text); err == nil {
					_, err = io.WriteString(w, "\n")
				}
			} else {
				text := (l.Text + "\n")[skip:]
				if limit >= 0 && int64(len(text)) > limit {
					text = text[:limit]
				}
				n = int64(len(text))
				_, err = io.WriteString(w, text)
			}
			skip = 0
			if err != nil {
				return fmt.Errorf("send log of build %s: %w", id, err)
			}
			if limit >= 0 {
				limit -= n
				if limit == 0 {
					return nil
				}
			}
		}
	}
	return nil
}

// logSize is the byte length of the text copyLog writes for since and top.
func (s *Server) logSize(ctx context.Context, id string, since, top int) (int64, error) {
	var total int64
	after := since
	for after < top {
		lines, _, err := s.store.ReadLog(ctx, id, after, int64(min(s.cfg.LogPage, top-after)), 0)
		if err != nil {
			return 0, err
		}
		if len(lines) == 0 {
			break
		}
		for _, l := range lines {
			if l.N > top {
				return total, nil
			}
			total += int64(len(l.Text) + 1)
			after = l.N
		}
	}
	return total, nil
}

// byteRange is one range of a Range header: first-last, first- (last < 0)
// or the suffix -n (first < 0, last = n).
type byteRange struct{ first, last int64 }

// parseRange accepts a single byte range; anything else (several ranges,
// another unit, bad syntax) is ignored, as RFC 9110 allows, and the whole
// log is served.
func parseRange(h string) (byteRange, bool) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return byteRange{}, false
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return byteRange{}, false
	}
	num := func(s string) (int64, bool) {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil && n >= 0
	}
	switch {
	case a == "" && b == "":
		return byteRange{}, false
	case a == "":
		n, ok := num(b)
		return byteRange{first: -1, last: n}, ok
	case b == "":
		n, ok := num(a)
		return byteRange{first: n, last: -1}, ok
	}
	f, ok1 := num(a)
	l, ok2 := num(b)
	return byteRange{first: f, last: l}, ok1 && ok2 && f <= l
}

// resolve gives the first and last byte of r in a body of total bytes, or
// false when r is not satisfiable.
func (r byteRange) resolve(total int64) (first, last int64, ok bool) {
	switch {
	case r.first < 0: // suffix
		if r.last == 0 || total == 0 {
			return 0, 0, false
		}
		return max(total-r.last, 0), total - 1, true
	case r.first >= total:
		return 0, 0, false
	case r.last < 0 || r.last >= total:
		return r.first, total - 1, true
	}
	return r.first, r.last, true
}
