// Package client is how fbs submits, inspects, cancels and follows builds
// through Redis: the CLI and the web app both use it, so a build is recorded
// and enqueued the same way whoever asks. It is also where a command gets
// its Redis connection (ConnectRedis) and where tasks are enqueued
// (EnqueueNotify); the tasks themselves are made by the constructors of
// package tasks, and the records kept by tasks/builds.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/redisurl"
)

// DefaultBuildTimeout applies when Config.BuildTimeout is zero.
const DefaultBuildTimeout = 6 * time.Hour

// Config configures a Client.
type Config struct {
	// BuildTimeout is the asynq timeout of every build task; asynq's own
	// 30-minute default never applies.
	BuildTimeout time.Duration
}

// Client talks to the builds store and the asynq queues in one Redis.
type Client struct {
	rdb     redis.UniversalClient
	store   *builds.Store
	queue   *asynq.Client
	inspect *asynq.Inspector
	cfg     Config
}

// ConnectRedis parses a Redis URL (redisurl.Parse: redis://, rediss://,
// unix://, redis-sentinel://)
// and returns a connected go-redis client, which every command then hands
// to the client, stores and servers it builds. It fails if Redis does not
// answer.
func ConnectRedis(ctx context.Context, url string) (redis.UniversalClient, error) {
	shown := tasks.RedactURL(url)
	opt, err := redisurl.Parse(url)
	if err != nil {
		return nil, fmt.Errorf("redis URL %w", err)
	}
	rdb := redis.NewUniversalClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("connect to Redis at %s: %w", shown, err)
	}
	return rdb, nil
}

