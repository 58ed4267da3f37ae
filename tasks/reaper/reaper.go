// Package reaper finds builds marked running whose worker stopped renewing
// its lease (killed, powered off, cut off from Redis) and queues them again
// for another worker or fails them, as [worker] lost_builds says.
//
// It sits under tasks, beside the build store and the queue client it works
// through, because it belongs to the queue, not to any one process: every
// worker, `fbs serve` and `fbs monitor` run one, and a short lock per build
// makes sure one of them acts. A worker is only one of its hosts, and the
// monitor must not need the worker's code to run it.
package reaper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/tasks/startstop"
)

// Config configures a Reaper.
type Config struct {
	// Interval between looks at the running builds (default
	// tasks.DefaultReapInterval; at least tasks.MinReapInterval).
	Interval time.Duration
	// LostBuilds says what to do with a lost build (default
	// tasks.LostRequeue).
	LostBuilds tasks.LostPolicy
	// BuildTimeout is the asynq timeout of re-queued tasks.
	BuildTimeout time.Duration
	// Logger receives what the reaper did.
	Logger *slog.Logger
}

// Reaper finds builds marked running whose worker stopped renewing its
// lease and re-queues them once for another worker or marks them failed
// with "worker lost".
type Reaper struct {
	cfg   Config
	store *builds.Store
	queue *asynq.Client // over rdb, which its owner closes
	loop  startstop.Loop
}

// New returns a reaper over rdb; Start runs it.
func New(rdb redis.UniversalClient, cfg Config) (*Reaper, error) {
	if cfg.Interval == 0 {
		cfg.Interval = tasks.DefaultReapInterval
	}
	if cfg.Interval < tasks.MinReapInterval {
		return nil, fmt.Errorf("reaper: interval %s is shorter than the minimum %s", cfg.Interval, tasks.MinReapInterval)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Reaper{cfg: cfg, store: builds.NewStore(rdb), queue: asynq.NewClientFromRedisClient(rdb)}, nil
}

// Start looks for lost builds now and then every Interval, until Stop or
// until ctx ends.
func (r *Reaper) Start(ctx context.Context) {
	r.loop.Start(ctx, func(ctx context.Context, stop <-chan struct{}) {
		startstop.Every(ctx, stop, r.cfg.Interval, func(ctx context.Context) {
			if err := r.Reap(ctx); err != nil {
				r.cfg.Logger.Warn("reaper", "err", err)
			}
		})
	})
}

// Stop ends the reaper after the look under way. It is safe to call when
// Start never ran, and more than once.
func (r *Reaper) Stop() { r.loop.Stop() }

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
			return errNotLost
		}
		if h, err := r.store.LeaseHolder(ctx, id); err != nil || h != "" {
			return errNotLost
		}
		lostMsg = fmt.Sprintf("worker lost: %s stopped responding during stage %s", b.Worker, orBuild(b.Stage))
		requeue = r.cfg.LostBuilds == tasks.LostRequeue && b.Attempt < 2
		if requeue {
			b.State, b.Stage = tasks.StateQueued, ""
			b.TaskID = fmt.Sprintf("%s-%d", b.ID, b.Attempt+1)
			b.Events = append(b.Events, fmt.Sprintf("%s: %s; re-queued", now.Format(time.RFC3339), lostMsg))
		} else {
			b.State, b.Finished, b.Error = tasks.StateFailed, now, lostMsg
		}
		return nil
	})
	if errors.Is(err, errNotLost) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reap build %s: %w", id, err)
	}
	r.note(ctx, id, lostMsg, requeue)
	r.cfg.Logger.Warn("reaped build", "build", id, "why", lostMsg, "requeued", requeue)
	if !requeue {
		return errors.Join(r.store.EndLog(ctx, id, tasks.StateFailed), client.Notify(ctx, r.queue, r.store, b))
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
			uerr = errors.Join(uerr, client.Notify(ctx, r.queue, r.store, b))
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

// errNotLost ends an update of a build that turned out not to be lost: it
// finished, or its worker renewed the lease meanwhile.
var errNotLost = errors.New("build is not lost")

func orBuild(s tasks.Stage) tasks.Stage {
	if s == "" {
		return "(starting)"
	}
	return s
}
