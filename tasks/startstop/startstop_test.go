package startstop_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks/startstop"
)

// blocking is a Func that runs until told to stop, and counts its runs.
type blocking struct {
	started chan struct{}
	runs    atomic.Int32
}

func newBlocking() *blocking { return &blocking{started: make(chan struct{}, 10)} }

func (b *blocking) run(ctx context.Context, stop <-chan struct{}) {
	b.runs.Add(1)
	b.started <- struct{}{}
	select {
	case <-stop:
	case <-ctx.Done():
	}
}

func TestLoop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		do   func(t *testing.T, l *startstop.Loop, b *blocking)
		runs int32
	}{
		{"stop without start", func(t *testing.T, l *startstop.Loop, b *blocking) {
			l.Stop()
		}, 0},
		{"stop twice", func(t *testing.T, l *startstop.Loop, b *blocking) {
			l.Start(context.Background(), b.run)
			<-b.started
			l.Stop()
			l.Stop()
		}, 1},
		{"start twice runs once", func(t *testing.T, l *startstop.Loop, b *blocking) {
			if !l.Start(context.Background(), b.run) {
				t.Error("first Start = false")
			}
			if l.Start(context.Background(), b.run) {
				t.Error("second Start = true")
			}
			<-b.started
			l.Stop()
		}, 1},
		{"start again after stop", func(t *testing.T, l *startstop.Loop, b *blocking) {
			for range 2 {
				l.Start(context.Background(), b.run)
				<-b.started
				l.Stop()
			}
		}, 2},
		{"concurrent stops all wait", func(t *testing.T, l *startstop.Loop, b *blocking) {
			var returned atomic.Bool
			l.Start(context.Background(), func(ctx context.Context, stop <-chan struct{}) {
				b.run(ctx, stop)
				time.Sleep(20 * time.Millisecond)
				returned.Store(true)
			})
			<-b.started
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					l.Stop()
					if !returned.Load() {
						t.Error("Stop returned before the loop did")
					}
				}()
			}
			wg.Wait()
		}, 1},
		{"ends with its context", func(t *testing.T, l *startstop.Loop, b *blocking) {
			ctx, cancel := context.WithCancel(context.Background())
			l.Start(ctx, b.run)
			<-b.started
			cancel()
			l.Stop()
			l.Stop()
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var l startstop.Loop
			b := newBlocking()
			done := make(chan struct{})
			go func() {
				defer close(done)
				tt.do(t, &l, b)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("hung")
			}
			if got := b.runs.Load(); got != tt.runs {
				t.Errorf("loop ran %d times, want %d", got, tt.runs)
			}
		})
	}
}

func TestEvery(t *testing.T) {
	t.Parallel()
	var l startstop.Loop
	calls := make(chan struct{}, 100)
	l.Start(context.Background(), func(ctx context.Context, stop <-chan struct{}) {
		startstop.Every(ctx, stop, time.Millisecond, func(context.Context) { calls <- struct{}{} })
	})
	for range 3 { // the first at once, then every interval
		<-calls
	}
	l.Stop()
	n := len(calls)
	time.Sleep(10 * time.Millisecond)
	if len(calls) != n {
		t.Error("Every called fn after Stop returned")
	}
}

func TestEveryFinishesTheCallUnderWay(t *testing.T) {
	t.Parallel()
	var l startstop.Loop
	in, finished := make(chan struct{}), make(chan struct{})
	l.Start(context.Background(), func(ctx context.Context, stop <-chan struct{}) {
		startstop.Every(ctx, stop, time.Hour, func(ctx context.Context) {
			close(in)
			time.Sleep(20 * time.Millisecond)
			if ctx.Err() != nil {
				t.Error("the call's context ended with Stop")
			}
			close(finished)
		})
	})
	<-in
	l.Stop()
	select {
	case <-finished:
	default:
		t.Error("Stop returned before the call under way finished")
	}
}
