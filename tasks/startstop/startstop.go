// Package startstop gives fbs's background loops one life cycle: Start(ctx)
// runs the loop in a goroutine its owner waits for, Stop() ends it and
// returns once it has returned. Stop is safe when Start never ran, twice,
// and from several goroutines at once; a stopped loop can be started again.
//
// The reaper, a worker's heartbeat, a build's lease keeper and a build log's
// publisher each embed a Loop instead of writing stop/done/once by hand.
// A loop is told to stop through a channel rather than by cancelling its
// context, so work under way (a reap half done, a batch of log lines) is
// finished, not cut off; the context is the caller's, for the work itself.
package startstop

import (
	"context"
	"sync"
	"time"
)

// Func is the body of a background loop. It works under ctx and returns
// when ctx ends or stop is closed.
type Func func(ctx context.Context, stop <-chan struct{})

// Loop runs one Func at a time. The zero value is ready to use; a Loop
// must not be copied after first use.
type Loop struct {
	mu   sync.Mutex
	stop chan struct{} // closed by Stop; nil when not running
	done chan struct{} // closed when the Func returned
}

// Start runs fn in a goroutine until Stop or until ctx ends. It reports
// whether it started fn: false if the loop already runs.
func (l *Loop) Start(ctx context.Context, fn Func) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done != nil {
		return false
	}
	stop, done := make(chan struct{}), make(chan struct{})
	l.stop, l.done = stop, done
	go func() {
		defer close(done)
		fn(ctx, stop)
	}()
	return true
}

// Stop tells the running Func to stop and waits until it has returned.
// With nothing running it returns at once.
func (l *Loop) Stop() {
	l.mu.Lock()
	stop, done := l.stop, l.done
	if stop != nil {
		close(stop)
		l.stop = nil
	}
	l.mu.Unlock()
	if done == nil {
		return
	}
	<-done
	l.mu.Lock()
	if l.done == done {
		l.done = nil
	}
	l.mu.Unlock()
}

// Every calls fn at once and then every interval, until ctx ends or stop
// is closed. A call under way when stop closes is finished.
func Every(ctx context.Context, stop <-chan struct{}, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		fn(ctx)
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
