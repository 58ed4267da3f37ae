package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/startstop"
	"github.com/fedora-fbs/fbs/worker/builder"
	"github.com/fedora-fbs/fbs/worker/pipeline"
)

// spaceWatch keeps the worker off the build queues while its data dir is
// low on space. A worker whose disk is full fails every build it takes
// within a second, so it would fail the whole queue while healthy workers
// could build it (the chaos soak of issue #17: 310 of 321 failed builds).
// Below min free bytes, or after a build ran out of space, the worker pauses
// itself, apart from any operator pause (which lives in Redis and is not
// touched): it hands back what it is offered and serves only its transfer
// retries; it looks again every interval and resumes once there is room.
type spaceWatch struct {
	p spaceWatchParams

	// mu orders the looks and the switches they make.
	mu sync.Mutex
	// low says why the worker paused itself; "" while it did not.
	low  string
	loop startstop.Loop
}

// spaceWatchParams are what a spaceWatch needs.
type spaceWatchParams struct {
	// dir is the data dir, whose filesystem is measured.
	dir string
	// min is the free space below which the worker pauses itself; 0 turns
	// the watch off.
	min int64
	// interval is how often a paused worker looks whether there is room.
	interval time.Duration
	// serve switches the worker off the build queues (low is the reason)
	// or back on them (low is "").
	serve func(low string) error
	// changed is called after each switch.
	changed func(ctx context.Context)
	logger  *slog.Logger
}

func newSpaceWatch(p spaceWatchParams) *spaceWatch { return &spaceWatch{p: p} }

// on reports whether the watch is on (min_free is not 0).
func (w *spaceWatch) on() bool { return w.p.min > 0 }

// Low says why the worker paused itself for space, or "".
func (w *spaceWatch) Low() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.low
}

// measure says why the data dir is too low on space to take a build, or
// "" when it has room (or cannot be measured: a disk that cannot be
// measured is left to fail the build, which says why).
func (w *spaceWatch) measure() string {
	if !w.on() {
		return ""
	}
	free, err := freeSpace(w.p.dir)
	if err != nil {
		w.p.logger.Warn("measure free space of the data dir", "dir", w.p.dir, "err", err)
		return ""
	}
	if free >= w.p.min {
		return ""
	}
	return fmt.Sprintf("data dir low on space (%s free, min_free %s)", tasks.HumanSize(free), tasks.HumanSize(w.p.min))
}

// Start measures at once, so that a worker that starts low on space takes
// nothing, and then every interval until Stop. It does not switch: the
// worker starts serving with Low as it is then.
func (w *spaceWatch) Start(ctx context.Context) {
	if !w.on() {
		return
	}
	if why := w.measure(); why != "" {
		w.mu.Lock()
		w.low = why
		w.mu.Unlock()
		w.p.logger.Warn("worker paused itself: taking no builds until the data dir has room", "dir", w.p.dir, "why", why)
	}
	w.loop.Start(ctx, func(ctx context.Context, stop <-chan struct{}) {
		startstop.Every(ctx, stop, w.p.interval, func(ctx context.Context) { w.look(ctx) })
	})
}

// look measures the free space and pauses or resumes the worker when that
// changed; it returns why the worker is paused, "" when it is not.
func (w *spaceWatch) look(ctx context.Context) string {
	if !w.on() {
		return ""
	}
	w.mu.Lock()
	switched := w.set(w.measure())
	low := w.low
	w.mu.Unlock()
	if switched {
		w.p.changed(ctx)
	}
	return low
}

// ranOut pauses the worker after a build ran out of space in the data
// dir, err saying how, whatever the free space is now (the tool may have
// removed what it wrote); the next look resumes it if there is room.
func (w *spaceWatch) ranOut(ctx context.Context, err error) {
	w.mu.Lock()
	why := w.measure()
	if why == "" {
		why = fmt.Sprintf("data dir ran out of space during a build (%v)", err)
	}
	switched := w.set(why)
	w.mu.Unlock()
	if switched {
		w.p.changed(ctx)
	}
}

// set switches the worker to why (paused for space, or not when ""),
// saying so in the log once; it reports whether it switched. w.mu is held;
// the caller tells of a switch (changed) once it let go of it, as the
// heartbeat reads Low.
func (w *spaceWatch) set(why string) bool {
	if (why == "") == (w.low == "") {
		w.low = why // as it is now
		return false
	}
	if err := w.p.serve(why); err != nil {
		w.p.logger.Error("worker: switch pause for space", "low", why, "err", err)
		return false
	}
	w.low = why
	if why != "" {
		w.p.logger.Warn("worker paused itself: taking no builds until the data dir has room", "dir", w.p.dir, "why", why, "min_free", w.p.min)
	} else {
		w.p.logger.Info("worker resumed by itself: the data dir has room again", "dir", w.p.dir, "min_free", w.p.min)
	}
	return true
}

// Stop ends the watch. It is safe to call when Start never ran, and more
// than once.
func (w *spaceWatch) Stop() { w.loop.Stop() }

// freeSpace returns the bytes of dir's filesystem that an unprivileged
// writer may still use.
func freeSpace(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// noSpaceMessages are how tools say ENOSPC and EDQUOT (strerror).
var noSpaceMessages = []string{"No space left on device", "Disk quota exceeded"}

// ranOutOfSpace reports whether a build failed because a disk of this
// host was full: a write of the pipeline got ENOSPC or EDQUOT, or the
// tool said so in its last lines. A transfer that failed so is staging's
// disk, not this host's, and is left to the transfer retries.
func ranOutOfSpace(err error) bool {
	if err == nil {
		return false
	}
	// The first stage error is the build's: a failed build's log staged
	// after it may add a transfer error of its own.
	var se *pipeline.StageError
	if errors.As(err, &se) {
		if se.Stage == tasks.StageTransfer {
			return false
		}
		err = se.Err
	}
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
		return true
	}
	var ee *builder.ExitError
	if errors.As(err, &ee) {
		for _, l := range ee.Tail {
			for _, m := range noSpaceMessages {
				if strings.Contains(l, m) {
					return true
				}
			}
		}
	}
	return false
}

// errNoSpace marks a build that ran out of space in the data dir: it is
// handed back, up to Config.SpaceHandBacks times.
type errNoSpace struct {
	host, dir string
	err       error
}

func (e *errNoSpace) Error() string {
	return fmt.Sprintf("the data dir of %s (%s) ran out of space: %v", e.host, e.dir, e.err)
}

func (e *errNoSpace) Unwrap() error { return e.err }
