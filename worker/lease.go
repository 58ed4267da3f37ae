package worker

import (
	"context"
	"sync"
	"time"

	"github.com/fedora-fbs/fbs/tasks/builds"
)

// leaseKeeper renews a running build's lease and watches for a cancel
// request, which it also learns from the record in case asynq's cancel
// message was missed. If it cannot renew for a whole TTL, another worker may
// own the build by now, so it stops the build.
type leaseKeeper struct {
	store  *builds.Store
	id     string
	holder string
	ttl    time.Duration
	cancel context.CancelCauseFunc

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func newLeaseKeeper(store *builds.Store, id, holder string, ttl time.Duration, cancel context.CancelCauseFunc) *leaseKeeper {
	return &leaseKeeper{store: store, id: id, holder: holder, ttl: ttl, cancel: cancel,
		stop: make(chan struct{}), done: make(chan struct{})}
}

// Start renews the lease every third of its TTL until Stop.
func (k *leaseKeeper) Start(ctx context.Context) {
	go func() {
		defer close(k.done)
		t := time.NewTicker(k.ttl / 3)
		defer t.Stop()
		renewed := time.Now()
		for {
			select {
			case <-k.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rctx, cancel := context.WithTimeout(ctx, k.ttl/3)
			err := k.store.HoldLease(rctx, k.id, k.holder, k.ttl)
			if err == nil {
				renewed = time.Now()
				if b, gerr := k.store.Get(rctx, k.id); gerr == nil && b.CancelRequested {
					k.cancel(errCancelled)
				}
			} else if time.Since(renewed) > k.ttl {
				k.cancel(errLeaseLost)
			}
			cancel()
		}
	}()
}

// Stop ends the renewals; safe to call more than once.
func (k *leaseKeeper) Stop() {
	k.once.Do(func() { close(k.stop) })
	<-k.done
}