// WaitRedis connects as ConnectRedis does, but a service starting while
// Redis is down, restarting or still loading its data waits for it, trying
// again with a growing pause (at most 5s) for up to within, and logs each
// failed try; a malformed URL fails at once. fbs web, fbs monitor and fbs
// worker start with it, so that a service restarted during a Redis outage
// comes up when Redis does instead of exiting.
func WaitRedis(ctx context.Context, url string, within time.Duration, log *slog.Logger) (redis.UniversalClient, error) {
	if _, err := redisurl.Parse(url); err != nil {
		return nil, fmt.Errorf("redis URL %w", err)
	}
	deadline := time.Now().Add(within)
	pause := 250 * time.Millisecond
	for {
		rdb, err := ConnectRedis(ctx, url)
		if err == nil {
			return rdb, nil
		}
		if time.Now().Add(pause).After(deadline) {
			return nil, fmt.Errorf("%w (waited %s)", err, within)
		}
		log.Warn("Redis not ready; trying again", "in", pause, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for Redis: %w", ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// New returns a client over rdb; the caller owns rdb and closes it after
// Close.
func New(rdb redis.UniversalClient, cfg Config) *Client {
	if cfg.BuildTimeout <= 0 {
		cfg.BuildTimeout = DefaultBuildTimeout
	}
	return &Client{
		rdb:     rdb,
		store:   builds.NewStore(rdb),
		queue:   asynq.NewClientFromRedisClient(rdb),
		inspect: asynq.NewInspectorFromRedisClient(rdb),
		cfg:     cfg,
	}
}

// Redis is the Redis client the client uses.
func (c *Client) Redis() redis.UniversalClient { return c.rdb }

// Store is the builds store the client uses.
func (c *Client) Store() *builds.Store { return c.store }

// Inspector is the asynq inspector over the same Redis.
func (c *Client) Inspector() *asynq.Inspector { return c.inspect }

// Close releases the client's asynq handles (not the Redis client).
func (c *Client) Close() error {
	return errors.Join(c.queue.Close(), c.inspect.Close())
}

// Submit records the build and enqueues it. Either both happen or neither:
// if the enqueue fails the record is removed again.
func (c *Client) Submit(ctx context.Context, p *tasks.Payload) (*tasks.Build, error) {
	if p.ID == "" {
		p.ID = tasks.NewBuildID()
	}
	if p.SubmittedAt.IsZero() {
		p.SubmittedAt = time.Now().UTC()
	}
	if err := p.Spec.Validate(); err != nil {
		return nil, fmt.Errorf("submit build: %w", err)
	}
	if len(p.Spec.Arches()) != 1 {
		return nil, fmt.Errorf("submit build: arch %q names several arches: submit them as a group (SubmitGroup)", p.Spec.Arch)
	}
	if p.Spec.Email != "" {
		if err := tasks.CheckEmail(p.Spec.Email); err != nil {
			return nil, fmt.Errorf("submit build: email: %w", err)
		}
	}
	task, err := tasks.NewBuildTask(p, p.ID, c.cfg.BuildTimeout)
	if err != nil {
		return nil, fmt.Errorf("submit build: %w", err)
	}
	b := &tasks.Build{
		ID: p.ID, Spec: p.Spec, KickstartName: p.KickstartName, Owner: p.Owner,
		State: tasks.StateQueued, Queue: p.Spec.Queue(), TaskID: p.ID, Created: p.SubmittedAt,
		Schedule: p.Schedule, Group: p.Group,
	}
	if err := c.store.Create(ctx, b, task.Payload()); err != nil {
		return nil, fmt.Errorf("submit build: %w", err)
	}
	// The submission mail is queued before the build, so that either both
	// are queued or, after a failure, neither is left behind.
	if p.Spec.Email != "" {
		if err := EnqueueNotify(ctx, c.queue, p.ID, tasks.MailSubmitted); err != nil {
			return nil, c.undo(ctx, p.ID, false, err)
		}
	}
	if _, err := c.queue.EnqueueContext(ctx, task); err != nil {
		return nil, c.undo(ctx, p.ID, p.Spec.Email != "", fmt.Errorf("enqueue build %s: %w", p.ID, err))
	}
	return b, nil
}

// undo removes what a failed Submit had written: the record and the
// submission mail. It returns cause, with any trouble undoing added.
func (c *Client) undo(ctx context.Context, id string, mail bool, cause error) error {
	// A fresh context: ctx may be what failed.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var errs []error
	if mail {
		if err := c.inspect.DeleteTask(tasks.NotifyQueue, tasks.NotifyTaskID(id, tasks.MailSubmitted)); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			errs = append(errs, fmt.Errorf("remove its submission mail: %w", err))
		}
	}
	if err := c.store.Delete(dctx, id); err != nil {
		errs = append(errs, fmt.Errorf("remove its record: %w", err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w (and undoing the submission failed: %v)", cause, errors.Join(errs...))
	}
	return cause
}

// Notify queues the completion mail of a build that has ended, if it has
// a recipient. The worker, the reaper and Cancel call it, after the final
// state is stored; asynq's task ID makes a second call a no-op. Once the
// mail is queued, the build is no longer due one (builds.Store.MailsDue):
// a caller that dies before that leaves the mail to the reaper.
//
// A member of a group has no completion mail of its own: its group's is
// queued once every member has ended. Each member that ends reads its
// group's records after storing its own final state, so the last one to
// end sees them all final (several may: the task ID keeps it one mail).
func Notify(ctx context.Context, q *asynq.Client, store *builds.Store, b *tasks.Build) error {
	if b.Spec.Email == "" || !b.State.Final() {
		return nil
	}
	if err := queueCompletion(ctx, q, store, b); err != nil {
		return err
	}
	return store.MailQueued(ctx, b.ID)
}

// queueCompletion queues the completion mail of ended build b, or its
// group's when b is the last of its group to end.
func queueCompletion(ctx context.Context, q *asynq.Client, store *builds.Store, b *tasks.Build) error {
	if b.Group == "" {
		return EnqueueNotify(ctx, q, b.ID, tasks.MailFinished)
	}
	g, err := store.Group(ctx, b.Group)
	if err != nil {
		return fmt.Errorf("completion mail of build %s: %w", b.ID, err)
	}
	members, err := store.Members(ctx, g)
	if err != nil {
		return fmt.Errorf("completion mail of build %s: %w", b.ID, err)
	}
	for _, m := range members {
		if !m.State.Final() {
			return nil // a later member queues it
		}
	}
	return EnqueueNotify(ctx, q, g.ID, tasks.MailGroupFinished)
}

// EnqueueNotify queues the kind mail of build id through q. A mail already
// queued or sent (a task ID conflict) is not an error.
func EnqueueNotify(ctx context.Context, q *asynq.Client, id string, kind tasks.MailKind) error {
	t, err := tasks.NewNotifyTask(id, kind)
	if err != nil {
		return err
	}
	_, err = q.EnqueueContext(ctx, t)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("queue %s mail of build %s: %w", kind, id, err)
	}
	return nil
}

// Get returns the record of build id.
func (c *Client) Get(ctx context.Context, id string) (*tasks.Build, error) {
	return c.store.Get(ctx, id)
}

// List returns builds newest first.
func (c *Client) List(ctx context.Context, opts builds.ListOptions) ([]*tasks.Build, error) {
	return c.store.List(ctx, opts)
}

// ErrFinished is returned when cancelling a build that has already ended.
var ErrFinished = errors.New("build has already finished")

// Cancel stops a queued or running build. A queued build is removed from its
// queue and marked cancelled at once; a running one is told to stop, and its
// worker kills the tool and marks it cancelled.
func (c *Client) Cancel(ctx context.Context, id string) (*tasks.Build, error) {
	b, err := c.store.Update(ctx, id, func(b *tasks.Build) error {
		if b.State.Final() {
			return fmt.Errorf("cancel build %s: %w (%s)", b.ID, ErrFinished, b.State)
		}
		b.CancelRequested = true
		if b.State == tasks.StateQueued || b.Waiting != "" {
			b.State = tasks.StateCancelled
			b.Finished = time.Now().UTC()
			if b.Waiting != "" {
				b.Events = append(b.Events, "cancelled while waiting to retry its transfer")
			} else {
				b.Events = append(b.Events, "cancelled while queued")
			}
			b.Waiting = ""
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch b.State {
	case tasks.StateCancelled:
		// Remove the task; if a worker took it meanwhile, the worker sees
		// the record cancelled and drops it.
		if err := c.inspect.DeleteTask(b.Queue, b.TaskID); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
			if cerr := c.inspect.CancelProcessing(b.TaskID); cerr != nil {
				return b, fmt.Errorf("cancel build %s: remove task: %w", id, err)
			}
		}
		if err := c.store.EndLog(ctx, id, tasks.StateCancelled); err != nil {
			return b, err
		}
		if err := Notify(ctx, c.queue, c.store, b); err != nil {
			return b, err
		}
	case tasks.StateRunning:
		// The build's task runs it; a transfer retry task runs the
		// transfer of its attempt once it was parked. Signal both: the
		// one running stops, transfer included.
		for _, task := range []string{b.TaskID, tasks.TransferTaskID(b.ID, b.Attempt)} {
			if err := c.inspect.CancelProcessing(task); err != nil {
				return b, fmt.Errorf("cancel build %s: signal its worker: %w", id, err)
			}
		}
	}
	return b, nil
}

// Follow calls fn for every log line of build id after line number after,
// waiting for new lines until the build ends, and returns its final state.
// It rides out Redis outages: it retries, resuming after the last line it
// delivered, so no line is lost or repeated.
func (c *Client) Follow(ctx context.Context, id string, after int, fn func(builds.LogLine) error) (tasks.State, error) {
	backoff := 100 * time.Millisecond
	for {
		lines, end, err := c.store.ReadLog(ctx, id, after, 1000, 2*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		for _, l := range lines {
			if err := fn(l); err != nil {
				return "", err
			}
			after = l.N
		}
		if end != "" {
			return end, nil
		}
		if len(lines) == 0 {
			// No line for a while: a build that ended without an end marker
			// (its record was finalised by someone else) must not hang us.
			b, err := c.store.Get(ctx, id)
			if err == nil && b.State.Final() {
				rest, _, rerr := c.store.ReadLog(ctx, id, after, 100000, 0)
				if rerr == nil {
					for _, l := range rest {
						if err := fn(l); err != nil {
							return "", err
						}
					}
				}
				return b.State, nil
			}
			if errors.Is(err, builds.ErrNotFound) {
				return "", err
			}
		}
	}
}
