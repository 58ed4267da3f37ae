package worker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/worker/buildlog"
	"github.com/fedora-fbs/fbs/worker/pipeline"
)

// buildRun is one run of a build on this worker: an attempt taken off a
// build queue, or a retry of its transfer. From start to finish (or park,
// when the transfer is left to a retry) it owns the build's lease, the
// worker's copy of its record, its log and the log's publisher, and the
// lease keeper. It writes the record only while the record is still its
// own: the same attempt, running.
type buildRun struct {
	s       *Server
	id      string
	attempt int
	holder  string // of the lease: host/pid/task
	rec     *record
	// copyEarlierLog has start copy the lines of earlier attempts, which
	// may have run on other hosts, from the stream into the log file.
	copyEarlierLog bool
	// redact hides the kickstart's secrets and the staging user in the
	// log's lines (pipeline.LogRedactor).
	redact func(string) string

	log    *buildlog.Log
	pub    *buildlog.Publisher
	keeper *leaseKeeper
	// progress writes the current stage's progress into the record.
	progress *progressWriter
	work     context.Context // the pipeline's: ended by stop with a cause
	stop     context.CancelCauseFunc
	// release frees the work context; it is called by done.
	release func()
}

// takeBuild holds the lease of build id for holder, then takes the build by
// updating its record with take, which returns errNotOurs when the build is
// not this run's to take. The lease comes first, so that the reaper never
// sees the build running without one; it is dropped again if the build is
// not taken.
func (s *Server) takeBuild(ctx context.Context, id, holder string, take func(*tasks.Build) error) (*tasks.Build, error) {
	if err := s.store.HoldLease(ctx, id, holder, s.cfg.LeaseTTL); err != nil {
		return nil, err // Redis trouble: asynq brings the task back
	}
	b, err := s.store.Update(ctx, id, take)
	if err != nil {
		_ = s.store.DropLease(context.WithoutCancel(ctx), id)
		return nil, err
	}
	return b, nil
}

// newBuildRun returns the run of build b, taken by holder; payload is the
// build's, kept with the record copy. The run's work ends with ctx, when
// stopped, or after timeout with errTimeout (0: no timeout of its own).
// done must be called when the run is over.
func (s *Server) newBuildRun(ctx context.Context, b *tasks.Build, holder string, payload []byte, timeout time.Duration) *buildRun {
	r := &buildRun{s: s, id: b.ID, attempt: b.Attempt, holder: holder, rec: newRecord(s.store, b, payload, s.log)}
	if p, err := tasks.DecodePayload(payload); err == nil {
		r.redact = pipeline.LogRedactor(p)
	}
	r.work, r.stop = context.WithCancelCause(ctx)
	r.release = func() { r.stop(nil) }
	if timeout > 0 {
		var cancel context.CancelFunc
		r.work, cancel = context.WithTimeoutCause(r.work, timeout, errTimeout)
		r.release = func() { cancel(); r.stop(nil) }
	}
	return r
}

// done frees what the run holds of its context.
func (r *buildRun) done() { r.release() }

// start opens the build's log, publishing it, and starts the lease keeper.
func (r *buildRun) start(ctx context.Context) error {
	l, pub, err := r.s.openLog(ctx, r.id, r.attempt, r.copyEarlierLog, r.redact)
	if err != nil {
		return fmt.Errorf("open build log: %w", err)
	}
	r.log, r.pub = l, pub
	r.keeper = newLeaseKeeper(leaseKeeperParams{
		store: r.s.store, id: r.id, holder: r.holder, attempt: r.attempt, ttl: r.s.cfg.LeaseTTL,
		stop: r.stop, rec: r.rec, lost: pub.Resync, log: r.s.log,
	})
	r.keeper.Start(ctx)
	r.progress = newProgressWriter(progressWriterParams{id: r.id, update: r.update, log: r.s.log})
	r.progress.Start(ctx)
	return nil
}

// workEnded stops the lease keeper once the pipeline returned err, and
// says why the work ended: the cause it was stopped with, if any, and a
// cancel by asynq (a user asked) as errCancelled.
func (r *buildRun) workEnded(err error) error {
	r.keeper.Stop()
	r.progress.Stop()
	cause := context.Cause(r.work)
	if err == nil || cause == nil {
		return err
	}
	if errors.Is(cause, context.Canceled) {
		return errCancelled
	}
	return cause
}

// update changes the record with fn while it is still this run's; when it
// is not, it does nothing.
func (r *buildRun) update(ctx context.Context, fn func(*tasks.Build)) error {
	_, err := r.rec.update(ctx, func(b *tasks.Build) error {
		if b.Attempt != r.attempt || b.State != tasks.StateRunning {
			return errNotOurs
		}
		fn(b)
		return nil
	})
	if errors.Is(err, errNotOurs) {
		return nil
	}
	return err
}

