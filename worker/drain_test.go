package worker

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/testing/isotest"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/worker/builder"
	"github.com/fedora-fbs/fbs/worker/pipeline"
	"github.com/fedora-fbs/fbs/worker/staging"
)

// TestDrainHandsBackAtOnce drains a real worker whose build tool never
// ends. The build is handed back under a task of its own, queued before
// Shutdown returns, and Shutdown returns within DrainTimeout plus the
// hand-back grace. Before, the handler waited for asynq to put its task
// back at the end of that grace, so a worker killed or a Redis away by
// then left the record queued with no task (the chaos soak's stuck build),
// and every drain took the whole grace on top of DrainTimeout.
func TestDrainHandsBackAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	dir := t.TempDir()
	isoDir, stagingDir := filepath.Join(dir, "isos"), filepath.Join(dir, "staging")
	for _, d := range []string{isoDir, stagingDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(isotest.BootISO(t, "FBS-TEST"), filepath.Join(isoDir, "boot.iso")); err != nil {
		t.Fatal(err)
	}
	// xorriso answers its version, then hangs when asked to build.
	slow := filepath.Join(dir, "xorriso")
	script := "#!/bin/sh\ncase \"$*\" in *version*) exec xorriso \"$@\";; esac\necho building\nexec sleep 300\n"
	if err := os.WriteFile(slow, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	pipe, err := pipeline.New(pipeline.Config{DataDir: filepath.Join(dir, "data"), ISODir: isoDir,
		Staging: staging.Options{FileRoot: stagingDir}, Tools: builder.Tools{"xorriso": slow}})
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	const drain = time.Second
	srv, err := New(rdb, pipe, Config{Releases: []string{"41"}, Host: "drainer", DrainTimeout: drain,
		TaskCheckInterval: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)

	c := client.New(rdb, client.Config{BuildTimeout: time.Hour})
	t.Cleanup(func() { c.Close() })
	b, err := c.Submit(ctx, &tasks.Payload{Owner: "t", KickstartName: "t.ks", Kickstart: "text\n",
		Spec: tasks.Spec{Type: tasks.TypeKSISO, Arch: HostArch(), Release: "41", Staging: "file://" + stagingDir,
			KSISO: &tasks.KSISOSpec{ISO: "boot.iso", Config: "t.ks"}}})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the build to run its tool", func() bool {
		got, err := c.Get(ctx, b.ID)
		return err == nil && got.State == tasks.StateRunning && got.Stage == tasks.StageBuild
	})

	start := time.Now()
	srv.Shutdown()
	took := time.Since(start)
	if limit := drain + handBackGrace; took >= limit {
		t.Errorf("drain took %s; want less than DrainTimeout + the hand-back grace (%s)", took.Round(time.Millisecond), limit)
	}
	got, err := c.Get(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != tasks.StateQueued || got.TaskID == b.TaskID || got.Attempt != 1 {
		t.Fatalf("after the drain: state %s task %s attempt %d; want queued under a new task, attempt 1", got.State, got.TaskID, got.Attempt)
	}
	info, err := asynq.NewInspectorFromRedisClient(rdb).GetTaskInfo(got.Queue, got.TaskID)
	if err != nil || info.State != asynq.TaskStatePending {
		t.Errorf("hand-back task %s: %+v, %v; want it pending", got.TaskID, info, err)
	}
}
