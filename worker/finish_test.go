package worker

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/worker/pipeline"
)

// TestLostAttemptLeavesStreamOpen replays the chaos soak's build
// 01M8EQQN8J03XBF1PYY12YW6FT at the worker: attempt 1 finished after the
// reaper had re-queued the build, and its worker ended the log stream with
// its own verdict, so attempt 2's lines, published after that end marker,
// reached no reader. The lost attempt now leaves the stream open; the
// attempt the record says ran ends it.
func TestLostAttemptLeavesStreamOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	pipe, err := pipeline.New(pipeline.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	srv, err := New(rdb, pipe, Config{Releases: []string{"41"}, Host: "lost", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	st := builds.NewStore(rdb)
	b := &tasks.Build{ID: tasks.NewBuildID(), State: tasks.StateRunning, Attempt: 1,
		Spec: tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "41"}}
	payload := []byte(`{"id":"` + b.ID + `"}`)
	if err := st.Create(ctx, b, payload); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendLogTextOf(ctx, b.ID, 1, 1, []byte("attempt 1\n"), 0); err != nil {
		t.Fatal(err)
	}
	lost := srv.newBuildRun(ctx, b, "lost/1/"+b.ID, payload, 0)
	defer lost.done()

	// The reaper re-queues the build and attempt 2 takes it.
	for _, set := range []func(*tasks.Build){
		func(b *tasks.Build) { b.State = tasks.StateQueued },
		func(b *tasks.Build) { b.State, b.Attempt = tasks.StateRunning, 2 },
	} {
		if _, err := st.Update(ctx, b.ID, func(b *tasks.Build) error { set(b); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := lost.finish(ctx, nil, nil); err != nil {
		t.Fatalf("finish of the lost attempt: %v", err)
	}
	if !strings.Contains(logs.String(), "log stream left open") {
		t.Errorf("worker log does not say the lost attempt left the stream open:\n%s", logs.String())
	}
	if _, err := st.AppendLogTextOf(ctx, b.ID, 2, 2, []byte("attempt 2\n"), 0); err != nil {
		t.Fatalf("lines of attempt 2: %v", err)
	}
	cur, err := st.Get(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	run := srv.newBuildRun(ctx, cur, "lost/1/"+b.ID+"-2", payload, 0)
	defer run.done()
	if err := run.finish(ctx, nil, nil); err != nil {
		t.Fatalf("finish of attempt 2: %v", err)
	}
	lines, end, err := st.ReadLog(ctx, b.ID, 0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[1].Text != "attempt 2" || end != tasks.StateSucceeded {
		t.Errorf("stream: %+v, end %q; want both attempts' lines, then succeeded", lines, end)
	}
}
