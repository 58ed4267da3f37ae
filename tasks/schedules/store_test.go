package schedules_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/rediskey"
	"github.com/fedora-fbs/fbs/tasks/schedules"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

func newSchedule(owner, cron string) *schedules.Schedule {
	return &schedules.Schedule{Owner: owner, Cron: cron,
		Spec: tasks.Spec{Type: tasks.TypeBoot, Arch: "x86_64", Release: "41", Staging: "file:///srv"}}
}

func TestStore(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t).Client()
	st := schedules.NewStore(rdb)
	ctx := context.Background()
	a, b := newSchedule("alice", "@daily"), newSchedule("bob", "0 3 * * *")
	for _, sc := range []*schedules.Schedule{a, b} {
		if err := st.Create(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Get(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	ids := func(owner string) []string {
		l, err := st.List(ctx, owner)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, sc := range l {
			out = append(out, sc.ID)
		}
		return out
	}
	if diff := cmp.Diff([]string{a.ID, b.ID}, ids("")); diff != "" {
		t.Errorf("List all (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{b.ID}, ids("bob")); diff != "" {
		t.Errorf("List bob (-want +got):\n%s", diff)
	}
	if sc, err := st.SetPaused(ctx, a.ID, true); err != nil || !sc.Paused {
		t.Errorf("SetPaused = %+v, %v", sc, err)
	}
	// Slots only move forward.
	t0 := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	for i, c := range []struct {
		slot time.Time
		want bool
	}{{t0, true}, {t0, false}, {t0.Add(-time.Hour), false}, {t0.Add(24 * time.Hour), true}} {
		if ok, err := st.Claim(ctx, a.ID, c.slot); err != nil || ok != c.want {
			t.Errorf("claim %d of %s = %v, %v; want %v", i, c.slot, ok, err, c.want)
		}
	}
	for i := range schedules.MaxRuns + 5 {
		r := schedules.Run{Time: t0.Add(time.Duration(i) * time.Second), Outcome: schedules.OutcomeSkipped, Reason: "test"}
		if i == schedules.MaxRuns+4 {
			r = schedules.Run{Time: r.Time, Outcome: schedules.OutcomeBuilt, Build: tasks.NewBuildID()}
		}
		if err := st.AddRun(ctx, a.ID, r); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := st.Runs(ctx, a.ID, 0)
	if err != nil || len(runs) != schedules.MaxRuns || runs[0].Outcome != schedules.OutcomeBuilt {
		t.Fatalf("runs: %d, %v; want %d, newest first", len(runs), err, schedules.MaxRuns)
	}
	if sc, _ := st.Get(ctx, a.ID); sc.LastBuild != runs[0].Build {
		t.Errorf("last build %q, want %q", sc.LastBuild, runs[0].Build)
	}
	if two, _ := st.Runs(ctx, a.ID, 2); len(two) != 2 {
		t.Errorf("Runs limit 2: %d", len(two))
	}
	if err := st.Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, a.ID); !errors.Is(err, schedules.ErrNotFound) {
		t.Errorf("Get after delete: %v, want not found", err)
	}
	for _, k := range []string{rediskey.Schedule(a.ID), rediskey.ScheduleRuns(a.ID), rediskey.ScheduleSlot(a.ID)} {
		if n := rdb.Exists(ctx, k).Val(); n != 0 {
			t.Errorf("key %s left after delete", k)
		}
	}
	if diff := cmp.Diff([]string(nil), ids("alice")); diff != "" {
		t.Errorf("List alice after delete (-want +got):\n%s", diff)
	}
	if ok, err := st.Claim(ctx, a.ID, t0.Add(48*time.Hour)); ok || err != nil {
		t.Errorf("claim of a deleted schedule = %v, %v; want false", ok, err)
	}
	if _, err := st.SetPaused(ctx, "not-an-id", true); !errors.Is(err, schedules.ErrNotFound) {
		t.Errorf("SetPaused of a bad ID: %v", err)
	}
}

func TestCreateChecks(t *testing.T) {
	t.Parallel()
	st := schedules.NewStore(redistest.Start(t).Client())
	sc := newSchedule("alice", "* * *")
	sc.RebuildAge = -time.Hour
	err := st.Create(context.Background(), sc)
	var errs tasks.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Create = %v, want field errors", err)
	}
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	if diff := cmp.Diff([]string{tasks.FieldCron, tasks.FieldRebuildAge}, fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}
