package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/testing/disktest"
	"github.com/fedora-fbs/fbs/testing/isotest"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/worker/builder"
	"github.com/fedora-fbs/fbs/worker/pipeline"
	"github.com/fedora-fbs/fbs/worker/staging"
)

// The data dirs of these tests are real tmpfs filesystems of smallFS
// bytes; the workers on them want minFree. A build of the test ISO takes
// well under a MiB there.
const (
	smallFS = 16 << 20
	minFree = 4 << 20
)

// spaceFixture is a real Redis, a boot ISO, file staging and a fake
// xorriso that runs the real one, except that the call writing the image
// writes the boot ISO and 64 MiB more while the file fill-once (removed as it is
// read) or fill exists in dir ctl: more than any data dir of these tests
// holds.
type spaceFixture struct {
	rdb                          *redistest.Server
	c                            *client.Client
	store                        *builds.Store
	isoDir, stagingDir, ctl, bin string
}

func newSpaceFixture(t *testing.T) *spaceFixture {
	t.Helper()
	dir := t.TempDir()
	f := &spaceFixture{rdb: redistest.Start(t), isoDir: filepath.Join(dir, "isos"), stagingDir: filepath.Join(dir, "staging"),
		ctl: filepath.Join(dir, "ctl"), bin: filepath.Join(dir, "xorriso")}
	for _, d := range []string{f.isoDir, f.stagingDir, f.ctl} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(isotest.BootISO(t, "FBS-TEST"), filepath.Join(f.isoDir, "boot.iso")); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`#!/bin/sh
case "$*" in
*stdio:/dev/fd/3*)
	if rm %[1]s/fill-once 2>/dev/null || [ -e %[1]s/fill ]; then
		echo "writing too much"
		{ cat %[3]s; head -c %[2]d /dev/zero; } >&3
		exit 0
	fi ;;
esac
exec xorriso "$@"
`, f.ctl, 64<<20, filepath.Join(f.isoDir, "boot.iso"))
	if err := os.WriteFile(f.bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	rdb := f.rdb.Client()
	f.c = client.New(rdb, client.Config{BuildTimeout: time.Hour})
	t.Cleanup(func() { f.c.Close() })
	f.store = f.c.Store()
	return f
}

