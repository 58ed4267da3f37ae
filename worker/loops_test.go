package worker

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/version"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/testing/startstoptest"
)

// TestLoopsStop checks that the worker's background loops tolerate Stop
// when Start never ran, and Stop twice.
func TestLoopsStop(t *testing.T) {
	t.Parallel()
	st := builds.NewStore(redistest.Start(t).Client())
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := &Config{Host: "h", Arch: "x86_64", Releases: []string{"41"}}
	t.Run("heartbeat", func(t *testing.T) {
		t.Parallel()
		startstoptest.Run(t, func(t *testing.T) startstoptest.Service {
			return newHeartbeat(heartbeatParams{store: st, cfg: cfg, current: func() ([]string, bool) { return nil, false }})
		})
	})
	t.Run("lease keeper", func(t *testing.T) {
		t.Parallel()
		startstoptest.Run(t, func(t *testing.T) startstoptest.Service {
			b := &tasks.Build{ID: tasks.NewBuildID(), State: tasks.StateRunning, Attempt: 1}
			return newLeaseKeeper(leaseKeeperParams{
				store: st, id: b.ID, holder: "h/1/x", ttl: tasks.MinLeaseTTL,
				stop: func(error) {}, rec: newRecord(st, b, nil, discard), lost: func() {}, log: discard,
			})
		})
	})
}

// TestHeartbeatLeaves checks that a heartbeat carries the fbs version and
// that a stopped heartbeat takes the worker off the list.
func TestHeartbeatLeaves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := builds.NewStore(redistest.Start(t).Client())
	cfg := &Config{Host: "h", Arch: "x86_64", Releases: []string{"41"}}
	h := newHeartbeat(heartbeatParams{store: st, cfg: cfg, current: func() ([]string, bool) { return []string{"b"}, false }})
	h.Start(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ws, err := st.Workers(ctx)
		if err == nil && len(ws) == 1 {
			// fbs deploy waits for the new version in the heartbeat.
			if ws[0].Version != version.String() {
				t.Errorf("heartbeat version %q, want %q", ws[0].Version, version.String())
			}
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
