package reaper_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/reaper"
	"github.com/fedora-fbs/fbs/tasks/rediskey"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/testing/startstoptest"
)

func runningBuild(t *testing.T, st *builds.Store, attempt int) *tasks.Build {
	t.Helper()
	p := &tasks.Payload{ID: tasks.NewBuildID(), Owner: "tester", SubmittedAt: time.Now().UTC(),
		Spec: tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "41", Staging: "file:///srv",
			KSISO: &tasks.KSISOSpec{ISO: "boot.iso", Config: "x.ks"}},
		Kickstart: "text\n"}
	data, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	b := &tasks.Build{ID: p.ID, Spec: p.Spec, State: tasks.StateQueued, Queue: p.Spec.Queue(), TaskID: p.ID, Created: p.SubmittedAt}
	ctx := context.Background()
	if err := st.Create(ctx, b, data); err != nil {
		t.Fatal(err)
	}
	b, err = st.Update(ctx, b.ID, func(b *tasks.Build) error {
		b.State, b.Attempt, b.Worker, b.Stage = tasks.StateRunning, attempt, "deadhost", tasks.StageBuild
		b.Started = time.Now().UTC()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReaper(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := srv.Client()
	st := builds.NewStore(rdb)
	insp := asynq.NewInspectorFromRedisClient(rdb)

	leased := runningBuild(t, st, 1)
	if err := st.HoldLease(ctx, leased.ID, "alive/1/x", time.Minute); err != nil {
		t.Fatal(err)
	}
	lost := runningBuild(t, st, 1)
	lostTwice := runningBuild(t, st, 2)
	failPolicy := runningBuild(t, st, 1)

	r := newReaper(t, rdb, reaper.Config{LostBuilds: tasks.LostRequeue, BuildTimeout: time.Hour})
	// Only the first three exist when this reaper looks; failPolicy is
	// handled by a reaper configured to fail.
	if err := st.HoldLease(ctx, failPolicy.ID, "hide/1/x", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := r.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	get := func(id string) *tasks.Build {
		b, err := st.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if b := get(leased.ID); b.State != tasks.StateRunning {
		t.Errorf("leased build reaped: %s", b.State)
	}
	b := get(lost.ID)
	if b.State != tasks.StateQueued || b.TaskID != lost.ID+"-2" || len(b.Events) != 1 || !strings.Contains(b.Events[0], "worker lost: deadhost") {
		t.Errorf("lost build: state %s task %s events %q", b.State, b.TaskID, b.Events)
	}
	info, err := insp.GetTaskInfo(b.Queue, b.TaskID)
	if err != nil || info.State != asynq.TaskStatePending || info.MaxRetry != 0 || info.Timeout != time.Hour {
		t.Errorf("re-queued task: %+v %v", info, err)
	}
	b = get(lostTwice.ID)
	if b.State != tasks.StateFailed || !strings.Contains(b.Error, "worker lost") || b.Finished.IsZero() {
		t.Errorf("build lost on its second attempt: state %s error %q", b.State, b.Error)
	}
	lines, end, _ := st.ReadLog(ctx, lostTwice.ID, 0, 10, 0)
	if end != tasks.StateFailed || len(lines) != 1 || !strings.Contains(lines[0].Text, "worker lost") {
		t.Errorf("log of the failed build: %v end %q", lines, end)
	}

	if err := st.DropLease(ctx, failPolicy.ID); err != nil {
		t.Fatal(err)
	}
	fr := newReaper(t, rdb, reaper.Config{LostBuilds: tasks.LostFail})
	if err := fr.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	if b := get(failPolicy.ID); b.State != tasks.StateFailed {
		t.Errorf("lost_builds=fail: state %s", b.State)
	}
	if ids, _ := st.Running(ctx); len(ids) != 1 || ids[0] != leased.ID {
		t.Errorf("running after reaping: %v, want only the leased build", ids)
	}
}

func newReaper(t *testing.T, rdb redis.UniversalClient, cfg reaper.Config) *reaper.Reaper {
	t.Helper()
	r, err := reaper.New(rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReaperStartStop(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t).Client()
	startstoptest.Run(t, func(t *testing.T) startstoptest.Service { return newReaper(t, rdb, reaper.Config{}) })
}

func TestReaperInterval(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t).Client()
	if _, err := reaper.New(rdb, reaper.Config{Interval: 500 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "shorter than the minimum 1s") {
		t.Errorf("interval 500ms: error %v, want one naming the minimum", err)
	}
	if _, err := reaper.New(rdb, reaper.Config{Interval: tasks.MinReapInterval}); err != nil {
		t.Errorf("interval %s: %v", tasks.MinReapInterval, err)
	}
}

// TestReaperLeavesTransferWaits lists a build as running, as the reaper
// read it, while its worker parks it for a transfer retry (sets Waiting and
// drops the lease on purpose) before the reaper looks at the lease: the
// build is not lost and stays as it is.
func TestReaperLeavesTransferWaits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	st := builds.NewStore(rdb)
	b := runningBuild(t, st, 1)
	if _, err := st.Update(ctx, b.ID, func(b *tasks.Build) error {
		b.Stage, b.Waiting = tasks.StageTransfer, "transfer failed; retrying from deadhost"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The reaper's list, read before the update.
	if err := rdb.SAdd(ctx, rediskey.Running, b.ID).Err(); err != nil {
		t.Fatal(err)
	}
	if err := newReaper(t, rdb, reaper.Config{LostBuilds: tasks.LostRequeue, BuildTimeout: time.Hour}).Reap(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := st.Get(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != tasks.StateRunning || got.Waiting == "" || got.Attempt != 1 || len(got.Events) != 0 {
		t.Errorf("build waiting for its transfer after a reap: state %s waiting %q attempt %d events %q", got.State, got.Waiting, got.Attempt, got.Events)
	}
}
