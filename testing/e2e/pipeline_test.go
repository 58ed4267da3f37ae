package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/isotest"
	"github.com/fedora-fbs/fbs/testing/proctest"
	"github.com/fedora-fbs/fbs/worker/staging"
)

// checkStaged checks a succeeded ksiso build's staging dir: the ISO, a
// CHECKSUM that `sha256sum -c` accepts, the kickstart and the log, and the
// kickstart inside the ISO, flattened, with every kernel line patched.
func checkStaged(t *testing.T, e *env, id string) {
	t.Helper()
	dir := filepath.Join(e.staging, id)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("staging dir of %s: %v", id, err)
	}
	var isos []string
	names := map[string]bool{}
	for _, ent := range ents {
		names[ent.Name()] = true
		if strings.HasPrefix(ent.Name(), ".") && ent.Name() != staging.MarkerName {
			t.Errorf("partial or hidden file left in staging: %s", ent.Name())
		}
		if strings.HasSuffix(ent.Name(), ".iso") {
			isos = append(isos, ent.Name())
		}
	}
	for _, want := range []string{"CHECKSUM", "kickstart.ks", "build.log", staging.MarkerName} {
		if !names[want] {
			t.Errorf("staging dir lacks %s (has %v)", want, names)
		}
	}
	if len(isos) != 1 {
		t.Fatalf("want one ISO in staging, got %v", isos)
	}
	cmd := exec.Command("sha256sum", "-c", "CHECKSUM")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c CHECKSUM: %v\n%s", err, out)
	}
	info := isotest.Inspect(t, filepath.Join(dir, isos[0]))
	ks := info.Files["ks.cfg"]
	for _, want := range []string{"Europe/Prague", "lang en_US.UTF-8", "vim-enhanced", "kernel"} {
		if !strings.Contains(ks, want) {
			t.Errorf("ks.cfg on the ISO lacks %q (not flattened?):\n%s", want, ks)
		}
	}
	if strings.Contains(ks, "%include") {
		t.Errorf("ks.cfg on the ISO still has %%include:\n%s", ks)
	}
	if info.VolumeID != volID {
		t.Errorf("volume ID = %q, want %q", info.VolumeID, volID)
	}
	for path, cfg := range info.Files {
		if path == "ks.cfg" {
			continue
		}
		for _, line := range strings.Split(cfg, "\n") {
			l := strings.TrimSpace(line)
			if strings.HasPrefix(l, "append initrd") || strings.HasPrefix(l, "linux ") || strings.HasPrefix(l, "linuxefi ") {
				if !strings.Contains(l, "inst.ks=hd:LABEL=") || !strings.Contains(l, "console=ttyS0") {
					t.Errorf("%s: kernel line not patched: %s", path, l)
				}
			}
		}
	}
	log, err := os.ReadFile(filepath.Join(dir, "build.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"stage flatten: done", "stage build: done", "stage checksum: done", "uploading this log"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("staged log lacks %q", want)
		}
	}
}

