package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/worker/buildlog"
	"github.com/fedora-fbs/fbs/worker/pipeline"
)

// processBuild is the asynq handler of build tasks.
func (s *Server) processBuild(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.DecodePayload(t.Payload())
	if err != nil {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	taskID, _ := asynq.GetTaskID(ctx)
	holder := fmt.Sprintf("%s/%d/%s", s.cfg.Host, os.Getpid(), taskID)
	// The lease comes first, so the reaper never sees this build running
	// without one.
	if err := s.store.HoldLease(ctx, p.ID, holder, s.cfg.LeaseTTL); err != nil {
		return err // Redis trouble: asynq's lease will bring the task back
	}
	b, err := s.claim(ctx, p.ID, taskID)
	if err != nil {
		_ = s.store.DropLease(context.WithoutCancel(ctx), p.ID)
		switch {
		case errors.Is(err, errSkip):
			return nil
		case errors.Is(err, builds.ErrNotFound):
			return fmt.Errorf("build %s has no record: %w", p.ID, asynq.SkipRetry)
		}
		return err
	}
	if b.State == tasks.StateCancelled {
		_ = s.store.DropLease(context.WithoutCancel(ctx), p.ID)
		return s.store.EndLog(ctx, p.ID, tasks.StateCancelled)
	}
	return s.run(ctx, p, b, holder, newRecord(s.store, b, t.Payload(), s.log))
}

// claim marks the build running on this worker, unless it is over, was
// cancelled, or was re-queued under another task ID.
func (s *Server) claim(ctx context.Context, id, taskID string) (*tasks.Build, error) {
	now := time.Now().UTC()
	return s.store.Update(ctx, id, func(b *tasks.Build) error {
		if b.State.Final() || b.TaskID != taskID || b.State == tasks.StateRunning {
			return errSkip
		}
		if b.CancelRequested {
			b.State, b.Finished = tasks.StateCancelled, now
			return nil
		}
		b.State, b.Stage, b.Error, b.Tail = tasks.StateRunning, "", "", nil
		b.Attempt++
		b.Worker = s.cfg.Host
		if b.Started.IsZero() {
			b.Started = now
		}
		return nil
	})
}

func (s *Server) run(ctx context.Context, p *tasks.Payload, b *tasks.Build, holder string, rec *record) error {
	attempt := b.Attempt
	bctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	bctx, cancelT := context.WithTimeoutCause(bctx, s.cfg.BuildTimeout, errTimeout)
	defer cancelT()
	s.mu.Lock()
	s.active[p.ID] = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.active, p.ID)
		s.mu.Unlock()
	}()
	l, pub, err := s.openLog(ctx, p.ID, attempt)
	if err != nil {
		return s.finish(ctx, rec, attempt, nil, nil, fmt.Errorf("open build log: %w", err), nil)
	}
	keeper := newLeaseKeeper(s.store, p.ID, holder, s.cfg.LeaseTTL, cancel, rec, pub.Resync)
	keeper.Start(ctx)
	if attempt > 1 {
		l.Printf("attempt %d on %s", attempt, s.cfg.Host)
	} else {
		l.Printf("worker %s took the build", s.cfg.Host)
	}

	res, runErr := s.pipe.Run(bctx, p, l, func(st tasks.StageTiming, done bool) {
		_, err := rec.update(ctx, func(b *tasks.Build) error {
			if b.Attempt != attempt || b.State != tasks.StateRunning {
				return errSkip
			}
			if done {
				b.Stages = append(b.Stages, st)
			} else {
				b.Stage = st.Stage
			}
			return nil
		})
		if err != nil && !errors.Is(err, errSkip) {
			s.log.Warn("update build stage", "build", p.ID, "err", err)
		}
	})
	keeper.Stop()
	cause := context.Cause(bctx)
	if runErr != nil && cause != nil {
		runErr = cause
	}
	if runErr != nil && errors.Is(cause, context.Canceled) {
		// asynq cancelled the task: a user asked (CancelProcessing).
		runErr = errCancelled
	}
	return s.finish(ctx, rec, attempt, l, pub, runErr, res)
}

