package worker

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/fedora-fbs/fbs/tasks/builds"
)

// heartbeat tells the monitor every few seconds that this worker is alive,
// what it serves and which builds it runs.
type heartbeat struct {
	store    *builds.Store
	info     builds.WorkerInfo
	interval time.Duration
	current  func() (ids []string, draining bool)

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func newHeartbeat(store *builds.Store, cfg *Config, current func() ([]string, bool)) *heartbeat {
	pid := os.Getpid()
	return &heartbeat{
		store: store, interval: 5 * time.Second, current: current,
		info: builds.WorkerInfo{
			ID: fmt.Sprintf("%s/%d", cfg.Host, pid), Host: cfg.Host, PID: pid, Arch: cfg.Arch,
			Releases: cfg.Releases, Queues: cfg.Queues(), Concurrency: cfg.Concurrency,
			Started: time.Now().UTC(),
		},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// Start beats until Stop.
func (h *heartbeat) Start(ctx context.Context) {
	go func() {
		defer close(h.done)
		t := time.NewTicker(h.interval)
		defer t.Stop()
		for {
			h.beat(ctx)
			select {
			case <-h.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func (h *heartbeat) beat(ctx context.Context) {
	ids, draining := h.current()
	sort.Strings(ids)
	info := h.info
	info.Builds, info.Draining, info.Heartbeat = ids, draining, time.Now().UTC()
	_ = h.store.Heartbeat(ctx, &info, 3*h.interval)
}

// Stop ends the heartbeat and removes the worker from the list; safe to
// call more than once.
func (h *heartbeat) Stop(ctx context.Context) {
	h.once.Do(func() {
		close(h.stop)
		<-h.done
		_ = h.store.Leave(ctx, h.info.ID)
	})
}