// worker starts a worker of host with its data dir in dataDir; cfg gives
// the space settings, and tweaks change the server before it starts.
func (f *spaceFixture) worker(t *testing.T, host, dataDir string, cfg Config, tweaks ...func(*Server)) (*Server, *lockedBuffer) {
	t.Helper()
	pipe, err := pipeline.New(pipeline.Config{DataDir: dataDir, ISODir: f.isoDir,
		Staging: staging.Options{FileRoot: f.stagingDir}, Tools: builder.Tools{"xorriso": f.bin}})
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	cfg.Releases, cfg.Host, cfg.TaskCheckInterval = []string{"41"}, host, 20*time.Millisecond
	cfg.HandBackDelay, cfg.PauseCheckInterval = 100*time.Millisecond, 50*time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	srv, err := New(f.rdb.Client(), pipe, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tweak := range tweaks {
		tweak(srv)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv, logs
}

// submit queues a ksiso build of the boot ISO.
func (f *spaceFixture) submit(t *testing.T) *tasks.Build {
	t.Helper()
	b, err := f.c.Submit(context.Background(), &tasks.Payload{Owner: "t", KickstartName: "t.ks", Kickstart: "text\n",
		Spec: tasks.Spec{Type: tasks.TypeKSISO, Arch: HostArch(), Release: "41", Staging: "file://" + f.stagingDir,
			KSISO: &tasks.KSISOSpec{ISO: "boot.iso", Config: "t.ks"}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ended waits for build id to end and returns its record.
func (f *spaceFixture) ended(t *testing.T, id string) *tasks.Build {
	t.Helper()
	var got *tasks.Build
	waitUntil(t, "build "+id+" to end", func() bool {
		b, err := f.c.Get(context.Background(), id)
		got = b
		return err == nil && b.State.Final()
	})
	return got
}

// heartbeat returns the heartbeat of host, nil if it has none.
func (f *spaceFixture) heartbeat(t *testing.T, host string) *builds.WorkerInfo {
	t.Helper()
	ws, err := f.store.Workers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.Host == host {
			return w
		}
	}
	return nil
}

// waitState waits until the heartbeat of host says it is in a state that
// starts with prefix.
func (f *spaceFixture) waitState(t *testing.T, host, prefix string) *builds.WorkerInfo {
	t.Helper()
	var w *builds.WorkerInfo
	waitUntil(t, host+" to say "+prefix, func() bool {
		w = f.heartbeat(t, host)
		return w != nil && strings.HasPrefix(w.State(), prefix)
	})
	return w
}

// TestLowSpaceWorkerHandsBuildBack offers a build to a worker whose data
// dir has less than min_free: it does not claim it but hands it back
// untouched, pauses itself and says why in its heartbeat; a worker with
// room builds it, in one attempt. Before, the worker took it and failed
// it within a second ("xorriso: store its output: ... no space left on
// device"), and so every build of the queue while its disk was full.
func TestLowSpaceWorkerHandsBuildBack(t *testing.T) {
	t.Parallel()
	data := disktest.Mount(t, smallFS)
	f := newSpaceFixture(t)
	// It looks for itself only after the test: the gate alone sees the
	// disk fill.
	_, fullLogs := f.worker(t, "full", data, Config{MinFree: minFree, SpaceCheckInterval: time.Hour})
	f.waitState(t, "full", "running")
	disktest.Fill(t, filepath.Join(data, "filler"), minFree/2)

	b := f.submit(t)
	waitUntil(t, "the hand-back", func() bool {
		return strings.Contains(fullLogs.String(), "build handed back: the data dir is low on space")
	})
	got, err := f.c.Get(context.Background(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != tasks.StateQueued || got.Attempt != 0 || got.Worker != "" || got.TaskID == b.TaskID {
		t.Errorf("handed-back build: state %s attempt %d worker %q task %s; want queued, attempt 0, no worker, a new task", got.State, got.Attempt, got.Worker, got.TaskID)
	}
	w := f.waitState(t, "full", "paused: data dir low on space (")
	if w.Paused || !strings.Contains(w.LowSpace, "min_free 4.0 MiB") {
		t.Errorf("heartbeat of the full worker: paused %v, low space %q; want a self-pause naming min_free", w.Paused, w.LowSpace)
	}
	if p, err := f.store.Paused(context.Background(), builds.PauseWorker, "full"); p != nil || err != nil {
		t.Errorf("the self-pause is stored as an operator's: %+v, %v", p, err)
	}

	f.worker(t, "roomy", t.TempDir(), Config{MinFree: minFree})
	got = f.ended(t, b.ID)
	if got.State != tasks.StateSucceeded || got.Attempt != 1 || got.Worker != "roomy" || got.SpaceHandBacks != 0 {
		t.Errorf("build: state %s (%s) attempt %d on %q, %d hand-backs for space; want succeeded on roomy in one attempt, none", got.State, got.Error, got.Attempt, got.Worker, got.SpaceHandBacks)
	}
	if n := strings.Count(fullLogs.String(), "worker paused itself"); n != 1 {
		t.Errorf("the full worker logged its pause %d times; want once:\n%s", n, fullLogs)
	}
}

// TestRanOutOfSpaceHandsBack fills the data dir in the middle of a build
// (the tool writes more than it holds): the build is handed back, not
// failed, and the worker pauses itself, resumes by itself once there is
// room again (the build's files are removed) and builds it.
func TestRanOutOfSpaceHandsBack(t *testing.T) {
	t.Parallel()
	data := disktest.Mount(t, smallFS)
	f := newSpaceFixture(t)
	if err := os.WriteFile(filepath.Join(f.ctl, "fill-once"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, logs := f.worker(t, "small", data, Config{MinFree: minFree, SpaceCheckInterval: 100 * time.Millisecond})
	b := f.submit(t)
	got := f.ended(t, b.ID)
	if got.State != tasks.StateSucceeded || got.Attempt != 2 || got.SpaceHandBacks != 1 {
		t.Fatalf("build: state %s (%s) attempt %d, %d hand-backs for space; want succeeded at attempt 2 after 1", got.State, got.Error, got.Attempt, got.SpaceHandBacks)
	}
	if !slices.ContainsFunc(got.Events, func(e string) bool {
		return strings.Contains(e, "handed back by worker small, whose data dir ran out of space (1 of 3)")
	}) {
		t.Errorf("events %q; want the hand-back for space", got.Events)
	}
	for _, want := range []string{"worker paused itself", "worker resumed by itself"} {
		if n := strings.Count(logs.String(), want); n != 1 {
			t.Errorf("%q logged %d times; want once:\n%s", want, n, logs)
		}
	}
	lines, _, err := f.store.ReadLog(context.Background(), b.ID, 0, 10000, 0)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, l := range lines {
		text.WriteString(l.Text)
	}
	if want := "ran out of space: build: xorriso: store its output"; !strings.Contains(text.String(), want) {
		t.Errorf("build log does not say %q:\n%s", want, text.String())
	}
	f.waitState(t, "small", "running")
}

// TestBuildTooLargeFails runs a build that fills any data dir: it is
// handed back SpaceHandBacks times, then fails with an error that names
// the data dir and the want of space, rather than going round for ever.
func TestBuildTooLargeFails(t *testing.T) {
	t.Parallel()
	data := disktest.Mount(t, smallFS)
	f := newSpaceFixture(t)
	if err := os.WriteFile(filepath.Join(f.ctl, "fill"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f.worker(t, "small", data, Config{MinFree: minFree, SpaceCheckInterval: 100 * time.Millisecond, SpaceHandBacks: 2})
	b := f.submit(t)
	got := f.ended(t, b.ID)
	want := fmt.Sprintf("the data dir of small (%s) ran out of space: build: xorriso: store its output", data)
	if got.State != tasks.StateFailed || got.Attempt != 3 || got.SpaceHandBacks != 2 ||
		!strings.Contains(got.Error, want) || !strings.Contains(got.Error, "handed back 2 times before for want of space") {
		t.Errorf("build: state %s attempt %d, %d hand-backs for space, error %q; want failed at attempt 3 after 2, the error saying %q and the hand-backs",
			got.State, got.Attempt, got.SpaceHandBacks, got.Error, want)
	}
	// What the attempts wrote is gone: the worker takes builds again.
	f.waitState(t, "small", "running")
}

// TestOperatorPauseOutlastsLowSpace pauses a worker that paused itself for
// space: when the space comes back, it stays paused, taking nothing, until
// the operator resumes it.
func TestOperatorPauseOutlastsLowSpace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	data := disktest.Mount(t, smallFS)
	f := newSpaceFixture(t)
	_, logs := f.worker(t, "w", data, Config{MinFree: minFree, SpaceCheckInterval: 50 * time.Millisecond})
	filler := filepath.Join(data, "filler")
	disktest.Fill(t, filler, minFree/2)
	f.waitState(t, "w", "paused: data dir low on space")

	if _, err := f.c.PauseWorker(ctx, "w", "op", "maintenance"); err != nil {
		t.Fatal(err)
	}
	f.waitState(t, "w", "paused; data dir low on space")
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the room to be seen", func() bool { return strings.Contains(logs.String(), "worker resumed by itself") })
	waitUntil(t, "the heartbeat to say paused by the operator alone", func() bool {
		w := f.heartbeat(t, "w")
		return w != nil && w.State() == "paused"
	})
	if p, err := f.store.Paused(ctx, builds.PauseWorker, "w"); p == nil || err != nil || p.By != "op" {
		t.Errorf("the operator's pause: %+v, %v; want it kept", p, err)
	}

	b := f.submit(t)
	// Many polls of the build queue, and looks at the pause and the space.
	time.Sleep(time.Second)
	if got, err := f.c.Get(ctx, b.ID); err != nil || got.State != tasks.StateQueued || got.Attempt != 0 {
		t.Fatalf("build while paused: %+v, %v; want queued, never attempted", got, err)
	}
	if err := f.c.ResumeWorker(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	if got := f.ended(t, b.ID); got.State != tasks.StateSucceeded || got.Attempt != 1 {
		t.Errorf("build after the resume: state %s (%s) attempt %d; want succeeded in one attempt", got.State, got.Error, got.Attempt)
	}
}

// TestRanOutOfSpace tells the failures that are a full disk of this host
// from the others, a full staging disk among them.
func TestRanOutOfSpace(t *testing.T) {
	t.Parallel()
	write := &os.PathError{Op: "write", Path: "/var/lib/fbs/builds/x/out/boot.iso", Err: syscall.ENOSPC}
	stage := func(s tasks.Stage, err error) error { return &pipeline.StageError{Stage: s, Err: err} }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"none", nil, false},
		{"tool output", stage(tasks.StageBuild, fmt.Errorf("xorriso: store its output: %w", write)), true},
		{"kickstart", stage(tasks.StageFlatten, fmt.Errorf("write kickstart: %w", write)), true},
		{"quota", stage(tasks.StageFetch, &os.PathError{Op: "write", Path: "/x", Err: syscall.EDQUOT}), true},
		{"log", fmt.Errorf("open build log: %w", write), true},
		{"tool says so", stage(tasks.StageBuild, &builder.ExitError{Tool: "lorax", Code: 1, Tail: []string{"OSError: [Errno 28] No space left on device: '/var/tmp/x'"}}), true},
		{"tool fails otherwise", stage(tasks.StageBuild, &builder.ExitError{Tool: "lorax", Code: 1, Tail: []string{"depsolve failed"}}), false},
		{"staging full", stage(tasks.StageTransfer, fmt.Errorf("stage boot.iso: %w", write)), false},
		{"build failed, then staging full", errors.Join(stage(tasks.StageBuild, errors.New("exit 1")), stage(tasks.StageTransfer, write)), false},
		{"other", stage(tasks.StageBuild, errors.New("no space for opinions")), false},
	} {
		if got := ranOutOfSpace(tc.err); got != tc.want {
			t.Errorf("%s: ranOutOfSpace(%v) = %v; want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// TestSelfPausesRetireIdleServers pauses and resumes a worker for space
// again and again: each switch starts an asynq server and stops the one
// before, which must then be shut down once its tasks are done, not kept
// with its goroutines and Redis connection until the worker exits.
func TestSelfPausesRetireIdleServers(t *testing.T) {
	t.Parallel()
	data := disktest.Mount(t, smallFS)
	f := newSpaceFixture(t)
	srv, _ := f.worker(t, "flip", data, Config{MinFree: minFree, SpaceCheckInterval: 20 * time.Millisecond},
		func(s *Server) { s.retireAfter = 0 })
	filler := filepath.Join(data, "filler")
	for range 4 {
		disktest.Fill(t, filler, minFree/2)
		f.waitState(t, "flip", "paused: data dir low on space")
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		f.waitState(t, "flip", "running")
	}
	srv.mu.Lock()
	idle := len(srv.idle)
	srv.mu.Unlock()
	if idle > 1 {
		t.Errorf("%d idle asynq servers after 8 switches; want at most the last one", idle)
	}
}
