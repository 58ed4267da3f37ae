package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/worker/builder"
)

// processBuild is the asynq handler of build tasks.
func (s *Server) processBuild(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.DecodePayload(t.Payload())
	if err != nil {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	taskID, _ := asynq.GetTaskID(ctx)
	var te *builder.ToolError
	if err := s.pipe.Check(&p.Spec); errors.As(err, &te) {
		return s.handBack(ctx, p, taskID, te.Error(), "build handed back: this host lacks its tool", "missing", te.Tool)
	}
	// A data dir low on space would fail the build within a second: it is
	// other workers' to take, and this one pauses itself until it has room.
	if low := s.space.look(ctx); low != "" {
		return s.handBack(ctx, p, taskID, low, "build handed back: the data dir is low on space", "why", low)
	}
	holder := fmt.Sprintf("%s/%d/%s", s.cfg.Host, os.Getpid(), taskID)
	b, err := s.takeBuild(ctx, p.ID, holder, s.claim(taskID))
	switch {
	case errors.Is(err, errNotOurs):
		return nil
	case errors.Is(err, builds.ErrNotFound):
		return fmt.Errorf("build %s has no record: %w", p.ID, asynq.SkipRetry)
	case err != nil:
		return err
	}
	if b.State == tasks.StateCancelled {
		_ = s.store.DropLease(context.WithoutCancel(ctx), p.ID)
		return s.store.EndLog(ctx, p.ID, tasks.StateCancelled)
	}

	run := s.newBuildRun(ctx, b, holder, t.Payload(), s.cfg.BuildTimeout)
	defer run.done()
	run.copyEarlierLog = run.attempt > 1
	s.mu.Lock()
	s.active[p.ID] = run.stop
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.active, p.ID)
		s.mu.Unlock()
	}()
	if err := run.start(ctx); err != nil {
		return run.finish(ctx, nil, s.spaceFailure(ctx, err))
	}
	if run.attempt > 1 {
		run.log.Printf("attempt %d on %s", run.attempt, s.cfg.Host)
	} else {
		run.log.Printf("worker %s took the build", s.cfg.Host)
	}
	res, runErr := s.pipe.Run(run.work, p, run.log, run.observe(ctx))
	return run.finish(ctx, res, s.spaceFailure(ctx, run.workEnded(runErr)))
}

// spaceFailure returns err as an *errNoSpace when the build failed because
// the data dir ran out of space, and pauses the worker for space; other
// errors (and all with min_free 0) are returned as they are.
func (s *Server) spaceFailure(ctx context.Context, err error) error {
	if !s.space.on() || !ranOutOfSpace(err) {
		return err
	}
	s.space.ranOut(ctx, err)
	return &errNoSpace{host: s.cfg.Host, dir: s.pipe.DataDir(), err: err}
}

// handBack gives a build this host cannot run now back to its queue (it
// lacks the tool, or its data dir is low on space: why says which), as a
// new task that waits HandBackDelay (plus up to half again, so workers
// lacking the same tool spread out) before any worker of the queue may
// take it. The build is never claimed here: its attempt count, state and
// log are untouched. The record names the new task, so a cancel deletes
// it; a record that is no longer this task's (cancelled, re-queued) ends
// the task instead. msg and attrs are logged once it is handed back.
func (s *Server) handBack(ctx context.Context, p *tasks.Payload, taskID, why, msg string, attrs ...any) error {
	newID := fmt.Sprintf("%s-h%d", p.ID, time.Now().UnixNano())
	_, err := s.store.Update(ctx, p.ID, func(b *tasks.Build) error {
		if b.State != tasks.StateQueued || b.TaskID != taskID || b.CancelRequested {
			return errNotOurs
		}
		b.TaskID = newID
		return nil
	})
	switch {
	case errors.Is(err, errNotOurs):
		return nil
	case errors.Is(err, builds.ErrNotFound):
		return fmt.Errorf("build %s has no record: %w", p.ID, asynq.SkipRetry)
	case err != nil:
		return fmt.Errorf("hand back build %s: %w", p.ID, err)
	}
	delay := s.cfg.HandBackDelay + rand.N(s.cfg.HandBackDelay/2+1)
	t, err := tasks.NewBuildTask(p, newID, s.cfg.BuildTimeout)
	if err == nil {
		_, err = s.queue.EnqueueContext(ctx, t, asynq.ProcessIn(delay))
	}
	if err != nil {
		// The record names a task that does not exist: say so rather
		// than leave the build queued forever.
		now := time.Now().UTC()
		_, uerr := s.store.Update(context.WithoutCancel(ctx), p.ID, func(b *tasks.Build) error {
			if b.TaskID != newID || b.State != tasks.StateQueued {
				return errNotOurs
			}
			b.State, b.Finished = tasks.StateFailed, now
			b.Error = fmt.Sprintf("%s cannot run it (%s) and could not hand it back: %v", s.cfg.Host, why, err)
			return nil
		})
		if uerr == nil {
			_ = s.store.EndLog(ctx, p.ID, tasks.StateFailed)
			s.notifyFinished(context.WithoutCancel(ctx), p.ID)
		}
		return fmt.Errorf("hand back build %s: %w: %w", p.ID, err, asynq.SkipRetry)
	}
	s.log.Info(msg, append([]any{"build", p.ID, "kind", p.Spec.Kind(), "retry_in", delay.Round(time.Millisecond)}, attrs...)...)
	return nil
}

