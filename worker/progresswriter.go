package worker

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/startstop"
)

// progressWriteTimeout bounds one write of a build's progress: a report
// that cannot be written in time gives way to the next one.
const progressWriteTimeout = 5 * time.Second

// progressWriter writes how far a build's current stage is into its record
// (tasks.Build.Progress), in the background: the stages' meters hand it
// their reports on the transferring goroutine, which must never wait for
// Redis, and it keeps only the newest. A report made before its stage
// ended is dropped once the stage has ended, so the record never shows the
// progress of a stage that is over.
type progressWriter struct {
	params progressWriterParams
	loop   startstop.Loop
	// latest holds the newest report not yet written.
	latest chan stamped
	// mu is held while a report is written, so that stageEnded returns
	// only once no stale write is under way.
	mu sync.Mutex
	// gen counts the stages that ended; a report carries the count as it
	// was made.
	gen atomic.Uint64
}

// progressWriterParams is what a progressWriter needs.
type progressWriterParams struct {
	id string
	// update changes the build's record while it is still the run's.
	update func(ctx context.Context, fn func(*tasks.Build)) error
	log    *slog.Logger
}

type stamped struct {
	p   tasks.Progress
	gen uint64
}

func newProgressWriter(p progressWriterParams) *progressWriter {
	return &progressWriter{params: p, latest: make(chan stamped, 1)}
}

// publish queues p to be written, replacing a report still waiting. It
// never blocks.
func (w *progressWriter) publish(p tasks.Progress) {
	s := stamped{p: p, gen: w.gen.Load()}
	for {
		select {
		case w.latest <- s:
			return
		default:
		}
		select {
		case <-w.latest:
		default:
		}
	}
}

// stageEnded drops the reports of the stage that ended, waiting for a
// write of one under way.
func (w *progressWriter) stageEnded() {
	w.mu.Lock()
	w.gen.Add(1)
	w.mu.Unlock()
}

// Start writes reports as they come, until Stop or ctx ends.
func (w *progressWriter) Start(ctx context.Context) {
	w.loop.Start(ctx, func(ctx context.Context, stop <-chan struct{}) {
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case s := <-w.latest:
				w.write(ctx, s)
			}
		}
	})
}

// Stop ends the loop; reports not yet written are dropped. A nil writer
// (a run whose start failed) has nothing to stop.
func (w *progressWriter) Stop() {
	if w != nil {
		w.loop.Stop()
	}
}

func (w *progressWriter) write(ctx context.Context, s stamped) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.gen != w.gen.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, progressWriteTimeout)
	defer cancel()
	err := w.params.update(ctx, func(b *tasks.Build) {
		if b.Stage == s.p.Stage {
			p := s.p
			b.Progress = &p
		}
	})
	if err != nil {
		w.params.log.Debug("write build progress", "build", w.params.id, "err", err)
	}
}