func TestSubmitWaitKSISO(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.worker("host1")
	cfg := e.config("client", "")
	out, errs, code := e.run("submit", "--config", cfg, "--wait", e.spec("ks.conf", "x86_64", "boot.iso"))
	if code != 0 {
		t.Fatalf("fbs submit --wait: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	id := strings.SplitN(out, "\n", 2)[0]
	if !tasks.ValidBuildID(id) {
		t.Fatalf("first line of submit output is not a build ID: %q", id)
	}
	if !strings.Contains(out, "stage build: done") {
		t.Errorf("--wait did not follow the log:\n%s", out)
	}
	b := e.status(cfg, id)
	if b.State != tasks.StateSucceeded || b.Attempt != 1 || len(b.Artifacts) < 4 {
		t.Errorf("record: state %s attempt %d artifacts %d, want succeeded, 1, >=4", b.State, b.Attempt, len(b.Artifacts))
	}
	for _, a := range b.Artifacts {
		if a.Size <= 0 || len(a.SHA256) != 64 {
			t.Errorf("artifact %+v lacks size or sha256", a)
		}
	}
	checkStaged(t, e, id)
	// `fbs logs` reads the same log back from Redis.
	logs, _, code := e.run("logs", "--config", cfg, id)
	if code != 0 || !strings.Contains(logs, "stage transfer: started") {
		t.Errorf("fbs logs: exit %d\n%s", code, logs)
	}
}

func TestBuildLocalKSISO(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config("local", "")
	// A local build may name the ISO by its path.
	out, errs, code := e.run("build", "--config", cfg, "--local", e.spec("local.conf", "x86_64", e.iso))
	if code != 0 {
		t.Fatalf("fbs build --local: exit %d\n%s\n%s", code, out, errs)
	}
	id := strings.Fields(out)[1]
	id = strings.TrimSuffix(id, ":")
	if !strings.Contains(out, "log: ") || !strings.Contains(out, "staged: file://") {
		t.Errorf("build --local does not say where the log and images are:\n%s", out)
	}
	checkStaged(t, e, id)
}

func TestSubmitRefusesLocalISOPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, errs, code := e.run("submit", "--config", e.config("client", ""), e.spec("p.conf", "x86_64", e.iso))
	if code == 0 || !strings.Contains(errs, "[ksiso] iso") {
		t.Fatalf("submit with a local ISO path: exit %d, stderr %q; want a refusal naming [ksiso] iso", code, errs)
	}
}

func TestOtherArchNeverTaken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A worker cannot claim another arch.
	_, errs, code := e.run("worker", "--config", e.config("bad", ""), "--arch", "s390x")
	if code == 0 || !strings.Contains(errs, "only serve its own arch") {
		t.Fatalf("worker --arch s390x: exit %d, stderr %q", code, errs)
	}
	e.worker("host1")
	cfg := e.config("client", "")
	out, errs, code := e.run("submit", "--config", cfg, e.spec("a.conf", "aarch64", "boot.iso"))
	if code != 0 {
		t.Fatalf("submit aarch64: %d %s", code, errs)
	}
	other := strings.TrimSpace(out)
	// An x86_64 build submitted after it completes while the aarch64 one waits.
	out, errs, code = e.run("submit", "--config", cfg, "--wait", e.spec("x.conf", "x86_64", "boot.iso"))
	if code != 0 {
		t.Fatalf("submit x86_64: %d %s\n%s", code, errs, out)
	}
	if b := e.status(cfg, other); b.State != tasks.StateQueued || b.Worker != "" || b.Queue != "build:aarch64:41" {
		t.Errorf("aarch64 build: state %s worker %q queue %s; want queued, untouched, in build:aarch64:41", b.State, b.Worker, b.Queue)
	}
}

func TestFailingBuilderTransfersLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A truncated ISO: it has a volume descriptor, so the builder runs
	// xorriso, which then fails on the missing rest.
	data, err := os.ReadFile(e.iso)
	if err != nil {
		t.Fatal(err)
	}
	e.write(filepath.Join(e.isoDir, "broken.iso"), string(data[:40*2048]))
	e.worker("host1")
	cfg := e.config("client", "")
	out, errs, code := e.run("submit", "--config", cfg, "--wait", e.spec("f.conf", "x86_64", "broken.iso"))
	if code == 0 {
		t.Fatalf("submit --wait of a failing build exited 0:\n%s", out)
	}
	id := strings.SplitN(out, "\n", 2)[0]
	b := e.status(cfg, id)
	if b.State != tasks.StateFailed || !strings.Contains(b.Error, "build") || len(b.Tail) == 0 {
		t.Errorf("failed build record: state %s error %q tail %q", b.State, b.Error, b.Tail)
	}
	if !strings.Contains(errs, "failed") {
		t.Errorf("submit --wait stderr does not say it failed: %q", errs)
	}
	log, err := os.ReadFile(filepath.Join(e.staging, id, "build.log"))
	if err != nil {
		t.Fatalf("log of the failed build not staged: %v", err)
	}
	if !strings.Contains(string(log), "stage build: failed") {
		t.Errorf("staged log lacks the failure:\n%s", log)
	}
}

