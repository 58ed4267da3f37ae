package worker

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/worker/builder"
	"github.com/fedora-fbs/fbs/worker/pipeline"
)

// lockedBuffer is a log destination the worker's goroutines share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWorkerWithoutToolHandsBuildBack runs a real worker whose [tools]
// livemedia-creator is a missing binary: it advertises what it can run
// with versions, never takes a live build but hands it back without
// touching its attempt count, and a cancel ends the hand-backs.
func TestWorkerWithoutToolHandsBuildBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	missing := "/nonexistent/livemedia-creator"
	pipe, err := pipeline.New(pipeline.Config{DataDir: t.TempDir(), Tools: builder.Tools{"livemedia-creator": missing}})
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	srv, err := New(rdb, pipe, Config{
		Releases: []string{"41"}, Host: "toolless", TaskCheckInterval: 20 * time.Millisecond,
		HandBackDelay: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)

	c := client.New(rdb, client.Config{BuildTimeout: time.Hour})
	t.Cleanup(func() { c.Close() })
	p := &tasks.Payload{Spec: tasks.Spec{
		Type: tasks.TypeLive, Arch: HostArch(), Release: "41", Staging: "file:///srv/staging",
		Live: &tasks.LiveSpec{Label: "Test", Config: "live.ks", Builder: tasks.BuilderLiveMedia},
	}, Kickstart: "text\n"}
	b, err := c.Submit(ctx, p)
	if err != nil {
		t.Fatal(err)
	}

	waitUntil(t, "two hand-backs", func() bool { return strings.Count(logs.String(), "build handed back") >= 2 })
	got, err := c.Get(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != tasks.StateQueued || got.Attempt != 0 || got.Worker != "" || !got.Started.IsZero() || got.TaskID == b.ID {
		t.Errorf("handed-back build: state %s attempt %d worker %q started %v task %s; want queued, attempt 0, untouched, a new task",
			got.State, got.Attempt, got.Worker, got.Started, got.TaskID)
	}
	if !strings.Contains(logs.String(), "missing=livemedia-creator") {
		t.Errorf("worker log does not name the missing tool:\n%s", logs.String())
	}

	// The heartbeat says what this worker can and cannot run.
	ws, err := c.Store().Workers(ctx)
	if err != nil || len(ws) != 1 {
		t.Fatalf("workers: %v, %v; want this one", ws, err)
	}
	caps := map[tasks.BuildKind]tasks.Capability{}
	for _, cp := range ws[0].Capabilities {
		caps[cp.Kind] = cp
	}
	if len(caps) != len(tasks.BuildKinds) {
		t.Errorf("capabilities %+v; want one per kind %v", ws[0].Capabilities, tasks.BuildKinds)
	}
	if cp := caps[tasks.KindLiveMedia]; !strings.Contains(cp.Missing, missing) || len(cp.Tools) != 0 {
		t.Errorf("livemedia-creator capability %+v; want missing %s", cp, missing)
	}
	ks := caps[tasks.KindKSISO]
	if ks.Missing != "" || len(ks.Tools) != 3 || ks.Tools[0].Name != "xorriso" || !strings.HasPrefix(ks.Tools[0].Version, "xorriso 1.") ||
		!strings.Contains(ks.Tools[1].Version, "mtools") {
		t.Errorf("ksiso capability %+v; want xorriso, mcopy, mdir with their versions", ks)
	}
	if why := builds.Unserved(ws, HostArch(), "41", tasks.KindLiveMedia); !strings.Contains(why, "toolless: livemedia-creator not found at "+missing) {
		t.Errorf("Unserved(live) = %q; want the missing tool named", why)
	}
	if why := builds.Unserved(ws, HostArch(), "41", tasks.KindKSISO); why != "" {
		t.Errorf("Unserved(ksiso) = %q; want served", why)
	}

	// A cancel deletes the handed-back task: the hand-backs stop.
	if _, err := c.Cancel(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	waitUntil(t, "the build's tasks to be gone", func() bool {
		for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){insp.ListPendingTasks, insp.ListScheduledTasks, insp.ListActiveTasks} {
			if ts, _ := list(p.Spec.Queue()); len(ts) > 0 {
				return false
			}
		}
		return true
	})
	if got, _ := c.Get(ctx, b.ID); got.State != tasks.StateCancelled || got.Attempt != 0 {
		t.Errorf("cancelled build: state %s attempt %d; want cancelled, never attempted", got.State, got.Attempt)
	}
}
