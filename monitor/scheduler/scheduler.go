// Package scheduler runs fbs's schedules (periodic builds, kept by
// tasks/schedules): asynq's periodic task manager fires each schedule that
// is not paused at its cron times, and this package's handler of those
// fires decides whether the run builds and submits the build through the
// one submission path, as the schedule's owner. `fbs monitor` and `fbs
// serve` each run one Runner.
//
// # Once per fire time
//
// Every monitor runs a scheduler, and each one enqueues a task at every
// fire of every schedule: with three monitors, three tasks per fire. The
// handler maps the time it runs to the schedule's fire slot
// (tasks.ScheduleSlot, which tolerates clocks and timers a little apart)
// and claims the slot in Redis (schedules.Store.Claim, one Lua script): the
// first task of a slot runs, the others end without a trace. A fire that
// waited in the queue past the next fire time runs for the slot it runs
// in, so a backlog of fires makes one run, not many.
//
// # What a run does
//
// A run of a paused or deleted schedule does nothing. Otherwise it claims
// the slot, then records one of: skipped while the schedule's previous
// build is still queued or running; skipped while its latest succeeded
// build is younger than rebuild_age; failed when the owner may no longer
// submit or the spec no longer passes the submission rules (or Redis
// fails); else built, with the ID of the build it submitted, which carries
// the schedule's ID (tasks.Build.Schedule).
//
// A schedule whose spec names several arches (arch=x86_64,aarch64)
// submits one multi-arch group per run, all or none
// (client.SubmitGroup, as the web form does), each build carrying the
// schedule's ID; the run records the group. The skip rules apply to the
// group: skipped while the previous group has a build queued or running,
// and while the latest group whose builds all succeeded finished (its last
// build did) less than rebuild_age ago.
//
// Adding, pausing, resuming and deleting a schedule take effect at once for
// the runs (the handler reads the schedule at each fire) and within
// Config.SyncInterval for the schedulers' timers.
package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/asynqlog"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/tasks/schedules"
	"github.com/fedora-fbs/fbs/tasks/startstop"
	"github.com/fedora-fbs/fbs/tasks/submission"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// Defaults of Config.
const (
	DefaultSyncInterval = 10 * time.Second
	DefaultPollInterval = time.Second
	// minSyncInterval keeps the schedulers from reading every schedule
	// more often than this.
	minSyncInterval = 100 * time.Millisecond
)

// Rights says whether owner may submit builds now. nil from it: yes.
type Rights interface {
	MaySubmit(ctx context.Context, owner string) error
}

// Config configures a Runner.
type Config struct {
	// Submission is the policy a run's spec is prepared under: the
	// server's (the releases and arches it offers, its staging policy,
	// kickstart library and outbound-address policy), as the web app
	// prepares a submission.
	Submission submission.Config
	// Rights, when set, is asked at each run whether the schedule's owner
	// may still submit; nil lets every owner submit (local mode).
	Rights Rights
	// SyncInterval is how often the schedulers re-read the schedules to
	// add, drop or re-time their timers. Default 10 s.
	SyncInterval time.Duration
	// PollInterval is how often the fire queue is polled when idle.
	// Default 1 s.
	PollInterval time.Duration
	// Logger receives the runner's log. Default slog.Default().
	Logger *slog.Logger
}