func TestBadSpecNothingEnqueued(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config("client", "")
	bad := filepath.Join(e.ksDir, "bad.conf")
	e.write(bad, "[DEFAULT]\ntype=floppy\narch=x86_64\nrelease=41\nstaging=file:///tmp\n")
	_, errs, code := e.run("submit", "--config", cfg, bad)
	if code == 0 || !strings.Contains(errs, "bad.conf") || !strings.Contains(errs, "type") {
		t.Errorf("bad spec: exit %d stderr %q; want an error naming the file and the key", code, errs)
	}
	missing := e.spec("m.conf", "x86_64", "boot.iso")
	e.write(filepath.Join(e.ksDir, "main.ks"), "%include nope.ks\n")
	_, errs, code = e.run("submit", "--config", cfg, missing)
	if code == 0 || !strings.Contains(errs, "nope.ks") {
		t.Errorf("missing include: exit %d stderr %q", code, errs)
	}
	// A kickstart with an unknown option is refused with file:line.
	e.write(filepath.Join(e.ksDir, "main.ks"), "text\nbootloader --frobnicate\n")
	_, errs, code = e.run("submit", "--config", cfg, missing)
	if code == 0 || !strings.Contains(errs, "main.ks:2") {
		t.Errorf("invalid kickstart: exit %d stderr %q; want main.ks:2 named", code, errs)
	}
	out, _, _ := e.run("list", "--config", cfg)
	if strings.Count(out, "\n") != 1 {
		t.Errorf("something was enqueued:\n%s", out)
	}
}

func TestRedisDownAtSubmit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config("client", "")
	e.redis.Stop()
	_, errs, code := e.run("submit", "--config", cfg, e.spec("d.conf", "x86_64", "boot.iso"))
	if code == 0 || !strings.Contains(errs, "Redis") {
		t.Errorf("submit with Redis down: exit %d stderr %q", code, errs)
	}
}

func TestCancelRunningKillsProcessGroup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, pids := e.slowXorriso(600)
	e.worker("host1")
	cfg := e.config("client", "")
	id := e.submitSlow(cfg, "c.conf", pids)
	var sh, child int
	e.waitFor(10*time.Second, "the pid file", func() bool {
		data, _ := os.ReadFile(pids)
		f := strings.Fields(string(data))
		if len(f) != 2 {
			return false
		}
		sh, _ = strconv.Atoi(f[0])
		child, _ = strconv.Atoi(f[1])
		return true
	})
	if _, errs, code := e.run("cancel", "--config", cfg, id); code != 0 {
		t.Fatalf("fbs cancel: %d %s", code, errs)
	}
	e.waitState(cfg, id, tasks.StateCancelled, 30*time.Second)
	e.waitFor(10*time.Second, "the tool and its child to die", func() bool { return !proctest.Alive(sh) && !proctest.Alive(child) })
	// Never retried: asynq archives the task instead of scheduling a retry,
	// and the build stays cancelled after one attempt.
	insp := asynq.NewInspectorFromRedisClient(e.redis.Client())
	e.waitFor(10*time.Second, "the task to be archived", func() bool {
		info, err := insp.GetTaskInfo("build:x86_64:41", id)
		if err == nil && (info.State == asynq.TaskStateRetry || info.State == asynq.TaskStatePending) {
			t.Fatalf("cancelled task was put back for a retry: %v", info.State)
		}
		return err == nil && info.State == asynq.TaskStateArchived
	})
	if b := e.status(cfg, id); b.State != tasks.StateCancelled || b.Attempt != 1 {
		t.Errorf("after cancel: state %s attempt %d", b.State, b.Attempt)
	}
	// Cancelling a finished build is refused.
	if _, errs, code := e.run("cancel", "--config", cfg, id); code == 0 || !strings.Contains(errs, "finished") {
		t.Errorf("second cancel: exit %d %q", code, errs)
	}
}

