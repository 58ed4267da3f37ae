package monitor

import (
	"bufio"
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fedora-fbs/fbs/tasks"
)

// stream serves the log of a build as Server-Sent Events: one event per run
// of lines as stored, with "id: N" where N is the number of the run's last
// line and a "data:" field per line (so the event's data is the lines joined
// by newlines), then an "end" event whose data is the build's final state.
// It starts after the line named by Last-Event-ID (what a reconnecting
// EventSource sends) or else by ?after=N, so a viewer that reconnects gets
// every line once. While Redis is unreachable the stream stays open and
// resumes where it was when Redis is back.
func (s *Server) stream(c *gin.Context) {
	id, err := buildID(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	after, err := lineNumber("after", c.Query("after"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if h := c.GetHeader("Last-Event-ID"); h != "" {
		if after, err = lineNumber("Last-Event-ID", h); err != nil {
			s.fail(c, err)
			return
		}
	}
	hctx, cancel := s.reqContext(c)
	if _, _, ok := s.readable(hctx, c, true); !ok {
		cancel()
		return
	}
	top, err := s.store.LastLogLine(hctx, id)
	cancel()
	if err != nil {
		s.fail(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)

	v, leave := s.subscribe(id, top)
	defer leave()
	f := &sseWriter{w: bufio.NewWriterSize(c.Writer, 64<<10), rw: c.Writer}
	f.write([]byte("retry: 2000\n\n"))
	f.flush()
	s.follow(c.Request.Context(), id, after, v, f)
}

// sseWriter buffers events and remembers the first write error: after it,
// the client is gone and the handler returns.
type sseWriter struct {
	w   *bufio.Writer
	rw  http.ResponseWriter
	err error
}

func (f *sseWriter) write(b []byte) {
	if f.err == nil {
		_, f.err = f.w.Write(b)
	}
}

func (f *sseWriter) flush() {
	if f.err == nil {
		f.err = f.w.Flush()
	}
	if f.err == nil {
		http.NewResponseController(f.rw).Flush()
	}
}

// follow sends the lines after line after until the stream ends, the
// client leaves or ctx ends. It alternates between catching up from Redis
// (at start, after a gap, after a Redis outage) and taking the hub's
// batches, which are shared by every viewer of the build.
func (s *Server) follow(ctx context.Context, id string, after int, v *viewer, f *sseWriter) {
	ka := time.NewTicker(s.cfg.KeepAlive)
	defer ka.Stop()
	retry := newBackoff()
	var buf []byte
	// endNoMarker is the final state the record gave while a catch-up
	// failed: it is sent once the catch-up succeeds.
	var endNoMarker tasks.State
	for f.err == nil {
		// Catch up from Redis.
		end, err := s.catchUp(ctx, id, &after, f, &buf)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Debug("monitor: SSE catch-up failed; retrying", "build", id, "err", err)
			f.write([]byte(": waiting for Redis\n\n"))
			f.flush()
			if !retry.wait(ctx) {
				return
			}
			continue
		}
		retry.reset()
		if end == "" {
			end = endNoMarker
		}
		if end != "" {
			f.write(appendEnd(nil, end))
			f.flush()
			return
		}
		f.flush()
		// Then take the hub's batches until one leaves a gap.
	live:
		for f.err == nil {
			select {
			case <-ctx.Done():
				return
			case <-ka.C:
				f.write([]byte(": keep-alive\n\n"))
				f.flush()
			case <-v.kick:
				break live
			case b := <-v.ch:
				if b.unmarked {
					// The record says the build ended: send what is left,
					// then the end.
					end, err := s.catchUp(ctx, id, &after, f, &buf)
					if err != nil {
						endNoMarker = b.end
						break live
					}
					if end == "" {
						end = b.end
					}
					f.write(appendEnd(nil, end))
					f.flush()
					return
				}
				i := sort.Search(len(b.runs), func(i int) bool { return b.runs[i].last > after })
				if i < len(b.runs) {
					if b.runs[i].first != after+1 {
						// A gap (lines we missed), or a run whose start
						// we have: both are in Redis.
						break live
					}
					f.write(b.enc[b.off[i]:])
					after = b.runs[len(b.runs)-1].last
				}
				if b.end != "" {
					f.write(appendEnd(nil, b.end))
					f.flush()
					return
				}
				if len(v.ch) == 0 {
					f.flush()
				}
			}
		}
	}
}

// ssePage caps the lines an SSE handler reads from Redis at once while it
// catches up (Config.LogPage may be larger, for full-log downloads and the
// hubs): a hundred viewers catching up at once each hold one page, so this
// bounds the monitor's memory under a flood.
const ssePage = 1000

// page is how many lines an SSE handler reads from Redis at once.
func (s *Server) page() int { return min(s.cfg.LogPage, ssePage) }

// catchUp sends every line after *after that Redis holds now, a page at a
// time, and returns the final state if the stream has ended.
func (s *Server) catchUp(ctx context.Context, id string, after *int, f *sseWriter, buf *[]byte) (tasks.State, error) {
	for f.err == nil {
		chunks, end, err := s.store.ReadLogChunks(ctx, id, *after, int64(s.page()), 0)
		if err != nil {
			return "", err
		}
		n := 0
		for _, c := range chunks {
			*buf = appendEvent((*buf)[:0], c)
			f.write(*buf)
			*after = c.Last
			n += c.Last - c.First + 1
		}
		if end != "" || n < s.page() {
			return end, nil
		}
	}
	return "", f.err
}
