// Package reaper finds builds marked running whose worker stopped renewing
// its lease (killed, powered off, cut off from Redis) and queues them again
// for another worker or fails them, as [worker] lost_builds says. It also
// queues the completion mail of a build whose final state was stored by a
// writer that died before queuing it.
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
	"strconv"
	"strings"
	"sync"
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
	// HostGone bounds the wait of a build for its transfer retry while
	// the worker host that holds its images sends no heartbeat: past it,
	// the build is lost as if its worker had died running it (re-queued
	// once for another worker, or failed, as LostBuilds says). Default
	// DefaultHostGone.
	HostGone time.Duration
	// TaskGone is how long a build may stay without the asynq task that
	// carries it before the reaper queues it again: a queued build whose
	// task is gone, or a build waiting for a transfer retry whose task is
	// gone (a Redis that lost its last writes, a task dropped while Redis
	// was away). Default DefaultTaskGone.
	TaskGone time.Duration
	// LeaseTTL is the workers' lease time to live (default
	// tasks.DefaultLeaseTTL). While Redis has been up for less than it,
	// no running build is taken for lost: leases that ran out while Redis
	// was down or loading its data are renewed by live workers within a
	// third of it, and only a worker that is really gone leaves its lease
	// unrenewed past it.
	LeaseTTL time.Duration
	// MailGrace is how long an ended build may stay due a completion
	// mail before the reaper queues it: the writer of the final state
	// queues it right after. Default DefaultMailGrace.
	MailGrace time.Duration
}

// DefaultMailGrace is Config.MailGrace's default: far longer than the
// moment between storing a final state and queuing its mail. A writer
// still retrying after it (Redis away) does no harm: the second enqueue of
// a mail is a no-op.
const DefaultMailGrace = 30 * time.Second

// DefaultHostGone is Config.HostGone's default: long enough for a host to
// restart, short enough that nobody waits for a host that is gone.
const DefaultHostGone = 10 * time.Minute

// DefaultTaskGone is Config.TaskGone's default: far longer than the
// moment between a record's write and its task's enqueue.
const DefaultTaskGone = 30 * time.Second

// Reaper finds builds marked running whose worker stopped renewing its
// lease and re-queues them once for another worker or marks them failed
// with "worker lost".
type Reaper struct {
	cfg   Config
	rdb   redis.UniversalClient
	store *builds.Store
	queue *asynq.Client    // over rdb, which its owner closes
	insp  *asynq.Inspector // over rdb too
	loop  startstop.Loop

	mu sync.Mutex
	// seen is when each build was first seen in its current trouble (its
	// host gone, its task gone), by build ID.
	seen map[string]sighting
	// runID is the run_id of the Redis server this reaper last judged
	// leases on; a new one means Redis restarted.
	runID string
}

