package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
)

// TestWorkerWithoutToolNeverTakes runs a worker whose [tools] names a
// missing livemedia-creator: the submitter is warned, the worker hands the
// live build back untouched, and still runs the kickstart ISO it can.
func TestWorkerWithoutToolNeverTakes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.moreConf = "[tools]\nlivemedia-creator = /nonexistent/livemedia-creator\n"
	w := e.worker("host1")
	cfg := e.config("client", "")
	live := filepath.Join(e.ksDir, "live.conf")
	e.write(live, "[DEFAULT]\ntype=live\narch=x86_64\nrelease=41\nstaging=file://"+e.staging+"\n[live]\nlabel=Test\nconfig=main.ks\n")
	out, errs, code := e.run("submit", "--config", cfg, live)
	if code != 0 {
		t.Fatalf("submit live: exit %d: %s", code, errs)
	}
	id := strings.TrimSpace(out)
	for _, want := range []string{"warning: no live worker of build:x86_64:41 can run live:livemedia-creator builds", "livemedia-creator not found at /nonexistent/livemedia-creator"} {
		if !strings.Contains(errs, want) {
			t.Errorf("submit stderr %q; want %q", errs, want)
		}
	}
	e.waitFor(30*time.Second, "the worker to hand the live build back", func() bool {
		return strings.Contains(w.Output(), "build handed back")
	})
	// The kickstart ISO, which it can build, runs meanwhile.
	if out, errs, code := e.run("submit", "--config", cfg, "--wait", e.spec("k.conf", "x86_64", "boot.iso")); code != 0 {
		t.Fatalf("submit ksiso: exit %d: %s\n%s", code, errs, out)
	}
	if b := e.status(cfg, id); b.State != tasks.StateQueued || b.Attempt != 0 || b.Worker != "" || b.TaskID == id {
		t.Errorf("live build: state %s attempt %d worker %q task %s; want queued, never attempted, in a new task", b.State, b.Attempt, b.Worker, b.TaskID)
	}
	if _, errs, code := e.run("cancel", "--config", cfg, id); code != 0 {
		t.Fatalf("cancel: %d %s", code, errs)
	}
	e.waitState(cfg, id, tasks.StateCancelled, 10*time.Second)
}
