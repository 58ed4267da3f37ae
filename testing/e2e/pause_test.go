package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
)

// TestPausedQueueWaits pauses a build queue with `fbs queue pause`: a build
// submitted to it is accepted and waits, `fbs queue paused` says who paused
// it and why, and once resumed the build runs.
func TestPausedQueueWaits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.worker("host1")
	cfg := e.config("client", "")
	queue := tasks.QueueName("x86_64", "41")

	out, errs, code := e.run("queue", "pause", "--config", cfg, queue, "--message", "mirror sync")
	if code != 0 || !strings.Contains(out, "queue "+queue+" paused by") {
		t.Fatalf("fbs queue pause: exit %d\n%s%s", code, out, errs)
	}
	out, _, code = e.run("submit", "--config", cfg, e.spec("p.conf", "x86_64", "boot.iso"))
	if code != 0 {
		t.Fatalf("submit to a paused queue: exit %d", code)
	}
	id := strings.TrimSpace(out)
	// Workers poll every 20 ms: two seconds is a hundred chances to take it.
	time.Sleep(2 * time.Second)
	if b := e.status(cfg, id); b.State != tasks.StateQueued {
		t.Fatalf("build on a paused queue is %s, want queued", b.State)
	}
	out, _, _ = e.run("queue", "paused", "--config", cfg)
	if !strings.Contains(out, queue) || !strings.Contains(out, "mirror sync") {
		t.Errorf("fbs queue paused does not list the pause:\n%s", out)
	}
	if _, errs, code := e.run("queue", "pause", "--config", cfg, "build:x86_64"); code == 0 || !strings.Contains(errs, "not a build queue") {
		t.Errorf("pause of a bad queue name: exit %d, %s", code, errs)
	}

	if out, errs, code := e.run("queue", "resume", "--config", cfg, queue); code != 0 {
		t.Fatalf("fbs queue resume: exit %d\n%s%s", code, out, errs)
	}
	e.waitState(cfg, id, tasks.StateSucceeded, 2*time.Minute)
	if _, errs, code := e.run("queue", "resume", "--config", cfg, queue); code == 0 || !strings.Contains(errs, "not paused") {
		t.Errorf("second resume: exit %d, %s; want not paused", code, errs)
	}
}

// TestPausedWorkerFinishesAndWaits pauses a worker while it runs a build:
// the build finishes on that worker, never handed back; a build submitted
// meanwhile waits, and runs once the worker is resumed.
func TestPausedWorkerFinishesAndWaits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, pids := e.slowXorriso(4)
	w := e.worker("host1")
	cfg := e.config("client", "")
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	first := e.submitSlow(cfg, "first.conf", pids)

	out, errs, code := e.run("worker", "pause", "--config", cfg, host, "--message", "kernel update")
	if code != 0 || !strings.Contains(out, "paused; running builds go on") {
		t.Fatalf("fbs worker pause: exit %d\n%s%s", code, out, errs)
	}
	out, _, code = e.run("submit", "--config", cfg, e.spec("second.conf", "x86_64", "boot.iso"))
	if code != 0 {
		t.Fatalf("submit: exit %d", code)
	}
	second := strings.TrimSpace(out)

	b := e.waitState(cfg, first, tasks.StateSucceeded, 2*time.Minute)
	if b.Attempt != 1 || len(b.Events) != 0 {
		t.Errorf("running build of a paused worker: attempt %d events %q; want finished on its first attempt", b.Attempt, b.Events)
	}
	time.Sleep(time.Second)
	if b := e.status(cfg, second); b.State != tasks.StateQueued {
		t.Fatalf("build submitted to a paused worker is %s, want queued", b.State)
	}
	if !strings.Contains(w.Output(), "worker paused") {
		t.Errorf("worker does not log its pause:\n%s", w.Output())
	}

	if out, errs, code := e.run("worker", "resume", "--config", cfg, host); code != 0 {
		t.Fatalf("fbs worker resume: exit %d\n%s%s", code, out, errs)
	}
	e.waitState(cfg, second, tasks.StateSucceeded, 2*time.Minute)
}