// finish records how the build ended, closes its log and tells asynq.
func (s *Server) finish(ctx context.Context, rec *record, attempt int, l *buildlog.Log, pub *buildlog.Publisher, runErr error, r *pipeline.Result) error {
	ctx = context.WithoutCancel(ctx)
	id := rec.id()
	if r == nil {
		r = &pipeline.Result{}
	}
	now := time.Now().UTC()
	state := tasks.StateSucceeded
	var msg string
	switch {
	case runErr == nil:
	case errors.Is(runErr, errDrain):
		state = tasks.StateQueued
	case errors.Is(runErr, errCancelled):
		state = tasks.StateCancelled
	case errors.Is(runErr, errLeaseLost):
		// Another worker or the reaper owns the build now; write nothing.
		if l != nil {
			l.Printf("stopping: %v", runErr)
			l.Close()
		}
		if pub != nil {
			stopPublisher(ctx, pub)
		}
		return fmt.Errorf("%v: %w", runErr, asynq.SkipRetry)
	case r.Built && isTransferFailure(runErr):
		// The images are fine, staging is not: retry the transfer later
		// from this host, without holding a build slot.
		return s.awaitTransfer(ctx, rec, attempt, l, pub, r, runErr)
	case errors.Is(runErr, errTimeout):
		state = tasks.StateFailed
		msg = fmt.Sprintf("%s: timed out after %s", failedStage(r, runErr), s.cfg.BuildTimeout)
	default:
		state = tasks.StateFailed
		msg = runErr.Error()
	}
	if l != nil {
		switch state {
		case tasks.StateQueued:
			l.Printf("worker %s is shutting down: build handed back to the queue", s.cfg.Host)
		case tasks.StateFailed:
			l.Printf("build failed: %s", msg)
		default:
			l.Printf("build %s", state)
		}
		if err := l.Close(); err != nil {
			s.log.Warn("close build log", "build", id, "err", err)
		}
	}
	if pub != nil {
		stopPublisher(ctx, pub)
	}
	_, err := rec.update(ctx, func(b *tasks.Build) error {
		if b.Attempt != attempt || b.State != tasks.StateRunning {
			return errSkip
		}
		b.State, b.Stage = state, ""
		b.Stages = r.Stages
		b.Artifacts, b.Staged = r.Artifacts, r.Staged
		switch state {
		case tasks.StateQueued:
			b.Events = append(b.Events, fmt.Sprintf("%s: handed back by draining worker %s", now.Format(time.RFC3339), s.cfg.Host))
		case tasks.StateFailed:
			b.Error, b.Tail, b.Finished = msg, r.Tail, now
		default:
			b.Finished = now
		}
		return nil
	})
	if err != nil && !errors.Is(err, errSkip) {
		s.log.Error("record build result", "build", id, "err", err)
	}
	if err := s.store.DropLease(ctx, id); err != nil {
		s.log.Warn("drop build lease", "build", id, "err", err)
	}
	if state.Final() {
		if err := s.store.EndLog(ctx, id, state); err != nil {
			s.log.Warn("end build log stream", "build", id, "err", err)
		}
		s.notifyFinished(ctx, id)
	}
	s.log.Info("build ended", "build", id, "state", state, "error", msg)
	switch state {
	case tasks.StateQueued:
		// asynq puts the task back on its queue when its shutdown timeout
		// runs out; returning before would make it archive the task.
		<-s.stopped
		return errDrain
	case tasks.StateFailed, tasks.StateCancelled:
		return fmt.Errorf("build %s %s: %w", id, state, asynq.SkipRetry)
	}
	return nil
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

func stopPublisher(ctx context.Context, pub *buildlog.Publisher) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_ = pub.Stop(sctx)
}

// openLog opens the build's log file and starts publishing it. On a later
// attempt on another host, the lines of earlier attempts are copied from the
// stream first, so the staged log holds the whole story.
func (s *Server) openLog(ctx context.Context, id string, attempt int) (*buildlog.Log, *buildlog.Publisher, error) {
	path := s.pipe.LogPath(id)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, err
	}
	if attempt > 1 {
		if err := s.copyEarlierLog(ctx, id, path); err != nil {
			return nil, nil, err
		}
	}
	pub := buildlog.NewPublisher(s.store, id, path, buildlog.PublisherOptions{MaxLen: s.cfg.LogMaxLen, Logger: s.log})
	l, err := buildlog.Create(path, buildlog.Options{Notify: pub.Wake})
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

func isTransferFailure(err error) bool {
	var se *pipeline.StageError
	return errors.As(err, &se) && se.Stage == tasks.StageTransfer
}

// awaitTransfer parks a built build whose transfer failed: the record says
// it waits, and a transfer task on this host's queue retries with backoff
// until TransferRetryFor has passed.
func (s *Server) awaitTransfer(ctx context.Context, rec *record, attempt int, l *buildlog.Log, pub *buildlog.Publisher, r *pipeline.Result, runErr error) error {
	id := rec.id()
	until := time.Now().Add(s.cfg.TransferRetryFor).UTC()
	t, err := tasks.NewTransferTask(tasks.TransferPayload{ID: id, Until: until},
		tasks.TransferTask{Host: s.cfg.Host, Attempt: attempt, Timeout: s.cfg.BuildTimeout, Delay: transferBackoff(s.cfg.TransferBackoff, 0)})
	if err == nil {
		_, err = s.queue.EnqueueContext(ctx, t)
	}
	if err != nil {
		r.Built = false
		return s.finish(ctx, rec, attempt, l, pub, fmt.Errorf("%w; could not schedule a retry (%v): the images are still on %s in %s", runErr, err, s.cfg.Host, r.OutDir), r)
	}
	return s.wait(ctx, rec, attempt, l, pub, r, runErr, until)
}