// observe records the stages of the pipeline as they start and end, and
// the progress of those that move bytes.
func (r *buildRun) observe(ctx context.Context) pipeline.Observer {
	return pipeline.Observer{
		Stage: func(st tasks.StageTiming, done bool) {
			if done {
				r.progress.stageEnded()
			}
			var typ tasks.ImageType
			err := r.update(ctx, func(b *tasks.Build) {
				b.Progress = nil
				typ = b.Spec.Type
				if done {
					b.Stages = append(b.Stages, st)
				} else {
					b.Stage = st.Stage
				}
			})
			if err != nil {
				r.s.log.Warn("update build stage", "build", r.id, "err", err)
			}
			if done && typ != "" {
				if err := r.s.metrics.StageDone(ctx, typ, st.Stage, st.Duration); err != nil {
					r.s.log.Warn("record stage duration", "build", r.id, "err", err)
				}
			}
		},
		Progress: r.progress.publish,
	}
}

// observeProgress records the progress of a transfer retry, whose stages
// the retry records itself once it is over.
func (r *buildRun) observeProgress(ctx context.Context) pipeline.Observer {
	return pipeline.Observer{
		Stage: func(st tasks.StageTiming, done bool) {
			if !done {
				return
			}
			r.progress.stageEnded()
			if err := r.update(ctx, func(b *tasks.Build) { b.Progress = nil }); err != nil {
				r.s.log.Warn("update build progress", "build", r.id, "err", err)
			}
		},
		Progress: r.progress.publish,
	}
}

// closeLog writes the log's last line, closes it and publishes the rest.
func (r *buildRun) closeLog(format string, args ...any) {
	if r.log != nil {
		r.log.Printf(format, args...)
		if err := r.log.Close(); err != nil {
			r.s.log.Warn("close build log", "build", r.id, "err", err)
		}
	}
	if r.pub != nil {
		r.pub.Stop()
	}
}

func (r *buildRun) dropLease(ctx context.Context) {
	if err := r.s.store.DropLease(ctx, r.id); err != nil {
		r.s.log.Warn("drop build lease", "build", r.id, "err", err)
	}
}

