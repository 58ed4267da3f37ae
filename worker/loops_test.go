package worker

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

// stopper is a background loop of the worker: the heartbeat or a lease
// keeper.
type stopper interface {
	Start(ctx context.Context)
	Stop()
}

// TestLoopsStop checks that the worker's background loops tolerate Stop
// when Start never ran, and Stop twice.
func TestLoopsStop(t *testing.T) {
	t.Parallel()
	st := builds.NewStore(redistest.Start(t).Client())
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := &Config{Host: "h", Arch: "x86_64", Releases: []string{"41"}}
	b := &tasks.Build{ID: tasks.NewBuildID(), State: tasks.StateRunning, Attempt: 1}
	loops := []struct {
		name string
		new  func() stopper
	}{
		{"heartbeat", func() stopper { return newHeartbeat(st, cfg, func() ([]string, bool) { return nil, false }) }},
		{"lease keeper", func() stopper {
			return newLeaseKeeper(leaseKeeperParams{
				store: st, id: b.ID, holder: "h/1/x", ttl: tasks.MinLeaseTTL,
				stop: func(error) {}, rec: newRecord(st, b, nil, discard), lost: func() {}, log: discard,
			})
		}},
	}
	ways := []struct {
		name string
		run  func(l stopper)
	}{
		{"stop without start", func(l stopper) { l.Stop() }},
		{"stop twice without start", func(l stopper) { l.Stop(); l.Stop() }},
		{"stop twice", func(l stopper) { l.Start(context.Background()); l.Stop(); l.Stop() }},
	}
	for _, l := range loops {
		for _, w := range ways {
			t.Run(l.name+"/"+w.name, func(t *testing.T) {
				t.Parallel()
				done := make(chan struct{})
				go func() { defer close(done); w.run(l.new()) }()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("hung")
				}
			})
		}
	}
}

// TestHeartbeatLeaves checks that a stopped heartbeat takes the worker off
// the list.
func TestHeartbeatLeaves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := builds.NewStore(redistest.Start(t).Client())
	cfg := &Config{Host: "h", Arch: "x86_64", Releases: []string{"41"}}
	h := newHeartbeat(st, cfg, func() ([]string, bool) { return []string{"b"}, false })
	h.Start(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ws, err := st.Workers(ctx)
		if err == nil && len(ws) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker never listed: %v %v", ws, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.Stop()
	if ws, err := st.Workers(ctx); err != nil || len(ws) != 0 {
		t.Errorf("workers after Stop: %v, %v; want none", ws, err)
	}
}
