package worker

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/startstop"
)

// pauseWatch follows the pause of this worker's host (fbs worker pause):
// when it is paused the worker stops taking builds and finishes those it
// runs; when it is resumed it takes builds again.
type pauseWatch struct {
	p      pauseWatchParams
	paused atomic.Bool
	loop   startstop.Loop
}

// pauseWatchParams are what a pauseWatch needs.
type pauseWatchParams struct {
	store    *builds.Store
	host     string
	interval time.Duration
	// serve switches the worker to the queues of a paused or running host.
	serve func(paused bool) error
	// changed is called after each switch.
	changed func(ctx context.Context)
	logger  *slog.Logger
}

func newPauseWatch(p pauseWatchParams) *pauseWatch { return &pauseWatch{p: p} }

// Paused reports whether the worker is paused, as last seen.
func (w *pauseWatch) Paused() bool { return w.paused.Load() }

// Start looks every interval until Stop; paused is the state the worker
// started in.
func (w *pauseWatch) Start(ctx context.Context, paused bool) {
	w.paused.Store(paused)
	w.loop.Start(ctx, func(ctx context.Context, stop <-chan struct{}) {
		startstop.Every(ctx, stop, w.p.interval, w.look)
	})
}

func (w *pauseWatch) look(ctx context.Context) {
	p, err := w.p.store.Paused(ctx, builds.PauseWorker, w.p.host)
	if err != nil {
		return // Redis away: keep as we are, look again
	}
	paused := p != nil
	if paused == w.paused.Load() {
		return
	}
	if err := w.p.serve(paused); err != nil {
		w.p.logger.Error("worker: switch pause", "paused", paused, "err", err)
		return
	}
	w.paused.Store(paused)
	w.p.changed(ctx)
	if paused {
		w.p.logger.Info("worker paused: finishing running builds, taking no new ones", "host", w.p.host, "by", p.By, "message", p.Message)
	} else {
		w.p.logger.Info("worker resumed: taking builds again", "host", w.p.host)
	}
}

// Stop ends the watch. It is safe to call when Start never ran, and more
// than once.
func (w *pauseWatch) Stop() { w.loop.Stop() }