// claim returns the update that marks a build running on this worker,
// unless it is over, was cancelled, or was re-queued under another task ID
// than taskID.
func (s *Server) claim(taskID string) func(*tasks.Build) error {
	now := time.Now().UTC()
	return func(b *tasks.Build) error {
		if b.State.Final() || b.TaskID != taskID || b.State == tasks.StateRunning {
			return errNotOurs
		}
		if b.CancelRequested {
			b.State, b.Finished = tasks.StateCancelled, now
			return nil
		}
		b.State, b.Stage, b.Error, b.Tail, b.ToolError = tasks.StateRunning, "", "", nil, nil
		// A wait for an earlier attempt's transfer is not this attempt's.
		b.Waiting, b.WaitingUntil = "", time.Time{}
		b.Attempt++
		b.Worker = s.cfg.Host
		if b.Started.IsZero() {
			b.Started = now
		}
		return nil
	}
}

// processTransfer is the asynq handler of transfer retries.
func (s *Server) processTransfer(ctx context.Context, t *asynq.Task) error {
	var tp tasks.TransferPayload
	if err := json.Unmarshal(t.Payload(), &tp); err != nil || !tasks.ValidBuildID(tp.ID) {
		return fmt.Errorf("bad transfer payload: %v: %w", err, asynq.SkipRetry)
	}
	data, err := s.store.Payload(ctx, tp.ID)
	switch {
	case errors.Is(err, builds.ErrNotFound):
		return fmt.Errorf("transfer of build %s: %v: %w", tp.ID, err, asynq.SkipRetry)
	case err != nil:
		// Redis away or slow: asynq retries. Ending the task here left the
		// build waiting for a retry that no longer existed.
		return fmt.Errorf("transfer of build %s: %w", tp.ID, err)
	}
	p, err := tasks.DecodePayload(data)
	if err != nil {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	holder := fmt.Sprintf("%s/%d/transfer", s.cfg.Host, os.Getpid())
	attempt := tp.Attempt
	if attempt == 0 {
		taskID, _ := asynq.GetTaskID(ctx)
		attempt = transferAttempt(tp.ID, taskID)
	}
	var before []tasks.StageTiming
	b, err := s.takeBuild(ctx, tp.ID, holder, func(b *tasks.Build) error {
		// Cancelled meanwhile, done, or moved on to another attempt
		// (re-queued when this host was gone), whose images these are not.
		if b.State != tasks.StateRunning || b.Waiting == "" || (attempt > 0 && b.Attempt != attempt) {
			return errNotOurs
		}
		b.Waiting, b.WaitingUntil, b.Stage = "", time.Time{}, tasks.StageTransfer
		before = b.Stages
		return nil
	})
	if errors.Is(err, errNotOurs) {
		return nil
	}
	if err != nil {
		return err
	}

	run := s.newBuildRun(ctx, b, holder, data, 0)
	defer run.done()
	// A drain lets the retry finish for up to DrainTimeout, then stops it
	// with errDrain, as it does builds.
	s.mu.Lock()
	s.active[tp.ID] = run.stop
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.active, tp.ID)
		s.mu.Unlock()
	}()
	if err := run.start(ctx); err != nil {
		return run.finish(ctx, nil, err)
	}
	retry, _ := asynq.GetRetryCount(ctx)
	run.log.Printf("transfer retry %d on %s", retry+1, s.cfg.Host)
	res, runErr := s.pipe.Retransfer(run.work, p, run.log, run.observeProgress(ctx))
	runErr = run.workEnded(runErr)
	res.Stages = append(append([]tasks.StageTiming(nil), before...), res.Stages...)
	switch {
	case errors.Is(runErr, errDrain):
		// The images are only on this host: the build waits again, and
		// asynq schedules the task again on this host's transfer queue
		// (after drainRetryDelay: see newAsynq), so the worker retries once
		// it is back. Finishing here would record the stop as a cancel
		// nobody asked for.
		run.waitForRetry(context.WithoutCancel(ctx), res, runErr, tp.Until)
		return errDrain
	case runErr == nil, !res.Built, !isTransferFailure(runErr):
		return run.finish(ctx, res, runErr)
	case time.Now().After(tp.Until):
		res.Built = false
		return run.finish(ctx, res, fmt.Errorf("%w; gave up retrying at %s: the images are still on %s in %s", runErr, tp.Until.Format(time.RFC3339), s.cfg.Host, res.OutDir))
	}
	run.waitForRetry(ctx, res, runErr, tp.Until)
	return runErr // asynq retries after the backoff
}

// transferAttempt is the attempt a transfer task of build id works for,
// read from its task ID (tasks.TransferTaskID); 0 if it names none.
func transferAttempt(id, taskID string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(taskID, id+":transfer:"))
	if err != nil || !strings.HasPrefix(taskID, id+":transfer:") {
		return 0
	}
	return n
}

// transferTask is the task that retries the transfer of build id, made on
// its attempt, from this host until until.
func (s *Server) transferTask(id string, attempt int, until time.Time) (*asynq.Task, error) {
	return tasks.NewTransferTask(tasks.TransferPayload{ID: id, Until: until, Attempt: attempt},
		tasks.TransferTask{Host: s.cfg.Host, Attempt: attempt, Timeout: s.cfg.BuildTimeout, Delay: transferBackoff(s.cfg.TransferBackoff, s.cfg.TransferBackoffMax, 0)})
}

// notifyFinished queues the completion mail of build id. It tries once:
// storing the final state marked the build due a mail, and if Redis is
// away now, this worker's reaper (or any other) queues it once Redis is
// back (reaper.Config.MailGrace).
func (s *Server) notifyFinished(ctx context.Context, id string) {
	b, err := s.store.Get(ctx, id)
	if err == nil {
		err = client.Notify(ctx, s.queue, s.store, b)
	}
	if err != nil {
		s.log.Warn("queue completion mail; left to the reaper", "build", id, "err", err)
	}
}
