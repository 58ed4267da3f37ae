package monitor

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

// pipeWriter is an http.ResponseWriter whose body is a pipe, so a test
// reads each event as the handler flushes it.
type pipeWriter struct {
	w *io.PipeWriter
	h http.Header
}

func (p *pipeWriter) Header() http.Header         { return p.h }
func (p *pipeWriter) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *pipeWriter) WriteHeader(int)             {}
func (p *pipeWriter) Flush()                      {}

// TestFollowRunBoundaries feeds a viewer hub batches whose runs do not
// always start where the viewer stands: runs it has (skipped), a run it
// has the start of and a run after a gap (it reads from Redis, which holds
// what it misses), and the run that follows its last line (taken from the
// batch as encoded for every viewer).
func TestFollowRunBoundaries(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := New(redistest.Start(t).Client(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	id := tasks.NewBuildID()
	text := func(first, last int) string {
		var b strings.Builder
		for n := first; n <= last; n++ {
			b.WriteString("line " + string(rune('a'+n)) + "\n")
		}
		return b.String()
	}
	run := func(first, last int) builds.LogChunk {
		return builds.LogChunk{First: first, Last: last, Text: strings.TrimSuffix(text(first, last), "\n")}
	}
	event := func(last int, lines string) string {
		return "id: " + strconv.Itoa(last) + "\ndata: " +
			strings.ReplaceAll(strings.TrimSuffix(lines, "\n"), "\n", "\ndata: ") + "\n\n"
	}
	if _, err := s.store.AppendLogText(ctx, id, 1, []byte(text(1, 9)), 0); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	defer pr.Close()
	v := &viewer{ch: make(chan *batch, 8), kick: make(chan struct{}, 1)}
	go func() {
		f := &sseWriter{w: bufio.NewWriter(&pipeWriter{w: pw, h: http.Header{}}), rw: &pipeWriter{w: pw, h: http.Header{}}}
		s.follow(ctx, id, 3, v, f)
		pw.Close()
	}()
	r := bufio.NewReader(pr)
	expect := func(want string) {
		t.Helper()
		var got strings.Builder
		for !strings.HasSuffix(got.String(), "\n\n") {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading an event: %v (got %q, want %q)", err, got.String(), want)
			}
			got.WriteString(line)
		}
		if got.String() != want {
			t.Fatalf("event %q, want %q", got.String(), want)
		}
	}
	// The catch-up from Redis, after line 3.
	expect(event(9, text(4, 9)))
	// Runs the viewer has, then a run 7-12 it has the start of: it reads
	// lines 10-12 from Redis.
	if _, err := s.store.AppendLogText(ctx, id, 10, []byte(text(10, 12)), 0); err != nil {
		t.Fatal(err)
	}
	v.ch <- encode([]builds.LogChunk{run(1, 5), run(6, 9)}, "")
	v.ch <- encode([]builds.LogChunk{run(8, 9)}, "")
	v.ch <- encode([]builds.LogChunk{run(7, 12)}, "")
	expect(event(12, text(10, 12)))
	// A run that follows: from the batch (Redis does not hold it).
	v.ch <- encode([]builds.LogChunk{run(13, 13)}, "")
	expect(event(13, text(13, 13)))
	// A batch that starts at 16: lines 14-15 are missing, so the viewer
	// reads 14-16 from Redis.
	if _, err := s.store.AppendLogText(ctx, id, 13, []byte(text(13, 16)), 0); err != nil {
		t.Fatal(err)
	}
	v.ch <- encode([]builds.LogChunk{run(16, 16)}, "")
	expect(event(16, text(14, 16)))
	v.ch <- encode(nil, tasks.StateSucceeded)
	expect("event: end\ndata: succeeded\n\n")
}
