package monitor_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

func TestMain(m *testing.M) {
	// Tests own the process: no gin debug output.
	gin.SetMode(gin.ReleaseMode)
	if benchHelper() {
		os.Exit(0)
	}
	// Every hub, stream and server a test starts must be gone at the end.
	// go-redis leaves two goroutines of its own after Close: its circuit
	// breaker's cleanup loop and a redial of a server that went away.
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/redis/go-redis/v9/maintnotifications.(*CircuitBreakerManager).cleanupLoop"),
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}

// fixture is a real Redis, a monitor over it and an HTTP server serving it.
type fixture struct {
	redis *redistest.Server
	rdb   *redis.Client
	store *builds.Store
	mon   *monitor.Server
	web   *httptest.Server
}

func setup(t *testing.T, cfg monitor.Config) *fixture {
	t.Helper()
	srv := redistest.Start(t)
	f := &fixture{redis: srv, rdb: srv.Client()}
	f.store = builds.NewStore(f.rdb)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	f.startMonitor(t, cfg)
	return f
}

// startMonitor starts a (new) monitor and its HTTP server.
func (f *fixture) startMonitor(t *testing.T, cfg monitor.Config) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Identifier == nil && cfg.Links == nil {
		// Tests of what the routes show, not of who may see it (those
		// are in access_test.go, with an Identifier).
		cfg.Visibility = tasks.VisibilityPublic
	}
	mon, err := monitor.New(f.rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.mon = mon
	f.web = httptest.NewServer(mon.Handler())
	t.Cleanup(func() {
		f.web.Close()
		mon.Close()
	})
}

// stopMonitor stops the monitor as a crash would: connections drop.
func (f *fixture) stopMonitor() {
	f.web.CloseClientConnections()
	f.web.Close()
	f.mon.Close()
}

// newBuild stores a running build record, changed by mut.
func (f *fixture) newBuild(t *testing.T, mut func(*tasks.Build)) *tasks.Build {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	b := &tasks.Build{
		ID: tasks.NewBuildID(), Owner: "alice", KickstartName: "fedora-live-xfce.ks",
		Spec:  tasks.Spec{Type: tasks.TypeLive, Arch: "x86_64", Release: "41", Staging: "file:///srv/fbs/staging"},
		State: tasks.StateQueued, Queue: tasks.QueueName("x86_64", "41"), Created: now,
	}
	b.TaskID = b.ID
	if err := f.store.Create(ctx, b, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	got, err := f.store.Update(ctx, b.ID, func(b *tasks.Build) error {
		b.State, b.Stage, b.Worker, b.Started, b.Attempt = tasks.StateRunning, tasks.StageBuild, "builder1.example.org", now, 1
		if mut != nil {
			mut(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// appendLines publishes lines from..to (inclusive) of build id, texts made
// by text, as the worker's publisher does.
func (f *fixture) appendLines(t testing.TB, id string, from, to int, text func(int) string) {
	t.Helper()
	var lines []builds.LogLine
	for n := from; n <= to; n++ {
		lines = append(lines, builds.LogLine{N: n, Text: text(n)})
	}
	for len(lines) > 0 {
		k := min(len(lines), 1000)
		if _, err := f.store.AppendLog(context.Background(), id, lines[:k], 0); err != nil {
			t.Fatal(err)
		}
		lines = lines[k:]
	}
}

func lineText(n int) string { return fmt.Sprintf("2026-11-22T05:00:45.626Z out | line %d", n) }

func (f *fixture) get(t *testing.T, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", f.web.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// event is one Server-Sent Event.
type event struct {
	ID, Event, Data string
	dataLines       int
}

// sse is a real HTTP client reading a log stream.
type sse struct {
	resp *http.Response
	r    *bufio.Reader
	// lines holds the lines of the last run event not yet taken by line.
	lines []logLine
}

// logLine is a numbered line received over SSE.
type logLine struct {
	n    int
	text string
}

// line returns the next log line, taking the next run event when the
// last one's lines are used up; a non-line event is returned as is.
func (s *sse) line() (logLine, event, error) {
	for len(s.lines) == 0 {
		e, err := s.next()
		if err != nil || e.Event != "" {
			return logLine{}, e, err
		}
		last, err := strconv.Atoi(e.ID)
		if err != nil {
			return logLine{}, e, fmt.Errorf("event ID %q: %w", e.ID, err)
		}
		texts := strings.Split(e.Data, "\n")
		if len(texts) != e.dataLines {
			return logLine{}, e, fmt.Errorf("event %s: %d data fields, %d lines", e.ID, e.dataLines, len(texts))
		}
		for i, t := range texts {
			s.lines = append(s.lines, logLine{n: last - len(texts) + 1 + i, text: t})
		}
	}
	l := s.lines[0]
	s.lines = s.lines[1:]
	return l, event{}, nil
}

func openSSE(t testing.TB, url string, lastID int) *sse {
	t.Helper()
	// No test waits more than a minute for a line: a lost line fails the
	// test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID > 0 {
		req.Header.Set("Last-Event-ID", strconv.Itoa(lastID))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET %s: %s %s", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &sse{resp: resp, r: bufio.NewReaderSize(resp.Body, 64<<10)}
}

// next returns the next event with data (comments and retry skipped).
func (s *sse) next() (event, error) {
	var e event
	seen := false
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return e, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if seen {
				return e, nil
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			e.ID, seen = line[4:], true
		case strings.HasPrefix(line, "event: "):
			e.Event, seen = line[7:], true
		case strings.HasPrefix(line, "data: "):
			// Several data fields make one data, joined by newlines.
			if e.dataLines > 0 {
				e.Data += "\n"
			}
			e.Data, seen = e.Data+line[6:], true
			e.dataLines++
		}
	}
}
