package monitor_test

import (
	"context"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/tasks"
)

// readLines reads events until line last, checking that they are exactly
// the lines from..last in order (no loss, no repeat).
func readLines(t *testing.T, s *sse, from, last int) {
	t.Helper()
	for want := from; want <= last; want++ {
		l, e, err := s.line()
		if err != nil {
			t.Fatalf("waiting for line %d: %v", want, err)
		}
		if e.Event != "" || l.n != want || l.text != lineText(want) {
			t.Fatalf("got line %d %q (event %+v), want line %d", l.n, l.text, e, want)
		}
	}
}

func readEnd(t *testing.T, s *sse, want tasks.State) {
	t.Helper()
	if len(s.lines) > 0 {
		t.Fatalf("lines %v before the end", s.lines)
	}
	e, err := s.next()
	if err != nil {
		t.Fatalf("waiting for the end event: %v", err)
	}
	if e.Event != "end" || e.Data != string(want) {
		t.Fatalf("got event %+v, want the end with %s", e, want)
	}
}

func TestSSELive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, monitor.Config{LogPage: 100})
	b := f.newBuild(t, nil)
	f.appendLines(t, b.ID, 1, 250, lineText)
	url := f.web.URL + "/builds/" + b.ID + "/log/stream"

	// Three viewers: from the start, resuming after 100 by header, by query.
	all := openSSE(t, url, 0)
	resumed := openSSE(t, url, 100)
	query := openSSE(t, url+"?after=200", 0)
	readLines(t, all, 1, 250)
	readLines(t, resumed, 101, 250)
	readLines(t, query, 201, 250)

	// Lines written while they read arrive, in batches of every size.
	errc := make(chan error, 1)
	go func() {
		n := 250
		for _, k := range []int{1, 7, 300, 1, 2500} {
			f.appendLines(t, b.ID, n+1, n+k, lineText)
			n += k
		}
		errc <- f.store.EndLog(ctx, b.ID, tasks.StateSucceeded)
	}()
	for _, s := range []*sse{all, resumed, query} {
		readLines(t, s, 251, 3059)
		readEnd(t, s, tasks.StateSucceeded)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestSSEReconnect(t *testing.T) {
	t.Parallel()
	f := setup(t, monitor.Config{})
	b := f.newBuild(t, nil)
	url := f.web.URL + "/builds/" + b.ID + "/log/stream"
	s := openSSE(t, url, 0)
	f.appendLines(t, b.ID, 1, 40, lineText)
	readLines(t, s, 1, 40)
	// The client drops; lines keep coming; it reconnects with the last ID
	// it got, like EventSource does.
	s.resp.Body.Close()
	f.appendLines(t, b.ID, 41, 90, lineText)
	s = openSSE(t, url, 40)
	f.appendLines(t, b.ID, 91, 100, lineText)
	readLines(t, s, 41, 100)
	if err := f.store.EndLog(context.Background(), b.ID, tasks.StateFailed); err != nil {
		t.Fatal(err)
	}
	readEnd(t, s, tasks.StateFailed)
}

// TestSSERedisRestart restarts Redis (empty) under a viewer. The worker's
// publisher then re-publishes its whole file and the record is written
// again; the viewer gets every line once.
func TestSSERedisRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, monitor.Config{})
	b := f.newBuild(t, nil)
	f.appendLines(t, b.ID, 1, 30, lineText)
	s := openSSE(t, f.web.URL+"/builds/"+b.ID+"/log/stream", 0)
	readLines(t, s, 1, 30)

	f.redis.Restart()
	// Recreate the record as the worker would, then re-publish from line 1.
	again := *b
	if err := f.store.Create(ctx, &again, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	f.appendLines(t, b.ID, 1, 60, lineText)
	readLines(t, s, 31, 60)
	f.appendLines(t, b.ID, 61, 70, lineText)
	if err := f.store.EndLog(ctx, b.ID, tasks.StateSucceeded); err != nil {
		t.Fatal(err)
	}
	readLines(t, s, 61, 70)
	readEnd(t, s, tasks.StateSucceeded)
}

// TestMonitorRestart stops the monitor mid-build and starts another: the
// viewer reconnects with its last ID and misses nothing.
func TestMonitorRestart(t *testing.T) {
	t.Parallel()
	f := setup(t, monitor.Config{})
	b := f.newBuild(t, nil)
	f.appendLines(t, b.ID, 1, 20, lineText)
	s := openSSE(t, f.web.URL+"/builds/"+b.ID+"/log/stream", 0)
	readLines(t, s, 1, 20)
	f.stopMonitor()
	if _, err := s.next(); err == nil {
		t.Fatal("stream still open after the monitor stopped")
	}
	f.appendLines(t, b.ID, 21, 50, lineText)
	f.startMonitor(t, monitor.Config{})
	s = openSSE(t, f.web.URL+"/builds/"+b.ID+"/log/stream", 20)
	readLines(t, s, 21, 50)
}

// TestSSEEndWithoutMarker: a build finalised without an end marker still
// ends its viewers' streams.
func TestSSEEndWithoutMarker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, monitor.Config{})
	b := f.newBuild(t, nil)
	f.appendLines(t, b.ID, 1, 5, lineText)
	s := openSSE(t, f.web.URL+"/builds/"+b.ID+"/log/stream", 0)
	readLines(t, s, 1, 5)
	f.appendLines(t, b.ID, 6, 8, lineText)
	if _, err := f.store.Update(ctx, b.ID, func(b *tasks.Build) error {
		b.State, b.Finished = tasks.StateCancelled, time.Now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	readLines(t, s, 6, 8)
	readEnd(t, s, tasks.StateCancelled)
}
