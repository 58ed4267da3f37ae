package monitor

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

// hubBlock is how long a hub's blocking read waits for new lines before it
// looks at the build record, to end streams of builds that ended without an
// end marker (for example reaped by hand).
const hubBlock = 2 * time.Second

// batch is what a hub fans out: runs of lines read in one go from the
// stream, in order, with their SSE encoding made once for every viewer.
type batch struct {
	// runs holds the line numbers of each run (their text is only in enc:
	// queued batches are what a flood costs the monitor in memory).
	runs []lineRange
	// enc holds the SSE events of all runs; off[i] is where run i's starts.
	enc []byte
	off []int
	// end is the build's final state when the stream ended after lines.
	end tasks.State
	// unmarked is set when end comes from the build record, not from an
	// end marker: the viewer reads what is left from Redis first.
	unmarked bool
}

// lineRange is the first and last line numbers of a run of lines.
type lineRange struct{ first, last int }

// hub reads the stream of one build once, however many viewers follow it,
// and hands each batch of new lines to all of them. A viewer that falls
// behind is not waited for: it is told to catch up from Redis itself.
type hub struct {
	s    *Server
	id   string
	subs map[*viewer]struct{} // guarded by s.hubsMu
	stop context.CancelFunc
}

// viewer is one SSE client's subscription to a hub.
type viewer struct {
	ch chan *batch
	// kick is signalled when a batch could not be delivered.
	kick chan struct{}
}

// viewerQueue is how many batches a viewer may have pending before it is
// left to catch up from Redis.
const viewerQueue = 16

// subscribe attaches a viewer to the hub of build id, starting the hub if
// nobody watched the build yet. A new hub reads the lines after start,
// the stream's last line as the viewer saw it before catching up, so no
// line falls between the viewer's catch-up and the hub's first batch. The
// returned function detaches the viewer and stops the hub when it was the
// last one.
func (s *Server) subscribe(id string, start int) (*viewer, func()) {
	v := &viewer{ch: make(chan *batch, viewerQueue), kick: make(chan struct{}, 1)}
	s.hubsMu.Lock()
	defer s.hubsMu.Unlock()
	if s.closed {
		// No more feeds: the viewer catches up from Redis when kicked,
		// and the server is going away anyway.
		return v, func() {}
	}
	h := s.hubs[id]
	if h == nil {
		ctx, cancel := context.WithCancel(context.Background())
		h = &hub{s: s, id: id, subs: map[*viewer]struct{}{}, stop: cancel}
		s.hubs[id] = h
		s.hubsWG.Add(1)
		go func() {
			defer s.hubsWG.Done()
			h.relay(ctx, start)
		}()
	}
	h.subs[v] = struct{}{}
	return v, func() {
		s.hubsMu.Lock()
		defer s.hubsMu.Unlock()
		delete(h.subs, v)
		if len(h.subs) == 0 && s.hubs[id] == h {
			delete(s.hubs, id)
			h.stop()
		}
	}
}

// Close stops the log hubs and waits for them. Call it after the HTTP
// server serving the routes has shut down; it is safe to call twice.
func (s *Server) Close() error {
	s.hubsMu.Lock()
	s.closed = true
	for id, h := range s.hubs {
		h.stop()
		delete(s.hubs, id)
	}
	s.hubsMu.Unlock()
	s.hubsWG.Wait()
	return nil
}

// relay reads the build's stream from after line pos and broadcasts each
// batch, until the stream ends, the build is final or ctx is done.
func (h *hub) relay(ctx context.Context, pos int) {
	backoff := newBackoff()
	for {
		chunks, end, err := h.s.store.ReadLogChunks(ctx, h.id, pos, int64(h.s.cfg.LogPage), hubBlock)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			h.s.log.Debug("monitor: log hub read failed; retrying", "build", h.id, "err", err)
			if !backoff.wait(ctx) {
				return
			}
			continue
		}
		backoff.reset()
		if len(chunks) == 0 && end == "" {
			// Idle: a build may have ended without an end marker.
			b, err := h.s.store.Get(ctx, h.id)
			if err == nil && b.State.Final() {
				h.broadcast(&batch{end: b.State, unmarked: true})
				return
			}
			continue
		}
		h.broadcast(encode(chunks, end))
		if end != "" {
			return
		}
		pos = chunks[len(chunks)-1].Last
	}
}

func (h *hub) broadcast(b *batch) {
	h.s.hubsMu.Lock()
	defer h.s.hubsMu.Unlock()
	for v := range h.subs {
		select {
		case v.ch <- b:
		default:
			select {
			case v.kick <- struct{}{}:
			default:
			}
		}
	}
}

// encode makes the SSE events of runs of lines, and an end event carrying
// the final state.
func encode(chunks []builds.LogChunk, end tasks.State) *batch {
	b := &batch{runs: make([]lineRange, len(chunks)), end: end, off: make([]int, len(chunks))}
	size := 0
	for _, c := range chunks {
		size += len(c.Text) + 8*(c.Last-c.First+1) + 16
	}
	b.enc = make([]byte, 0, size)
	for i, c := range chunks {
		b.runs[i] = lineRange{c.First, c.Last}
		b.off[i] = len(b.enc)
		b.enc = appendEvent(b.enc, c)
	}
	return b
}

// appendEvent makes the SSE event of a run of lines: "id: N" with N the
// run's last line, then one data field per line, so the event's data is the
// run's lines joined by newlines.
func appendEvent(dst []byte, c builds.LogChunk) []byte {
	dst = append(dst, "id: "...)
	dst = strconv.AppendInt(dst, int64(c.Last), 10)
	dst = append(dst, '\n')
	text := c.Text
	for {
		i := strings.IndexByte(text, '\n')
		line := text
		if i >= 0 {
			line = text[:i]
		}
		dst = append(dst, "data: "...)
		dst = append(dst, sseText(line)...)
		dst = append(dst, '\n')
		if i < 0 {
			return append(dst, '\n')
		}
		text = text[i+1:]
	}
}

func appendEnd(dst []byte, st tasks.State) []byte {
	return append(append(append(dst, "event: end\ndata: "...), st...), "\n\n"...)
}

// sseText makes a log line fit in one SSE data field, which ends at CR or
// LF: like a terminal, a carriage return overwrites what came before it
// (progress bars), so only the text after the last one is kept.
func sseText(s string) string {
	if i := strings.LastIndexByte(s, '\r'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// backoff spaces out retries against an unreachable Redis.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 50 * time.Millisecond} }

func (b *backoff) reset() { b.d = 50 * time.Millisecond }

// wait sleeps for the current delay and doubles it (up to 2 s); it returns
// false when ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.d)
	defer t.Stop()
	b.d = min(2*b.d, 2*time.Second)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