// sighting is a build's trouble and when it was first seen.
type sighting struct {
	what  string
	since time.Time
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
	if cfg.HostGone <= 0 {
		cfg.HostGone = DefaultHostGone
	}
	if cfg.TaskGone <= 0 {
		cfg.TaskGone = DefaultTaskGone
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = tasks.DefaultLeaseTTL
	}
	if cfg.MailGrace <= 0 {
		cfg.MailGrace = DefaultMailGrace
	}
	return &Reaper{cfg: cfg, rdb: rdb, store: builds.NewStore(rdb), queue: asynq.NewClientFromRedisClient(rdb),
		insp: asynq.NewInspectorFromRedisClient(rdb), seen: map[string]sighting{}}, nil
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

// Reap looks once at every running and queued build and deals with the
// lost ones: running builds whose worker stopped renewing the lease,
// builds waiting for a transfer retry whose host is gone or whose retry
// task is, and queued builds whose task is gone. It also queues the
// completion mails that ended builds are still due (checkMails).
func (r *Reaper) Reap(ctx context.Context) error {
	ids, err := r.store.Running(ctx)
	if err != nil {
		return err
	}
	var errs []error
	troubled := map[string]bool{}
	var hosts map[string]bool // alive, read once a look, when needed
	if up, ok := r.justRestarted(ctx); ok {
		// Leases that ran out while Redis was down or loading are
		// being renewed by their live workers now.
		r.cfg.Logger.Info("Redis restarted moments ago; lost leases are judged once it has been up for the lease time",
			"up", up, "lease_ttl", r.cfg.LeaseTTL)
		ids = nil
	}
	for _, id := range ids {
		holder, err := r.store.LeaseHolder(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if holder != "" || !r.lock(ctx, id) {
			continue
		}
		if err := r.reapOne(ctx, id, r.leaseLost); err != nil {
			errs = append(errs, err)
		}
	}
	waiting, err := r.store.Waiting(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	for _, id := range waiting {
		b, err := r.store.Get(ctx, id)
		if err != nil {
			if !errors.Is(err, builds.ErrNotFound) {
				errs = append(errs, err)
			}
			continue
		}
		if b.State != tasks.StateRunning || b.Waiting == "" {
			continue
		}
		if hosts == nil {
			if hosts, err = r.aliveHosts(ctx); err != nil {
				errs = append(errs, err)
				break
			}
		}
		if err := r.checkWaiting(ctx, b, hosts[b.Worker], troubled); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.checkQueued(ctx, troubled); err != nil {
		errs = append(errs, err)
	}
	if err := r.checkMails(ctx); err != nil {
		errs = append(errs, err)
	}
	r.forgetExcept(troubled)
	return errors.Join(errs...)
}

// justRestarted reports whether the Redis server restarted since this
// reaper first saw it (its run_id changed) less than LeaseTTL ago, and
// how long it has been up. A server this reaper has not seen restart, or
// one that does not say (the embedded broker), is never "just restarted".
func (r *Reaper) justRestarted(ctx context.Context) (time.Duration, bool) {
	info, err := r.rdb.Info(ctx, "server").Result()
	if err != nil {
		return 0, false
	}
	var runID string
	up := time.Duration(-1)
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "run_id:"); ok {
			runID = v
		}
		if v, ok := strings.CutPrefix(line, "uptime_in_seconds:"); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				up = time.Duration(n) * time.Second
			}
		}
	}
	if runID == "" || up < 0 {
		return 0, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.runID == "" || r.runID == runID {
		r.runID = runID
		return up, false
	}
	if up < r.cfg.LeaseTTL {
		return up, true
	}
	r.runID = runID
	return up, false
}

// checkMails queues the completion mails of builds that ended more than
// MailGrace ago without theirs being queued: the writer of the final state
// died, or lost Redis, between that write and queuing the mail (the chaos
// soak lost a mail so, seed 1795803070483203143). A mail queued or sent
// meanwhile is not sent twice: the task ID and the notifier's ledger of
// sent mails see to that.
func (r *Reaper) checkMails(ctx context.Context) error {
	ids, err := r.store.MailsDue(ctx, time.Now().Add(-r.cfg.MailGrace), 100)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		b, err := r.store.Get(ctx, id)
		switch {
		case errors.Is(err, builds.ErrNotFound):
			err = r.store.MailQueued(ctx, id)
		case err == nil && !b.State.Final():
			// Not ended (an older entry of a record written again):
			// the write that ends it makes it due again.
			err = r.store.MailQueued(ctx, id)
		case err == nil:
			if err = client.Notify(ctx, r.queue, r.store, b); err == nil {
				r.cfg.Logger.Warn("queued the completion mail of a build that ended without it", "build", id, "state", b.State)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// lock takes the short per-build lock under which one reaper acts.
func (r *Reaper) lock(ctx context.Context, id string) bool {
	ok, err := r.store.Lock(ctx, "reap:"+id, 30*time.Second)
	return err == nil && ok
}

// leaseLost says why a running build whose lease is gone is lost.
func (r *Reaper) leaseLost(ctx context.Context, b *tasks.Build) (string, bool) {
	// A build waiting for its transfer retry dropped its lease on
	// purpose: it is its host's transfer task's, not lost (checkWaiting
	// looks after it). The list of running builds may predate the wait
	// (the chaos soak re-queued such a build, which then ran with the
	// wait still set, out of the reaper's sight, and stuck when lost
	// again).
	if b.State != tasks.StateRunning || b.Waiting != "" {
		return "", false
	}
	if h, err := r.store.LeaseHolder(ctx, b.ID); err != nil || h != "" {
		return "", false
	}
	return fmt.Sprintf("worker lost: %s stopped responding during stage %s", b.Worker, orBuild(b.Stage)), true
}

// reapOne re-queues or fails build id if lost says, on the record as it
// is now, that it is lost, and why.
func (r *Reaper) reapOne(ctx context.Context, id string, lost func(context.Context, *tasks.Build) (string, bool)) error {
	now := time.Now().UTC()
	var requeue bool
	var lostMsg string
	b, err := r.store.Update(ctx, id, func(b *tasks.Build) error {
		msg, ok := lost(ctx, b)
		if !ok {
			return errNotLost
		}
		lostMsg = msg
		requeue = r.cfg.LostBuilds == tasks.LostRequeue && b.Attempt < 2
		b.Waiting, b.WaitingUntil = "", time.Time{}
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
	err = r.enqueue(ctx, id, b.TaskID)
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

// aliveHosts returns the hosts of the workers that sent a heartbeat lately.
func (r *Reaper) aliveHosts(ctx context.Context) (map[string]bool, error) {
	ws, err := r.store.Workers(ctx)
	if err != nil {
		return nil, err
	}
	hosts := map[string]bool{}
	for _, w := range ws {
		hosts[w.Host] = true
	}
	return hosts, nil
}

// troubleFor notes that build id is in trouble what (seen now) and
// returns for how long it has been so, as far as this reaper saw.
func (r *Reaper) troubleFor(id, what string, troubled map[string]bool) time.Duration {
	troubled[id] = true
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.seen[id]
	if !ok || s.what != what {
		r.seen[id] = sighting{what: what, since: time.Now()}
		return 0
	}
	return time.Since(s.since)
}

// forgetExcept forgets the troubles of the builds not in troubled.
func (r *Reaper) forgetExcept(troubled map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.seen {
		if !troubled[id] {
			delete(r.seen, id)
		}
	}
}

// liveTask reports whether asynq still holds task taskID of queue to run:
// pending, scheduled, retrying or running. Archived, completed or missing,
// it will never run.
func (r *Reaper) liveTask(queue, taskID string) (bool, error) {
	info, err := r.insp.GetTaskInfo(queue, taskID)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up task %s in queue %s: %w", taskID, queue, err)
	}
	return info.State != asynq.TaskStateArchived && info.State != asynq.TaskStateCompleted, nil
}

// checkWaiting looks after build b, which waits for a transfer retry on
// the host that holds its images. A host that has sent no heartbeat for
// HostGone loses the build, as a worker that died running it would: its
// images may never come back, and the build must end. A host that is
// there but whose retry task is gone for TaskGone (dropped while Redis
// was away, or lost with Redis's last writes) gets the task again, with
// the retry window it had.
func (r *Reaper) checkWaiting(ctx context.Context, b *tasks.Build, hostAlive bool, troubled map[string]bool) error {
	if !hostAlive {
		gone := r.troubleFor(b.ID, fmt.Sprintf("host %s gone, attempt %d", b.Worker, b.Attempt), troubled)
		if gone < r.cfg.HostGone || !r.lock(ctx, b.ID) {
			return nil
		}
		host, attempt := b.Worker, b.Attempt
		return r.reapOne(ctx, b.ID, func(_ context.Context, b *tasks.Build) (string, bool) {
			if b.State != tasks.StateRunning || b.Waiting == "" || b.Worker != host || b.Attempt != attempt {
				return "", false
			}
			return fmt.Sprintf("worker lost: %s sent no heartbeat for %s while the build waited for a transfer retry of its images from there", host, gone.Round(time.Second)), true
		})
	}
	queue, taskID := tasks.TransferQueue(b.Worker), tasks.TransferTaskID(b.ID, b.Attempt)
	live, err := r.liveTask(queue, taskID)
	if err != nil || live {
		return err
	}
	if r.troubleFor(b.ID, "no task "+taskID, troubled) < r.cfg.TaskGone || !r.lock(ctx, b.ID) {
		return nil
	}
	now := time.Now().UTC()
	host, attempt := b.Worker, b.Attempt
	b, err = r.store.Update(ctx, b.ID, func(b *tasks.Build) error {
		if b.State != tasks.StateRunning || b.Waiting == "" || b.Worker != host || b.Attempt != attempt {
			return errNotLost
		}
		b.Events = append(b.Events, fmt.Sprintf("%s: transfer retry task on %s was lost; scheduled again", now.Format(time.RFC3339), host))
		return nil
	})
	if errors.Is(err, errNotLost) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("schedule lost transfer retry of build %s: %w", b.ID, err)
	}
	// An archived or completed task keeps its ID: remove it first. A
	// retry window that was never recorded (a record of an older fbs)
	// gives one more try.
	if err := r.insp.DeleteTask(queue, taskID); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
		return fmt.Errorf("schedule lost transfer retry of build %s: remove the old task: %w", b.ID, err)
	}
	until := b.WaitingUntil
	if until.IsZero() {
		until = now
	}
	t, err := tasks.NewTransferTask(tasks.TransferPayload{ID: b.ID, Until: until, Attempt: attempt},
		tasks.TransferTask{Host: host, Attempt: attempt, Timeout: r.cfg.BuildTimeout})
	if err == nil {
		_, err = r.queue.EnqueueContext(ctx, t)
	}
	if err != nil {
		return fmt.Errorf("schedule lost transfer retry of build %s: %w", b.ID, err)
	}
	r.cfg.Logger.Warn("transfer retry task was lost; scheduled again", "build", b.ID, "host", host, "attempt", attempt, "until", until)
	return nil
}

// checkQueued queues again each queued build whose task has been gone for
// TaskGone: a worker stopped (drained or killed) while Redis was away
// could not hand its task back, and asynq archives a build task whose
// worker vanished (builds are never retried by asynq), leaving a queued
// record that nothing would ever take.
func (r *Reaper) checkQueued(ctx context.Context, troubled map[string]bool) error {
	ids, err := r.store.Queued(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		b, err := r.store.Get(ctx, id)
		if err != nil {
			if !errors.Is(err, builds.ErrNotFound) {
				errs = append(errs, err)
			}
			continue
		}
		if b.State != tasks.StateQueued || b.CancelRequested {
			continue
		}
		queue := b.Queue
		if queue == "" {
			queue = b.Spec.Queue()
		}
		live, err := r.liveTask(queue, b.TaskID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if live || r.troubleFor(id, "no task "+b.TaskID, troubled) < r.cfg.TaskGone || !r.lock(ctx, id) {
			continue
		}
		if err := r.requeueQueued(ctx, id, b.TaskID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// requeueQueued gives queued build id, whose task lost is gone, a new task.
func (r *Reaper) requeueQueued(ctx context.Context, id, lost string) error {
	now := time.Now().UTC()
	b, err := r.store.Update(ctx, id, func(b *tasks.Build) error {
		if b.State != tasks.StateQueued || b.TaskID != lost || b.CancelRequested {
			return errNotLost
		}
		b.TaskID = fmt.Sprintf("%s-q%d", b.ID, now.UnixNano())
		b.Events = append(b.Events, fmt.Sprintf("%s: its queue task %s was lost; queued again", now.Format(time.RFC3339), lost))
		return nil
	})
	if errors.Is(err, errNotLost) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("queue build %s again: %w", id, err)
	}
	err = r.enqueue(ctx, id, b.TaskID)
	if err != nil {
		// The record names a task that does not exist: the next look
		// finds it so and tries again.
		return fmt.Errorf("queue build %s again: %w", id, err)
	}
	r.cfg.Logger.Warn("queued build's task was lost; queued again", "build", id, "lost_task", lost, "task", b.TaskID)
	return nil
}

// enqueue queues build id again as task taskID, from its stored payload.
func (r *Reaper) enqueue(ctx context.Context, id, taskID string) error {
	data, err := r.store.Payload(ctx, id)
	if err != nil {
		return err
	}
	p, err := tasks.DecodePayload(data)
	if err != nil {
		return err
	}
	t, err := tasks.NewBuildTask(p, taskID, r.cfg.BuildTimeout)
	if err != nil {
		return err
	}
	_, err = r.queue.EnqueueContext(ctx, t)
	return err
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
