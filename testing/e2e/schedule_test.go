package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/schedules"
)

// showSchedule reads schedule id with its runs through `fbs schedule show
// --json`.
func (e *env) showSchedule(cfg, id string) (*schedules.Schedule, []schedules.Run) {
	e.t.Helper()
	out, errs, code := e.run("schedule", "show", "--config", cfg, "--json", "--runs", "0", id)
	if code != 0 {
		e.t.Fatalf("fbs schedule show %s: exit %d: %s", id, code, errs)
	}
	var v struct {
		schedules.Schedule
		Runs []schedules.Run `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		e.t.Fatalf("decode schedule: %v\n%s", err, out)
	}
	return &v.Schedule, v.Runs
}

// TestScheduleBuildsOnWorker runs a schedule firing every 2 s under two
// monitors and a real worker: the first run builds (slowly), the runs
// while it runs are skipped, then rebuild_age skips the runs after its
// success; no fire time runs twice; pause stops the runs, resume starts
// them again, delete removes the schedule.
func TestScheduleBuildsOnWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.moreConf = "[schedules]\nsync_interval = 200ms\n"
	e.slowXorriso(5)
	e.worker("host1")
	for _, host := range []string{"monitor1", "monitor2"} {
		e.startReady("serving", "monitor", "--config", e.config(host, ""), "--listen", "127.0.0.1:0")
	}
	cfg := e.config("client", "")

	// A bad cron expression is refused, naming the flag; nothing is stored.
	if _, errs, code := e.run("schedule", "add", "--config", cfg, "--cron", "61 * * * *", e.spec("s.conf", "x86_64", "boot.iso")); code == 0 || !strings.Contains(errs, "--cron:") {
		t.Errorf("bad cron: exit %d, stderr %q; want a failure naming --cron", code, errs)
	}
	out, errs, code := e.run("schedule", "add", "--config", cfg, "--cron", "@every 2s", "--rebuild-age", "1h", e.spec("s.conf", "x86_64", "boot.iso"))
	if code != 0 {
		t.Fatalf("fbs schedule add: exit %d: %s", code, errs)
	}
	id := strings.TrimSpace(out)
	if !tasks.ValidScheduleID(id) {
		t.Fatalf("fbs schedule add printed %q, not a schedule ID", out)
	}

	// The first run builds; the slow tool keeps the build running.
	var build string
	e.waitFor(30*time.Second, "the first run's build", func() bool {
		_, runs := e.showSchedule(cfg, id)
		for _, r := range runs {
			if r.Outcome == schedules.OutcomeBuilt {
				build = r.Build
			}
		}
		return build != ""
	})
	b := e.waitState(cfg, build, tasks.StateSucceeded, 2*time.Minute)
	if b.Schedule != id {
		t.Errorf("build %s: schedule %q, want %q", build, b.Schedule, id)
	}
	var runs []schedules.Run
	e.waitFor(20*time.Second, "a run skipped for rebuild_age", func() bool {
		_, runs = e.showSchedule(cfg, id)
		return strings.Contains(runs[0].Reason, "younger than rebuild_age")
	})
	seen := map[time.Time]bool{}
	var built, whileRunning int
	for _, r := range runs {
		if seen[r.Slot] {
			t.Errorf("fire time %s ran twice", r.Slot)
		}
		seen[r.Slot] = true
		switch {
		case r.Outcome == schedules.OutcomeBuilt:
			built++
		case r.Outcome == schedules.OutcomeSkipped && strings.HasPrefix(r.Reason, "previous build "+build+" still"):
			whileRunning++
		case r.Outcome == schedules.OutcomeSkipped && strings.Contains(r.Reason, "last success build "+build+" is younger than rebuild_age 1h0m0s"):
		default:
			t.Errorf("unexpected run %+v", r)
		}
	}
	if built != 1 || whileRunning == 0 {
		t.Errorf("runs built %d, skipped while running %d; want 1 and some:\n%+v", built, whileRunning, runs)
	}

	// Pause: no run for three fire times; resume: runs again.
	if out, errs, code := e.run("schedule", "pause", "--config", cfg, id); code != 0 || !strings.Contains(out, "paused") {
		t.Fatalf("fbs schedule pause: exit %d: %s%s", code, out, errs)
	}
	_, before := e.showSchedule(cfg, id)
	time.Sleep(6 * time.Second) // three fire times of a paused schedule
	if sc, after := e.showSchedule(cfg, id); !sc.Paused || len(after) != len(before) {
		t.Errorf("paused schedule: paused %v, runs %d -> %d; want no run", sc.Paused, len(before), len(after))
	}
	if _, errs, code := e.run("schedule", "resume", "--config", cfg, id); code != 0 {
		t.Fatalf("fbs schedule resume: exit %d: %s", code, errs)
	}
	e.waitFor(20*time.Second, "a run after resume", func() bool {
		_, after := e.showSchedule(cfg, id)
		return len(after) > len(before)
	})
	list, _, code := e.run("schedule", "list", "--config", cfg, "--all")
	if code != 0 || !strings.Contains(list, id) || !strings.Contains(list, "@every 2s") {
		t.Errorf("fbs schedule list: exit %d:\n%s", code, list)
	}
	if _, errs, code := e.run("schedule", "delete", "--config", cfg, id); code != 0 {
		t.Fatalf("fbs schedule delete: exit %d: %s", code, errs)
	}
	if _, errs, code := e.run("schedule", "show", "--config", cfg, id); code == 0 || !strings.Contains(errs, "schedule not found") {
		t.Errorf("show after delete: exit %d: %s", code, errs)
	}
}
