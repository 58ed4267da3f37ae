package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/startstop"
)

// leaseKeeperParams are what a leaseKeeper needs.
type leaseKeeperParams struct {
	store  *builds.Store
	id     string // the build's
	holder string // who holds the lease: host/pid/task
	// attempt is the run's: once the record says it is over, the lease
	// is not renewed and the build is stopped.
	attempt int
	ttl     time.Duration
	// stop stops the build, with errCancelled on a cancel request and
	// errLeaseLost when the lease could not be renewed for a whole TTL.
	stop context.CancelCauseFunc
	// rec is the worker's copy of the record, written again if Redis lost it.
	rec *record
	// lost is called after rec was written again, so that the log stream
	// is checked too.
	lost func()
	log  *slog.Logger
}

// leaseKeeper renews a running build's lease and watches for a cancel
// request, which it also learns from the record in case asynq's cancel
// message was missed. If it cannot renew for a whole TTL, another worker may
// own the build by now, so it stops the build. If the record is gone from
// Redis, it writes it again and has the log stream checked.
type leaseKeeper struct {
	p    leaseKeeperParams
	loop startstop.Loop
}

func newLeaseKeeper(p leaseKeeperParams) *leaseKeeper {
	return &leaseKeeper{p: p}
}

// Start renews the lease now and every third of its TTL, until Stop or
// until ctx ends.
func (k *leaseKeeper) Start(ctx context.Context) {
	k.loop.Start(ctx, func(ctx context.Context, stop <-chan struct{}) {
		renewed := time.Now()
		startstop.Every(ctx, stop, k.p.ttl/3, func(ctx context.Context) {
			if k.renew(ctx) {
				renewed = time.Now()
			} else if time.Since(renewed) > k.p.ttl {
				k.p.stop(errLeaseLost)
			}
		})
	})
}

// renew holds the lease for another TTL and looks at the record; it
// reports whether the lease was renewed.
func (k *leaseKeeper) renew(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, k.p.ttl/3)
	defer cancel()
	if err := k.p.store.HoldLeaseOf(ctx, k.p.id, k.p.holder, k.p.attempt, k.p.ttl); err != nil {
		if errors.Is(err, builds.ErrAttemptOver) {
			// Reaped while this worker could not reach Redis: the
			// build is another attempt's now.
			k.p.stop(errLeaseLost)
		}
		return false
	}
	b, err := k.p.store.Get(ctx, k.p.id)
	switch {
	case err == nil && b.CancelRequested:
		k.p.stop(errCancelled)
	case errors.Is(err, builds.ErrNotFound):
		if ok, err := k.p.rec.restore(ctx); ok {
			k.p.lost()
		} else if err != nil {
			k.p.log.Warn("write lost build record again", "build", k.p.id, "err", err)
		}
	}
	return true
}

// Stop ends the renewals after the one under way. It is safe to call when
// Start never ran, and more than once.
func (k *leaseKeeper) Stop() { k.loop.Stop() }
