package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
)

// ReaperConfig configures a Reaper.
type ReaperConfig struct {
	// Interval between looks at the running builds (default 10 s).
	Interval time.Duration
	// LostBuilds is "requeue" (once, then fail) or "fail".
	LostBuilds string
	// BuildTimeout is the asynq timeout of re-queued tasks.
	BuildTimeout time.Duration
	// Logger receives what the reaper did.
	Logger *slog.Logger
}

// Reaper finds builds marked running whose worker stopped renewing its lease
// (killed, powered off, cut off) and re-queues them once for another worker
// or marks them failed with "worker lost". Every worker and `fbs serve` run
// one; a lock makes sure one acts per build.
type Reaper struct {
	cfg   ReaperConfig
	store *builds.Store
	queue *asynq.Client

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewReaper returns a reaper over rdb.
func NewReaper(rdb redis.UniversalClient, cfg ReaperConfig) *Reaper {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.LostBuilds == "" {
		cfg.LostBuilds = "requeue"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Reaper{cfg: cfg, store: builds.NewStore(rdb), queue: asynq.NewClientFromRedisClient(rdb),
		stop: make(chan struct{}), done: make(chan struct{})}
}

// Start runs the reaper until Stop.
func (r *Reaper) Start(ctx context.Context) {
	go func() {
		defer close(r.done)
		t := time.NewTicker(r.cfg.Interval)
		defer t.Stop()
		for {
			if err := r.Reap(ctx); err != nil {
				r.cfg.Logger.Warn("reaper", "err", err)
			}
			select {
			case <-r.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends the reaper; safe to call more than once.
func (r *Reaper) Stop() {
	r.once.Do(func() { close(r.stop) })
	<-r.done
	r.queue.Close()
}

// Reap looks once at every running build and deals with the lost ones.
func (r *Reaper) Reap(ctx context.Context) error {
	ids, err := r.store.Running(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		holder, err := r.store.LeaseHolder(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if holder != "" {
			continue
		}
		ok, err := r.store.Lock(ctx, "reap:"+id, 30*time.Second)
		if err != nil || !ok {
			continue
		}
		if err := r.reapOne(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *Reaper) reapOne(ctx context.Context, id string) error {
	now := time.Now().UTC()
	var requeue bool
	var lostMsg string
	b, err := r.store.Update(ctx, id, func(b *tasks.Build) error {
		if b.State != tasks.StateRunning {
			return errSkip
		}
		if h, err := r.store.LeaseHolder(ctx, id); err != nil || h != "" {
			return errSkip
		}
		lostMsg = fmt.Sprintf("worker lost: %s stopped responding during stage %s", b.Worker, orBuild(b.Stage))
		requeue = r.cfg.LostBuilds == "requeue" && b.Attempt < 2
		if requeue {
			b.State, b.Stage = tasks.StateQueued, ""
			b.TaskID = fmt.Sprintf("%s-%d", b.ID, b.Attempt+1)
			b.Events = append(b.Events, fmt.Sprintf("%s: %s; re-queued", now.Format(time.RFC3339), lostMsg))
		} else {
			b.State, b.Finished, b.Error = tasks.StateFailed, now, lostMsg
		}
		return nil
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reap build %s: %w", id, err)
	}
	r.note(ctx, id, lostMsg, requeue)
	r.cfg.Logger.Warn("reaped build", "build", id, "why", lostMsg, "requeued", requeue)
	if !requeue {
		return errors.Join(r.store.EndLog(ctx, id, tasks.StateFailed), client.Notify(ctx, r.queue, b))
	}
	data, err := r.store.Payload(ctx, id)
	if err == nil {
		var p *tasks.Payload
		if p, err = tasks.DecodePayload(data); err == nil {
			var t *asynq.Task
			if t, err = tasks.NewBuildTask(p, b.TaskID, r.cfg.BuildTimeout); err == nil {
				_, err = r.queue.EnqueueContext(ctx, t)
			}
		}
	}
	if err != nil {
		_, uerr := r.store.Update(ctx, id, func(b *tasks.Build) error {
			b.State, b.Finished = tasks.StateFailed, now
			b.Error = fmt.Sprintf("%s; re-queue failed: %v", lostMsg, err)
			return nil
		})
		if b, gerr := r.store.Get(ctx, id); gerr == nil {
			uerr = errors.Join(uerr, client.Notify(ctx, r.queue, b))
		}
		return errors.Join(fmt.Errorf("re-queue build %s: %w", id, err), uerr, r.store.EndLog(ctx, id, tasks.StateFailed))
	}
	return nil
}

// note adds the reaper's verdict to the build's log stream.
func (r *Reaper) note(ctx context.Context, id, msg string, requeue bool) {
	last, err := r.store.LastLogLine(ctx, id)
	if err != nil {
		return
	}
	if requeue {
		msg += "; re-queued for another worker"
	}
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	_, _ = r.store.AppendLog(ctx, id, []builds.LogLine{{N: last + 1, Text: ts + " fbs | " + strings.TrimSpace(msg)}}, 0)
}

func orBuild(s tasks.Stage) tasks.Stage {
	if s == "" {
		return "(starting)"
	}
	return s
}
