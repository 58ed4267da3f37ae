package scheduler

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/tasks/schedules"
	"github.com/fedora-fbs/fbs/tasks/submission"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/testing/startstoptest"
)

// bundle is one test's Redis, build client and schedule store.
type bundle struct {
	rdb    *redis.Client
	builds *client.Client
	store  *schedules.Store
}

func setup(t *testing.T) *bundle {
	t.Helper()
	rdb := redistest.Start(t).Client()
	c := client.New(rdb, client.Config{BuildTimeout: time.Hour})
	t.Cleanup(func() { c.Close() })
	return &bundle{rdb: rdb, builds: c, store: schedules.NewStore(rdb)}
}

// runner returns a runner over b with a short sync and poll; cfg's zero
// fields get those.
func (b *bundle) runner(t *testing.T, cfg Config) *Runner {
	t.Helper()
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = 100 * time.Millisecond
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	r, err := New(b.rdb, b.builds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// schedule stores a ksiso schedule of owner "tester" with an uploaded
// kickstart.
func (b *bundle) schedule(t *testing.T, cron string, age time.Duration, release string) *schedules.Schedule {
	t.Helper()
	sc := &schedules.Schedule{Owner: "tester", Cron: cron, RebuildAge: age,
		Spec: tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: release, Staging: "file:///srv/stage",
			KSISO: &tasks.KSISOSpec{ISO: "boot.iso", Config: "main.ks"}},
		Kickstarts: map[string]string{"main.ks": "text\nlang en_US.UTF-8\n%packages\n@core\n%end\n"}}
	if err := b.store.Create(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	return sc
}

var policy = Config{Submission: submissionPolicy()}

// TestFire walks one schedule through its runs on a clock the test sets:
// a run per slot, skipped while the previous build is queued, skipped while
// the last success is younger than rebuild_age, none while paused or once
// deleted.
func TestFire(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	r := b.runner(t, policy)
	sc := b.schedule(t, "@every 10s", time.Hour, "41")
	t0 := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	fire := func(at time.Time) *schedules.Run {
		t.Helper()
		r.now = func() time.Time { return at }
		run, err := r.Fire(ctx, sc.ID)
		if err != nil {
			t.Fatalf("fire at %s: %v", at, err)
		}
		return run
	}

	first := fire(t0.Add(time.Second))
	if first == nil || first.Outcome != schedules.OutcomeBuilt || !first.Slot.Equal(t0) {
		t.Fatalf("first run = %+v, want built for slot %s", first, t0)
	}
	bd, err := b.builds.Get(ctx, first.Build)
	if err != nil || bd.Schedule != sc.ID || bd.Owner != "tester" || bd.State != tasks.StateQueued {
		t.Fatalf("build of first run: %+v, %v; want queued, of the schedule, owned by tester", bd, err)
	}
	if run := fire(t0.Add(4 * time.Second)); run != nil {
		t.Errorf("second fire of the same slot ran: %+v", run)
	}
	if run := fire(t0.Add(10 * time.Second)); run == nil || run.String() != "skipped: previous build "+first.Build+" still queued" {
		t.Errorf("run while queued = %v", run)
	}
	// The build succeeds (a worker's doing; see testing/e2e for one).
	finished := t0.Add(15 * time.Second)
	if _, err := b.builds.Store().Update(ctx, first.Build, func(x *tasks.Build) error {
		x.State, x.Started, x.Finished = tasks.StateSucceeded, t0.Add(2*time.Second), finished
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if run := fire(t0.Add(20 * time.Second)); run == nil || !strings.Contains(run.String(), "last success build "+first.Build+" is younger than rebuild_age 1h0m0s") {
		t.Errorf("run within rebuild_age = %v", run)
	}
	second := fire(finished.Add(time.Hour + 5*time.Second))
	if second == nil || second.Outcome != schedules.OutcomeBuilt || second.Build == first.Build {
		t.Errorf("run past rebuild_age = %+v, want a new build", second)
	}
	if _, err := b.store.SetPaused(ctx, sc.ID, true); err != nil {
		t.Fatal(err)
	}
	if run := fire(t0.Add(3 * time.Hour)); run != nil {
		t.Errorf("paused schedule ran: %+v", run)
	}
	if err := b.store.Delete(ctx, sc.ID); err != nil {
		t.Fatal(err)
	}
	if run := fire(t0.Add(4 * time.Hour)); run != nil {
		t.Errorf("deleted schedule ran: %+v", run)
	}
}

// TestFireGroup walks a schedule of a spec naming two arches through its
// runs: each run that builds submits one multi-arch group (both builds
// queued, each carrying the schedule), skipped while any build of the
// previous group is queued or running, and while the group that succeeded
// last finished (its last build did) less than rebuild_age ago.
func TestFireGroup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	r := b.runner(t, policy)
	sc := b.schedule(t, "@every 10s", time.Hour, "41")
	if _, err := b.store.Update(ctx, sc.ID, func(s *schedules.Schedule) error { s.Spec.Arch = "x86_64,aarch64"; return nil }); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	fire := func(at time.Time) *schedules.Run {
		t.Helper()
		r.now = func() time.Time { return at }
		run, err := r.Fire(ctx, sc.ID)
		if err != nil {
			t.Fatalf("fire at %s: %v", at, err)
		}
		return run
	}
	setState := func(id string, st tasks.State, finished time.Time) {
		t.Helper()
		if _, err := b.builds.Store().Update(ctx, id, func(x *tasks.Build) error {
			x.State, x.Finished = st, finished
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	first := fire(t0.Add(time.Second))
	if first == nil || first.Outcome != schedules.OutcomeBuilt || first.Group == "" || first.Build != "" || first.String() != "group "+first.Group {
		t.Fatalf("first run = %+v, want a group built", first)
	}
	gs, err := b.builds.Group(ctx, first.Group)
	if err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(b.rdb)
	var arches []string
	for _, m := range gs.Builds {
		arches = append(arches, m.Spec.Arch)
		if m.Schedule != sc.ID || m.Owner != "tester" || m.State != tasks.StateQueued || m.Group != gs.ID {
			t.Errorf("build %s of the group: %+v; want queued, of the schedule and the group, owned by tester", m.Spec.Arch, m)
		}
		if _, err := insp.GetTaskInfo(m.Queue, m.ID); err != nil {
			t.Errorf("build %s not on its queue %s: %v", m.Spec.Arch, m.Queue, err)
		}
	}
	if strings.Join(arches, ",") != "x86_64,aarch64" {
		t.Errorf("group builds %v, want x86_64 then aarch64", arches)
	}
	if got, err := b.store.Get(ctx, sc.ID); err != nil || got.LastGroup != gs.ID || got.LastBuild != "" {
		t.Errorf("schedule after the run: %+v, %v; want LastGroup %s", got, err, gs.ID)
	}

	if run := fire(t0.Add(10 * time.Second)); run == nil || run.String() != "skipped: previous group "+gs.ID+" still queued" {
		t.Errorf("run while queued = %v", run)
	}
	// One build ended, the other still runs: the group is running.
	setState(gs.Builds[0].ID, tasks.StateSucceeded, t0.Add(12*time.Second))
	setState(gs.Builds[1].ID, tasks.StateRunning, time.Time{})
	if run := fire(t0.Add(20 * time.Second)); run == nil || run.String() != "skipped: previous group "+gs.ID+" still running" {
		t.Errorf("run while one build runs = %v", run)
	}
	// Both succeeded; the group finished when its last build did.
	finished := t0.Add(25 * time.Second)
	setState(gs.Builds[1].ID, tasks.StateSucceeded, finished)
	if run := fire(t0.Add(30 * time.Second)); run == nil || run.String() != "skipped: last success group "+gs.ID+" is younger than rebuild_age 1h0m0s" {
		t.Errorf("run within rebuild_age = %v", run)
	}
	if run := fire(finished.Add(time.Hour - 5*time.Second)); run == nil || run.Outcome != schedules.OutcomeSkipped {
		t.Errorf("run within rebuild_age of the last build's end = %v, want skipped", run)
	}
	second := fire(finished.Add(time.Hour + 5*time.Second))
	if second == nil || second.Outcome != schedules.OutcomeBuilt || second.Group == "" || second.Group == gs.ID {
		t.Fatalf("run past rebuild_age = %+v, want a new group", second)
	}
	// A failed group is no success (its builds' ends would be within
	// rebuild_age): the next slot builds again once it has ended.
	gs2, err := b.builds.Group(ctx, second.Group)
	if err != nil {
		t.Fatal(err)
	}
	ended := finished.Add(time.Hour + 20*time.Second)
	setState(gs2.Builds[0].ID, tasks.StateSucceeded, ended)
	setState(gs2.Builds[1].ID, tasks.StateFailed, ended)
	if run := fire(ended.Add(10 * time.Second)); run == nil || run.Outcome != schedules.OutcomeBuilt || run.Group == "" {
		t.Errorf("run after a failed group = %v, want a new group", run)
	}
	if n, err := b.builds.List(ctx, builds.ListOptions{}); err != nil || len(n) != 6 {
		t.Errorf("builds: %d, %v; want 6 (three groups of two)", len(n), err)
	}
}

// refuse is a Rights that lets nobody submit.
type refuse struct{}

func (refuse) MaySubmit(context.Context, string) error { return errors.New("not in the submit group") }

// TestFireFails records a failed run, and builds nothing, when the spec no
// longer passes the server's rules or the owner may no longer submit.
func TestFireFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		release     string
		checkRights bool
		want        string
	}{
		{"release no longer offered", "40", false, `error: prepare the spec: release: release "40" is not offered: want one of 41, 42`},
		{"owner may not submit", "41", true, "error: owner tester may not submit: not in the submit group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			cfg := policy
			cfg.Rights = refuse{}
			r := b.runner(t, cfg)
			sc := b.schedule(t, "@daily", 0, tt.release)
			if tt.checkRights {
				if _, err := b.store.Update(context.Background(), sc.ID, func(s *schedules.Schedule) error { s.CheckRights = true; return nil }); err != nil {
					t.Fatal(err)
				}
			}
			run, err := r.Fire(context.Background(), sc.ID)
			if err != nil || run == nil || run.String() != tt.want {
				t.Fatalf("run = %v, %v; want %q", run, err, tt.want)
			}
			if bs, err := b.builds.List(context.Background(), builds.ListOptions{}); err != nil || len(bs) != 0 {
				t.Errorf("builds after a failed run: %d, %v; want none", len(bs), err)
			}
		})
	}
}

func submissionPolicy() submission.Config {
	return submission.Config{Releases: []string{"41", "42"}, Staging: &tasks.StagingPolicy{Remote: true, FileRoot: "/srv/stage"}}
}

// TestTwoRunnersOnce runs two runners, as two monitors would, against one
// Redis with a schedule firing every second: both schedulers enqueue every
// fire, yet each fire time runs once, and only the first run builds.
func TestTwoRunnersOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	sc := b.schedule(t, "@every 1s", 0, "41")
	var runners []*Runner
	for range 2 {
		r := b.runner(t, policy)
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Stop)
		runners = append(runners, r)
	}
	insp := asynq.NewInspectorFromRedisClient(b.rdb)
	var runs []schedules.Run
	enqueued := 0
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		if runs, err = b.store.Runs(ctx, sc.ID, 0); err != nil {
			t.Fatal(err)
		}
		// Every fire either scheduler enqueued was handled: a run, or
		// nothing for a slot already run.
		if info, err := insp.GetQueueInfo(tasks.ScheduleQueue); err == nil {
			enqueued = info.Processed
		}
		if len(runs) >= 4 && enqueued > len(runs)+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %d runs for %d fires handled; want 4 runs and more fires than runs", len(runs), enqueued)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, r := range runners {
		r.Stop()
	}
	runs, err := b.store.Runs(ctx, sc.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	slots := map[time.Time]bool{}
	built := 0
	for _, r := range runs {
		if slots[r.Slot] {
			t.Errorf("slot %s ran twice", r.Slot)
		}
		slots[r.Slot] = true
		if r.Outcome == schedules.OutcomeBuilt {
			built++
		} else if !strings.HasPrefix(r.String(), "skipped: previous build ") {
			t.Errorf("unexpected run %v", r)
		}
	}
	if built != 1 {
		t.Errorf("%d runs built, want 1 (the others skipped while it is queued)", built)
	}
	bs, err := b.builds.List(ctx, builds.ListOptions{})
	if err != nil || len(bs) != 1 {
		t.Errorf("builds: %d, %v; want 1", len(bs), err)
	}
	t.Logf("%d runs for %d fires handled", len(runs), enqueued)
}

// TestRunnerStops checks the shared life cycle: Stop without Start, twice.
func TestRunnerStops(t *testing.T) {
	t.Parallel()
	b := setup(t)
	startstoptest.Run(t, func(t *testing.T) startstoptest.Service { return lifecycle{t, b.runner(t, policy)} })
}

// lifecycle gives Runner the Start of startstoptest.Service.
type lifecycle struct {
	t *testing.T
	*Runner
}

func (l lifecycle) Start(ctx context.Context) {
	if err := l.Runner.Start(ctx); err != nil {
		l.t.Error(err)
	}
}

func TestNewRefusesShortSync(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := New(b.rdb, b.builds, Config{SyncInterval: time.Millisecond}); err == nil || !strings.Contains(err.Error(), "below the minimum 100ms") {
		t.Errorf("sync 1ms: error %v, want one naming the minimum", err)
	}
}