// wait records that the build waits for a transfer retry.
func (s *Server) wait(ctx context.Context, rec *record, attempt int, l *buildlog.Log, pub *buildlog.Publisher, r *pipeline.Result, runErr error, until time.Time) error {
	id := rec.id()
	why := fmt.Sprintf("transfer failed (%v); retrying from %s until %s", runErr, s.cfg.Host, until.Format(time.RFC3339))
	if l != nil {
		l.Printf("%s", why)
		l.Close()
	}
	if pub != nil {
		stopPublisher(ctx, pub)
	}
	_, err := rec.update(ctx, func(b *tasks.Build) error {
		if b.Attempt != attempt || b.State != tasks.StateRunning {
			return errSkip
		}
		b.Stage, b.Waiting, b.Stages = tasks.StageTransfer, why, r.Stages
		b.Events = append(b.Events, time.Now().UTC().Format(time.RFC3339)+": "+why)
		return nil
	})
	if err != nil && !errors.Is(err, errSkip) {
		s.log.Error("record transfer retry", "build", id, "err", err)
	}
	if err := s.store.DropLease(ctx, id); err != nil {
		s.log.Warn("drop build lease", "build", id, "err", err)
	}
	s.log.Warn("transfer failed; will retry", "build", id, "until", until, "err", runErr)
	return nil
}

// processTransfer is the asynq handler of transfer retries.
func (s *Server) processTransfer(ctx context.Context, t *asynq.Task) error {
	var tp tasks.TransferPayload
	if err := json.Unmarshal(t.Payload(), &tp); err != nil || !tasks.ValidBuildID(tp.ID) {
		return fmt.Errorf("bad transfer payload: %v: %w", err, asynq.SkipRetry)
	}
	data, err := s.store.Payload(ctx, tp.ID)
	if err != nil {
		return fmt.Errorf("transfer of build %s: %v: %w", tp.ID, err, asynq.SkipRetry)
	}
	p, err := tasks.DecodePayload(data)
	if err != nil {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	holder := fmt.Sprintf("%s/%d/transfer", s.cfg.Host, os.Getpid())
	if err := s.store.HoldLease(ctx, tp.ID, holder, s.cfg.LeaseTTL); err != nil {
		return err
	}
	var before []tasks.StageTiming
	b, err := s.store.Update(ctx, tp.ID, func(b *tasks.Build) error {
		if b.State != tasks.StateRunning || b.Waiting == "" {
			return errSkip // cancelled meanwhile, or done
		}
		b.Waiting, b.Stage = "", tasks.StageTransfer
		before = b.Stages
		return nil
	})
	if err != nil {
		_ = s.store.DropLease(context.WithoutCancel(ctx), tp.ID)
		if errors.Is(err, errSkip) {
			return nil
		}
		return err
	}
	attempt := b.Attempt
	rec := newRecord(s.store, b, data, s.log)
	bctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	l, pub, err := s.openLog(ctx, tp.ID, 1)
	if err != nil {
		return s.finish(ctx, rec, attempt, nil, nil, fmt.Errorf("open build log: %w", err), nil)
	}
	keeper := newLeaseKeeper(s.store, tp.ID, holder, s.cfg.LeaseTTL, cancel, rec, pub.Resync)
	keeper.Start(ctx)
	retry, _ := asynq.GetRetryCount(ctx)
	l.Printf("transfer retry %d on %s", retry+1, s.cfg.Host)
	res, runErr := s.pipe.Retransfer(bctx, p, l, nil)
	keeper.Stop()
	res.Stages = append(append([]tasks.StageTiming(nil), before...), res.Stages...)
	if runErr != nil && context.Cause(bctx) != nil {
		runErr = context.Cause(bctx)
		if errors.Is(runErr, context.Canceled) {
			runErr = errCancelled
		}
	}
	switch {
	case runErr == nil, !res.Built, !isTransferFailure(runErr):
		return s.finish(ctx, rec, attempt, l, pub, runErr, res)
	case time.Now().After(tp.Until):
		res.Built = false
		return s.finish(ctx, rec, attempt, l, pub, fmt.Errorf("%w; gave up retrying at %s: the images are still on %s in %s", runErr, tp.Until.Format(time.RFC3339), s.cfg.Host, res.OutDir), res)
	}
	_ = s.wait(ctx, rec, attempt, l, pub, res, runErr, tp.Until)
	return runErr // asynq retries after the backoff
}

// notifyFinished queues the completion mail of build id. Redis being
// briefly away must not lose the mail, so it tries for a while.
func (s *Server) notifyFinished(ctx context.Context, id string) {
	for i, wait := 0, time.Second; ; i, wait = i+1, wait*2 {
		b, err := s.store.Get(ctx, id)
		if err == nil {
			if err = client.Notify(ctx, s.queue, b); err == nil {
				return
			}
		}
		if i == 6 {
			s.log.Error("queue completion mail", "build", id, "err", err)
			return
		}
		time.Sleep(wait)
	}
}