// finish records how the build ended, closes its log and tells asynq. A
// build whose images were made but whose transfer failed is parked
// instead.
func (r *buildRun) finish(ctx context.Context, res *pipeline.Result, runErr error) error {
	ctx = context.WithoutCancel(ctx)
	if res == nil {
		res = &pipeline.Result{}
	}
	cfg := r.s.cfg
	now := time.Now().UTC()
	state := tasks.StateSucceeded
	var msg string
	// noSpace is set when the data dir ran out of space: the build is
	// handed back, or fails once it was handed back SpaceHandBacks times.
	var noSpace *errNoSpace
	switch {
	case runErr == nil:
	case errors.Is(runErr, errDrain):
		state = tasks.StateQueued
	case errors.As(runErr, &noSpace):
		if n := r.rec.spaceHandBacks(); n >= cfg.SpaceHandBacks {
			state = tasks.StateFailed
			msg = fmt.Sprintf("%v; handed back %d times before for want of space: the image needs more room than the workers' data dirs had (min_free %s)",
				noSpace, n, tasks.HumanSize(cfg.MinFree))
		} else {
			state = tasks.StateQueued
		}
	case errors.Is(runErr, errCancelled):
		state = tasks.StateCancelled
	case errors.Is(runErr, errLeaseLost):
		// Another worker or the reaper owns the build now; write nothing.
		r.closeLog("stopping: %v", runErr)
		return fmt.Errorf("%v: %w", runErr, asynq.SkipRetry)
	case res.Built && isTransferFailure(runErr) && !errors.Is(runErr, egress.ErrRefused):
		// The images are fine, staging is not: retry the transfer later
		// from this host, without holding a build slot. A staging host
		// the outbound-address policy refuses stays refused: no retry.
		return r.park(ctx, res, runErr)
	case errors.Is(runErr, errTimeout):
		state = tasks.StateFailed
		msg = fmt.Sprintf("%s: timed out after %s", failedStage(res, runErr), cfg.BuildTimeout)
	default:
		state = tasks.StateFailed
		msg = runErr.Error()
	}
	switch {
	case state == tasks.StateQueued && noSpace != nil:
		r.closeLog("%v: build handed back to the queue for another worker", noSpace)
	case state == tasks.StateQueued:
		r.closeLog("worker %s is shutting down: build handed back to the queue", cfg.Host)
	case state == tasks.StateFailed:
		r.closeLog("build failed: %s", msg)
	default:
		r.closeLog("build %s", state)
	}
	if noSpace != nil {
		// What it wrote is not worth keeping, and the space is wanted
		// (before the build is queued again, which this host may take).
		r.removeBuildDir()
	}
	// A build handed back goes on under a task of its own, queued here,
	// not under this one: asynq would put this one back only at the end of
	// its shutdown grace, and not at all if this worker died or Redis was
	// away by then; the record said queued all the same, and the build
	// stayed queued for good (the chaos soak, seed 1795792825793017833).
	var handedTo string
	err := r.update(ctx, func(b *tasks.Build) {
		b.State, b.Stage = state, ""
		b.Stages = res.Stages
		b.Artifacts, b.Staged, b.Logs = res.Artifacts, res.Staged, res.Logs
		switch state {
		case tasks.StateQueued:
			handedTo = fmt.Sprintf("%s-d%d", r.id, now.UnixNano())
			b.TaskID = handedTo
			if noSpace != nil {
				b.SpaceHandBacks++
				b.Events = append(b.Events, fmt.Sprintf("%s: handed back by worker %s, whose data dir ran out of space (%d of %d)", now.Format(time.RFC3339), cfg.Host, b.SpaceHandBacks, cfg.SpaceHandBacks))
			} else {
				b.Events = append(b.Events, fmt.Sprintf("%s: handed back by draining worker %s", now.Format(time.RFC3339), cfg.Host))
			}
		case tasks.StateFailed:
			b.Error, b.Tail, b.ToolError, b.Finished = msg, res.Tail, res.ToolError, now
		default:
			b.Finished = now
		}
	})
	if err != nil {
		r.s.log.Error("record build result", "build", r.id, "err", err)
	}
	r.dropLease(ctx)
	if state.Final() {
		// Only the attempt the record says ended ends the stream and
		// mails: a lost attempt's verdict is not the build's, and an end
		// marker would hide the next attempt's lines from every reader.
		switch err := r.s.store.EndLogOf(ctx, r.id, r.attempt, state); {
		case errors.Is(err, builds.ErrAttemptOver):
			r.s.log.Warn("log stream left open: the build record does not say this attempt ended so (reaped or taken by another attempt)", "build", r.id, "attempt", r.attempt, "state", state)
		case err != nil:
			r.s.log.Warn("end build log stream", "build", r.id, "err", err)
			r.s.notifyFinished(ctx, r.id)
		default:
			r.s.notifyFinished(ctx, r.id)
		}
	}
	r.s.log.Info("build ended", "build", r.id, "state", state, "error", msg)
	switch state {
	case tasks.StateQueued:
		if err == nil && handedTo != "" {
			r.handBack(ctx, handedTo)
		}
		// This task is done: the record names the new one.
		return nil
	case tasks.StateFailed, tasks.StateCancelled:
		return fmt.Errorf("build %s %s: %w", r.id, state, asynq.SkipRetry)
	}
	return nil
}

// removeBuildDir removes the build's directory on this host: its log
// (published by now), scratch space and images.
func (r *buildRun) removeBuildDir() {
	if err := os.RemoveAll(r.s.pipe.BuildDir(r.id)); err != nil {
		r.s.log.Warn("remove build dir", "build", r.id, "err", err)
	}
}

// handBack queues the build again under task taskID, which the record
// already names. If Redis refuses, the reaper finds the record naming a
// task that does not exist and queues it (reaper.Config.TaskGone).
func (r *buildRun) handBack(ctx context.Context, taskID string) {
	p, err := tasks.DecodePayload(r.rec.payload)
	if err == nil {
		var t *asynq.Task
		if t, err = tasks.NewBuildTask(p, taskID, r.s.cfg.BuildTimeout); err == nil {
			_, err = r.s.queue.EnqueueContext(ctx, t)
		}
	}
	if err != nil {
		r.s.log.Error("hand back build: the reaper will queue it again", "build", r.id, "task", taskID, "err", err)
	}
}

// park hands a built build whose transfer failed over to the transfer
// retry: a transfer task on this host's queue retries with backoff until
// TransferRetryFor has passed, and the record says the build waits.
//
// Redis may be away right then (the transfer failed with it, perhaps): the
// retry is scheduled again and again, holding the build's lease so that
// the reaper leaves it alone, for up to parkRetryFor; only then does the
// build fail.
func (r *buildRun) park(ctx context.Context, res *pipeline.Result, runErr error) error {
	until := time.Now().Add(r.s.cfg.TransferRetryFor).UTC()
	t, err := r.s.transferTask(r.id, r.attempt, until)
	if err == nil {
		err = r.enqueueRetry(ctx, t)
	}
	switch {
	case errors.Is(err, builds.ErrAttemptOver):
		// Reaped while Redis was away: the build is another attempt's.
		r.closeLog("stopping: %v", errLeaseLost)
		return fmt.Errorf("%v: %w", errLeaseLost, asynq.SkipRetry)
	case err != nil:
		res.Built = false
		return r.finish(ctx, res, fmt.Errorf("%w; could not schedule a retry (%v): the images are still on %s in %s", runErr, err, r.s.cfg.Host, res.OutDir))
	}
	r.waitForRetry(ctx, res, runErr, until)
	return nil
}

