package worker

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

// TestProgressWriter writes a running build's progress into its record in
// a real Redis: the newest report lands, a report of a stage that has
// ended never does, and a report of another stage than the record's is
// left out.
func TestProgressWriter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := builds.NewStore(redistest.Start(t).Client())
	b := &tasks.Build{ID: tasks.NewBuildID(), Owner: "alice", State: tasks.StateQueued, Queue: tasks.QueueName("x86_64", "41"),
		Spec: tasks.Spec{Type: tasks.TypeLive, Arch: "x86_64", Release: "41", Staging: "file:///srv/x"}}
	b.TaskID = b.ID
	if err := st.Create(ctx, b, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Update(ctx, b.ID, func(b *tasks.Build) error {
		b.State, b.Stage, b.Attempt = tasks.StateRunning, tasks.StageTransfer, 1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	update := func(ctx context.Context, fn func(*tasks.Build)) error {
		_, err := st.Update(ctx, b.ID, func(b *tasks.Build) error { fn(b); return nil })
		return err
	}
	w := newProgressWriter(progressWriterParams{id: b.ID, update: update, log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	w.Start(ctx)
	defer w.Stop()
	at := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	report := func(done int64) tasks.Progress {
		return tasks.Progress{Stage: tasks.StageTransfer, Item: "a.iso", Done: done, Total: 100, Rate: 5, Updated: at.Add(time.Duration(done) * time.Second)}
	}
	for done := int64(1); done <= 50; done++ {
		w.publish(report(done))
	}
	progressOf := func() *tasks.Progress {
		got, err := st.Get(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Progress
	}
	want := report(50)
	deadline := time.Now().Add(10 * time.Second)
	for p := progressOf(); p == nil || p.Done != 50; p = progressOf() {
		if time.Now().After(deadline) {
			t.Fatalf("record's progress %+v, want the newest report (50 bytes)", p)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if diff := cmp.Diff(&want, progressOf()); diff != "" {
		t.Errorf("record's progress (-want +got):\n%s", diff)
	}

	// The stage ends: its reports are dropped, even one made before.
	stale := stamped{p: report(60), gen: w.gen.Load()}
	w.stageEnded()
	if err := update(ctx, func(b *tasks.Build) { b.Progress = nil }); err != nil {
		t.Fatal(err)
	}
	w.write(ctx, stale)
	if p := progressOf(); p != nil {
		t.Errorf("after the stage ended: record's progress %+v, want none", p)
	}
	// A report of another stage than the record's is left out.
	other := report(70)
	other.Stage = tasks.StageFetch
	w.write(ctx, stamped{p: other, gen: w.gen.Load()})
	if p := progressOf(); p != nil {
		t.Errorf("a fetch report while the record is in transfer: record's progress %+v, want none", p)
	}
}