func TestCancelQueued(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config("client", "")
	out, _, code := e.run("submit", "--config", cfg, e.spec("q.conf", "x86_64", "boot.iso"))
	if code != 0 {
		t.Fatal("submit failed")
	}
	id := strings.TrimSpace(out)
	if _, errs, code := e.run("cancel", "--config", cfg, id); code != 0 {
		t.Fatalf("cancel queued: %d %s", code, errs)
	}
	e.worker("host1")
	// A build submitted after it runs; the cancelled one never does.
	if _, errs, code := e.run("submit", "--config", cfg, "--wait", e.spec("q2.conf", "x86_64", "boot.iso")); code != 0 {
		t.Fatalf("second build: %s", errs)
	}
	if b := e.status(cfg, id); b.State != tasks.StateCancelled || b.Attempt != 0 {
		t.Errorf("cancelled queued build: state %s attempt %d", b.State, b.Attempt)
	}
}

func TestWorkerKilledBuildRequeued(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.workerConf = shortLease
	_, pids := e.slowXorriso(600)
	w1 := e.worker("host1")
	cfg := e.config("client", "")
	id := e.submitSlow(cfg, "k.conf", pids)
	w1.Kill()
	e.worker("host2")
	b := e.waitState(cfg, id, tasks.StateSucceeded, 3*time.Minute)
	if b.Attempt != 2 || len(b.Events) == 0 || !strings.Contains(b.Events[0], "worker lost") {
		t.Errorf("re-queued build: attempt %d events %q", b.Attempt, b.Events)
	}
	checkStaged(t, e, id)
	log, _ := os.ReadFile(filepath.Join(e.staging, id, "build.log"))
	if strings.Count(string(log), "stage build: started") != 2 || !strings.Contains(string(log), "worker lost") || !strings.Contains(string(log), "attempt 2") {
		t.Errorf("staged log does not keep the first attempt's lines:\n%s", log)
	}
}

func TestWorkerKilledBuildFailsWhenConfigured(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.workerConf = shortLease
	_, pids := e.slowXorriso(600)
	cfg1 := e.config("host1", "lost_builds = fail")
	w1 := e.start("worker", "--config", cfg1)
	cfg := e.config("client", "")
	id := e.submitSlow(cfg, "k.conf", pids)
	w1.Kill()
	e.start("worker", "--config", e.config("host2", "lost_builds = fail"))
	b := e.waitState(cfg, id, tasks.StateFailed, 2*time.Minute)
	if !strings.Contains(b.Error, "worker lost") {
		t.Errorf("error = %q, want worker lost", b.Error)
	}
	logs, _, _ := e.run("logs", "--config", cfg, id)
	if !strings.Contains(logs, "stage build: started") || !strings.Contains(logs, "worker lost") {
		t.Errorf("log up to the loss not kept:\n%s", logs)
	}
}

func TestLongBuildRunsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("takes over two minutes")
	}
	t.Parallel()
	e := newEnv(t)
	calls, _ := e.slowXorriso(135)
	e.worker("host1")
	e.worker("host2")
	cfg := e.config("client", "")
	out, errs, code := e.run("submit", "--config", cfg, "--wait", e.spec("l.conf", "x86_64", "boot.iso"))
	if code != 0 {
		t.Fatalf("long build: %d %s\n%s", code, errs, out)
	}
	id := strings.SplitN(out, "\n", 2)[0]
	b := e.status(cfg, id)
	data, _ := os.ReadFile(calls)
	if n := strings.Count(string(data), "slow xorriso"); n != 1 || b.Attempt != 1 || strings.Count(out, "took the build") != 1 {
		t.Errorf("long build ran %d slow tool calls, attempt %d, %d takes; want once", n, b.Attempt, strings.Count(out, "took the build"))
	}
	checkStaged(t, e, id)
}

func TestDrainHandsBuildBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, pids := e.slowXorriso(600)
	w1 := e.worker("host1")
	cfg := e.config("client", "")
	id := e.submitSlow(cfg, "d.conf", pids)
	start := time.Now()
	_ = w1.Signal(syscall.SIGTERM)
	if err := w1.Wait(); err != nil {
		t.Errorf("drained worker exited with %v", err)
	}
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("worker exited after %s, before its 3 s drain timeout", d)
	}
	if b := e.status(cfg, id); b.State != tasks.StateQueued || len(b.Events) == 0 {
		t.Fatalf("after drain: state %s events %q; want queued, handed back", b.State, b.Events)
	}
	e.worker("host2")
	b := e.waitState(cfg, id, tasks.StateSucceeded, 2*time.Minute)
	if b.Attempt != 2 {
		t.Errorf("attempt = %d, want 2", b.Attempt)
	}
	checkStaged(t, e, id)
}

func TestDrainLetsShortBuildFinish(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, pids := e.slowXorriso(2)
	cfg1 := e.config("host1", "")
	// A drain timeout longer than the build.
	e.write(cfg1, strings.Replace(mustRead(t, cfg1), "drain_timeout = 3s", "drain_timeout = 60s", 1))
	w1 := e.startReady("serving", "worker", "--config", cfg1)
	cfg := e.config("client", "")
	id := e.submitSlow(cfg, "d.conf", pids)
	_ = w1.Signal(syscall.SIGTERM)
	_ = w1.Wait()
	if b := e.status(cfg, id); b.State != tasks.StateSucceeded || b.Attempt != 1 {
		t.Errorf("after drain: state %s attempt %d; want succeeded on the first attempt", b.State, b.Attempt)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestRedisLostMidBuild restarts Redis empty (no persistence) while a build
// runs: the worker writes the build's record again from its own copy, the
// log stream is refilled from the worker's file without waiting for the
// tool's next line, and the build finishes and is staged as if nothing
// happened.
func TestRedisLostMidBuild(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.workerConf = shortLease
	_, pids := e.slowXorriso(10)
	e.worker("host1")
	cfg := e.config("client", "")
	id := e.submitSlow(cfg, "k.conf", pids)
	e.redis.Restart()
	// Within a lease renewal (1 s with the short lease) the record is back,
	// still running, and the stream holds the lines written before the
	// restart.
	var b tasks.Build
	e.waitFor(30*time.Second, "the record to be written again", func() bool {
		out, _, code := e.run("status", "--config", cfg, "--json", id)
		return code == 0 && json.Unmarshal([]byte(out), &b) == nil
	})
	if b.State != tasks.StateRunning || b.Worker == "" || b.Attempt != 1 {
		t.Errorf("record written again: state %s worker %q attempt %d", b.State, b.Worker, b.Attempt)
	}
	var log string
	var logErr string
	e.waitFor(15*time.Second, "the log stream to be refilled", func() bool {
		log, logErr, _ = e.run("logs", "--config", cfg, id)
		if strings.Contains(log, " took the build") && strings.Contains(log, "stage build: started") {
			return true
		}
		t.Logf("log so far:\n%s%s", log, logErr)
		return false
	})
	if done := e.waitState(cfg, id, tasks.StateSucceeded, 3*time.Minute); len(done.Artifacts) == 0 {
		t.Errorf("succeeded build without artifacts: %+v", done)
	}
	checkStaged(t, e, id)
	log, _, _ = e.run("logs", "--config", cfg, id)
	if n := strings.Count(log, " took the build"); n != 1 || !strings.Contains(log, "build succeeded") {
		t.Errorf("log after the restart (%d starts):\n%s", n, log)
	}
}