func (c *Config) fill() error {
	if c.SyncInterval == 0 {
		c.SyncInterval = DefaultSyncInterval
	}
	if c.SyncInterval < minSyncInterval {
		return fmt.Errorf("schedules: sync interval %s is below the minimum %s", c.SyncInterval, minSyncInterval)
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Runner fires and runs the schedules: asynq's periodic task manager and
// an asynq server on tasks.ScheduleQueue, started by Start, stopped by
// Stop.
type Runner struct {
	rdb      redis.UniversalClient
	store    *schedules.Store
	builds   *client.Client
	preparer *submission.Preparer
	cfg      Config
	log      *slog.Logger
	loop     startstop.Loop
	// now is the clock; tests leave it time.Now.
	now func() time.Time
}

// New returns a runner over rdb that submits through builds; the caller
// owns both. Start runs it.
func New(rdb redis.UniversalClient, b *client.Client, cfg Config) (*Runner, error) {
	if rdb == nil || b == nil {
		return nil, errors.New("schedules: no Redis or build client")
	}
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	return &Runner{
		rdb: rdb, store: schedules.NewStore(rdb), builds: b, preparer: submission.New(cfg.Submission),
		cfg: cfg, log: cfg.Logger, now: time.Now,
	}, nil
}

// Start runs the schedulers' timers and the handler of their fires until
// Stop. It returns once they run, or with the error that kept them from
// starting (Redis unreachable).
func (r *Runner) Start(ctx context.Context) error {
	mgr, err := asynq.NewPeriodicTaskManager(asynq.PeriodicTaskManagerOpts{
		RedisUniversalClient:       r.rdb,
		PeriodicTaskConfigProvider: provider{r},
		SyncInterval:               r.cfg.SyncInterval,
		SchedulerOpts:              &asynq.SchedulerOpts{Logger: asynqlog.New(r.log), LogLevel: asynq.WarnLevel, Location: time.UTC},
	})
	if err != nil {
		return fmt.Errorf("start schedules: %w", err)
	}
	srv := asynq.NewServerFromRedisClient(r.rdb, asynq.Config{
		Concurrency:       2,
		Queues:            map[string]int{tasks.ScheduleQueue: 1},
		TaskCheckInterval: r.cfg.PollInterval,
		Logger:            asynqlog.New(r.log),
		LogLevel:          asynq.WarnLevel,
		ShutdownTimeout:   30 * time.Second,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(tasks.TypeSchedule, r.handle)
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("start schedules: %w", err)
	}
	if err := mgr.Start(); err != nil {
		srv.Shutdown()
		return fmt.Errorf("start schedules: %w", err)
	}
	r.loop.Start(ctx, func(ctx context.Context, stop <-chan struct{}) {
		select {
		case <-stop:
		case <-ctx.Done():
		}
		mgr.Shutdown()
		srv.Shutdown()
	})
	r.log.Info("schedules started", "sync_interval", r.cfg.SyncInterval)
	return nil
}

// Stop stops the timers, then the handler once the runs under way are
// done. It is safe to call when Start never ran, and more than once.
func (r *Runner) Stop() { r.loop.Stop() }

// provider gives asynq's periodic task manager the schedules to time: each
// one not paused whose cron expression parses.
type provider struct{ r *Runner }

func (p provider) GetConfigs() ([]*asynq.PeriodicTaskConfig, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all, err := p.r.store.List(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []*asynq.PeriodicTaskConfig
	for _, sc := range all {
		if sc.Paused {
			continue
		}
		if _, err := tasks.ParseCron(sc.Cron); err != nil {
			p.r.log.Error("schedule not timed", "schedule", sc.ID, "err", err)
			continue
		}
		t, err := tasks.NewScheduleTask(sc.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, &asynq.PeriodicTaskConfig{Cronspec: sc.Cron, Task: t})
	}
	return out, nil
}

// handle is the handler of a schedule's fire.
func (r *Runner) handle(ctx context.Context, t *asynq.Task) error {
	var p tasks.SchedulePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode schedule task: %w: %w", err, asynq.SkipRetry)
	}
	_, err := r.Fire(ctx, p.Schedule)
	return err
}

// Fire runs schedule id for the slot of the present time, unless another
// fire ran that slot. It returns the run it recorded, or nil when it
// recorded none (paused, deleted, slot taken).
func (r *Runner) Fire(ctx context.Context, id string) (*schedules.Run, error) {
	sc, err := r.store.Get(ctx, id)
	if errors.Is(err, schedules.ErrNotFound) {
		return nil, nil // deleted since the timers last synced
	}
	if err != nil {
		return nil, err
	}
	if sc.Paused {
		return nil, nil
	}
	cr, err := tasks.ParseCron(sc.Cron)
	if err != nil {
		return nil, fmt.Errorf("schedule %s: %w", id, err)
	}
	now := r.now().UTC()
	slot := tasks.ScheduleSlot(cr, now)
	ok, err := r.store.Claim(ctx, id, slot)
	if err != nil || !ok {
		return nil, err
	}
	run := schedules.Run{Time: now, Slot: slot}
	r.run(ctx, sc, &run)
	r.log.Info("schedule ran", "schedule", id, "slot", slot, "outcome", run.Outcome, "build", run.Build, "group", run.Group, "reason", run.Reason)
	if err := r.store.AddRun(ctx, id, run); err != nil {
		return nil, err
	}
	return &run, nil
}

// run decides and does what a run of sc does, into run.
func (r *Runner) run(ctx context.Context, sc *schedules.Schedule, run *schedules.Run) {
	skip := func(format string, args ...any) {
		run.Outcome, run.Reason = schedules.OutcomeSkipped, fmt.Sprintf(format, args...)
	}
	fail := func(err error) {
		run.Outcome, run.Reason = schedules.OutcomeFailed, err.Error()
	}
	store := r.builds.Store()
	if sc.LastBuild != "" {
		b, err := store.Get(ctx, sc.LastBuild)
		switch {
		case err == nil && !b.State.Final():
			skip("previous build %s still %s", b.ID, b.State)
			return
		case err != nil && !errors.Is(err, builds.ErrNotFound):
			fail(fmt.Errorf("read previous build %s: %w", sc.LastBuild, err))
			return
		}
	}
	if sc.LastGroup != "" {
		gs, err := r.builds.Group(ctx, sc.LastGroup)
		switch {
		case err == nil && !gs.State.Final():
			skip("previous group %s still %s", gs.ID, gs.State)
			return
		case err != nil && !errors.Is(err, builds.ErrNotFound):
			fail(fmt.Errorf("read previous group %s: %w", sc.LastGroup, err))
			return
		}
	}
	if sc.RebuildAge > 0 {
		last, err := r.lastSuccess(ctx, sc.ID)
		if err != nil {
			fail(err)
			return
		}
		if last != nil && run.Time.Sub(last.finished) < sc.RebuildAge {
			skip("last success %s is younger than rebuild_age %s", last, sc.RebuildAge)
			return
		}
	}
	if r.cfg.Rights != nil && sc.CheckRights {
		if err := r.cfg.Rights.MaySubmit(ctx, sc.Owner); err != nil {
			fail(fmt.Errorf("owner %s may not submit: %w", sc.Owner, err))
			return
		}
	}
	pr, err := r.preparer.Prepare(ctx, submission.Request{Spec: sc.Spec, Owner: sc.Owner}, sc.Files())
	if err != nil {
		fail(fmt.Errorf("prepare the spec: %w", err))
		return
	}
	for _, p := range pr.Payloads {
		p.Schedule = sc.ID
	}
	if pr.IsGroup() {
		// One group per slot, all or none, as the web form submits one.
		gs, err := r.builds.SubmitGroup(ctx, pr.Payloads)
		if err != nil {
			fail(err)
			return
		}
		run.Outcome, run.Group = schedules.OutcomeBuilt, gs.ID
		return
	}
	b, err := r.builds.Submit(ctx, pr.Payload)
	if err != nil {
		fail(err)
		return
	}
	run.Outcome, run.Build = schedules.OutcomeBuilt, b.ID
}

// success is a schedule's succeeded build or group: its kind, ID and when
// it finished (a group: when its last build did).
type success struct {
	kind, id string
	finished time.Time
}

func (s *success) String() string { return s.kind + " " + s.id }

// lastSuccess returns the schedule's latest success among the builds and
// groups of its kept runs, or nil. A group succeeded when all of its
// builds did; one that lost a build to retention is not counted.
func (r *Runner) lastSuccess(ctx context.Context, id string) (*success, error) {
	runs, err := r.store.Runs(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	store := r.builds.Store()
	for _, run := range runs {
		switch {
		case run.Group != "":
			g, err := store.Group(ctx, run.Group)
			if errors.Is(err, builds.ErrNotFound) {
				continue // removed (retention)
			}
			if err != nil {
				return nil, fmt.Errorf("read group %s of schedule %s: %w", run.Group, id, err)
			}
			members, err := store.Members(ctx, g)
			if err != nil {
				return nil, fmt.Errorf("read group %s of schedule %s: %w", run.Group, id, err)
			}
			if len(members) != len(g.Builds) || tasks.NewGroupStatus(g, members).State != tasks.StateSucceeded {
				continue
			}
			last := &success{kind: "group", id: g.ID}
			for _, b := range members {
				if b.Finished.After(last.finished) {
					last.finished = b.Finished
				}
			}
			return last, nil
		case run.Build != "":
			b, err := store.Get(ctx, run.Build)
			if errors.Is(err, builds.ErrNotFound) {
				continue // removed (retention)
			}
			if err != nil {
				return nil, fmt.Errorf("read build %s of schedule %s: %w", run.Build, id, err)
			}
			if b.State == tasks.StateSucceeded {
				return &success{kind: "build", id: b.ID, finished: b.Finished}, nil
			}
		}
	}
	return nil, nil
}

// SignInRights are the rights of web users as of their latest sign-in
// (auth.Users): an owner who has not signed in within the record's
// lifetime, or who is no longer allowed to submit, gets a failed run.
func SignInRights(users *auth.Users) Rights { return signInRights{users} }

type signInRights struct{ users *auth.Users }

func (s signInRights) MaySubmit(ctx context.Context, owner string) error {
	r, err := s.users.Get(ctx, owner)
	if err != nil {
		return err
	}
	if !r.User.CanSubmit {
		return errors.New("not allowed to submit builds (not in the submit group at their latest sign-in)")
	}
	return nil
}
