package worker

import (
	"context"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/startstop"
	"github.com/fedora-fbs/fbs/tasks/version"
)

// heartbeat tells the monitor every few seconds that this worker is alive,
// what it serves and which builds it runs.
type heartbeat struct {
	store    *builds.Store
	info     builds.WorkerInfo
	interval time.Duration
	current  func() (ids []string, draining bool)
	paused   func() bool
	lowSpace func() string
	loop     startstop.Loop
}

// heartbeatParams are what a heartbeat needs.
type heartbeatParams struct {
	store *builds.Store
	cfg   *Config // filled
	// current returns the builds running here and whether the worker
	// drains.
	current func() (ids []string, draining bool)
	// paused reports whether the worker's host is paused.
	paused func() bool
	// lowSpace says why the worker paused itself for space, or "".
	lowSpace func() string
	// capabilities are the build kinds this worker can run or not.
	capabilities []tasks.Capability
}

func newHeartbeat(p heartbeatParams) *heartbeat {
	pid := os.Getpid()
	cfg := p.cfg
	return &heartbeat{
		store: p.store, interval: 5 * time.Second, current: p.current, paused: p.paused, lowSpace: p.lowSpace,
		info: builds.WorkerInfo{
			ID: fmt.Sprintf("%s/%d", cfg.Host, pid), Host: cfg.Host, PID: pid, Arch: cfg.Arch,
			Releases: cfg.Releases, Queues: cfg.Queues(), Concurrency: cfg.Concurrency,
			Capabilities: p.capabilities, Version: version.String(), Started: time.Now().UTC(),
		},
	}
}

// Start beats now and every interval until Stop or until ctx ends; then it
// removes the worker from the list.
func (h *heartbeat) Start(ctx context.Context) {
	h.loop.Start(ctx, func(ctx context.Context, stop <-chan struct{}) {
		startstop.Every(ctx, stop, h.interval, h.beat)
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.interval)
		defer cancel()
		_ = h.store.Leave(lctx, h.info.ID)
	})
}

func (h *heartbeat) beat(ctx context.Context) {
	ids, draining := h.current()
	sort.Strings(ids)
	info := h.info
	info.Builds, info.Draining, info.Heartbeat = ids, draining, time.Now().UTC()
	if h.paused != nil {
		info.Paused = h.paused()
	}
	if h.lowSpace != nil {
		info.LowSpace = h.lowSpace()
	}
	_ = h.store.Heartbeat(ctx, &info, 3*h.interval)
}

// Stop ends the heartbeat once the worker left the list. It is safe to call
// when Start never ran, and more than once.
func (h *heartbeat) Stop() { h.loop.Stop() }