// parkRetryFor bounds how long park tries to schedule a transfer retry
// while Redis is away: past it the build fails, its images left on the
// host. Redis restarts take seconds; WaitRedis gives a service a minute.
const parkRetryFor = 2 * time.Minute

// enqueueRetry queues t, the build's transfer retry, trying again with
// a growing pause (up to 5 s) for up to parkRetryFor or until ctx ends.
// Before each try it holds the build's lease again, so the build is not
// taken for lost while its worker waits for Redis; it returns
// builds.ErrAttemptOver if the record moved on meanwhile. A task ID taken
// means an earlier try got through although its answer was lost.
func (r *buildRun) enqueueRetry(ctx context.Context, t *asynq.Task) error {
	deadline := time.Now().Add(parkRetryFor)
	wait := 250 * time.Millisecond
	for try := 1; ; try++ {
		err := r.s.store.HoldLeaseOf(ctx, r.id, r.holder, r.attempt, r.s.cfg.LeaseTTL)
		if errors.Is(err, builds.ErrAttemptOver) {
			return err
		}
		if err == nil {
			_, err = r.s.queue.EnqueueContext(ctx, t)
			if errors.Is(err, asynq.ErrTaskIDConflict) {
				err = nil
			}
		}
		if err == nil {
			return nil
		}
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("%d tries over %s: %w", try, parkRetryFor, err)
		}
		r.s.log.Warn("schedule transfer retry: Redis unavailable; trying again", "build", r.id, "try", try, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %w)", err, context.Cause(ctx))
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// waitForRetry records that the build waits for a transfer retry, closes
// the log and lets go of the lease until the retry runs.
func (r *buildRun) waitForRetry(ctx context.Context, res *pipeline.Result, runErr error, until time.Time) {
	why := fmt.Sprintf("transfer failed (%v); retrying from %s until %s", runErr, r.s.cfg.Host, until.Format(time.RFC3339))
	r.closeLog("%s", why)
	err := r.update(ctx, func(b *tasks.Build) {
		b.Stage, b.Waiting, b.WaitingUntil, b.Stages = tasks.StageTransfer, why, until, res.Stages
		b.Events = append(b.Events, time.Now().UTC().Format(time.RFC3339)+": "+why)
	})
	if err != nil {
		r.s.log.Error("record transfer retry", "build", r.id, "err", err)
	}
	r.dropLease(ctx)
	r.s.log.Warn("transfer failed; will retry", "build", r.id, "until", until, "err", runErr)
}

func failedStage(r *pipeline.Result, err error) tasks.Stage {
	if r.Failed != "" {
		return r.Failed
	}
	var se *pipeline.StageError
	if errors.As(err, &se) {
		return se.Stage
	}
	return tasks.StageBuild
}

func isTransferFailure(err error) bool {
	var se *pipeline.StageError
	return errors.As(err, &se) && se.Stage == tasks.StageTransfer
}

// openLog opens the log file of build id and starts publishing it. With
// copyEarlier (a later attempt, which may follow attempts on other hosts),
// the lines of earlier attempts are copied from the stream first, so the
// staged log holds the whole story. The stream takes lines only while
// attempt runs (see builds.Store.AppendLogTextOf).
func (s *Server) openLog(ctx context.Context, id string, attempt int, copyEarlier bool, redact func(string) string) (*buildlog.Log, *buildlog.Publisher, error) {
	path := s.pipe.LogPath(id)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, err
	}
	if copyEarlier {
		if err := s.copyEarlierLog(ctx, id, path); err != nil {
			return nil, nil, err
		}
	}
	pub := buildlog.NewPublisher(s.store, id, path, buildlog.PublisherOptions{MaxLen: s.cfg.LogMaxLen, Attempt: attempt, Logger: s.log})
	l, err := buildlog.Create(path, buildlog.Options{Notify: pub.Wake, Redact: redact})
	if err != nil {
		return nil, nil, err
	}
	pub.Start(context.WithoutCancel(ctx))
	return l, pub, nil
}

func (s *Server) copyEarlierLog(ctx context.Context, id, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	after := 0
	for {
		lines, _, err := s.store.ReadLog(ctx, id, after, 10000, 0)
		if err != nil {
			f.Close()
			return err
		}
		if len(lines) == 0 {
			break
		}
		for _, l := range lines {
			// Keep numbering aligned with the stream even across a trim.
			for after+1 < l.N {
				after++
				w.WriteString("(line trimmed from the stream)\n")
			}
			w.WriteString(strings.TrimRight(l.Text, "\n") + "\n")
			after = l.N
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
