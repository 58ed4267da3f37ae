package worker

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

// TestRecordWrittenAgain loses a running build's record (Redis restarted
// empty) and checks both ways the worker writes it again: an update (a
// stage, the result) applies to the worker's copy and stores it, and
// restore stores the copy when nothing else did.
func TestRecordWrittenAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	st := builds.NewStore(srv.Client())
	b := &tasks.Build{ID: tasks.NewBuildID(), State: tasks.StateRunning, Attempt: 1, Owner: "alice",
		Spec: tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "41"}}
	payload := []byte(`{"id":"` + b.ID + `"}`)
	if err := st.Create(ctx, b, payload); err != nil {
		t.Fatal(err)
	}
	rec := newRecord(st, b, payload, slog.New(slog.NewTextHandler(io.Discard, nil)))
	setStage := func(s tasks.Stage) func(*tasks.Build) error {
		return func(b *tasks.Build) error { b.Stage = s; return nil }
	}
	if _, err := rec.update(ctx, setStage(tasks.StageBuild)); err != nil {
		t.Fatal(err)
	}

	srv.Restart() // empty
	if _, err := rec.update(ctx, setStage(tasks.StageChecksum)); err != nil {
		t.Fatalf("update of a lost record: %v", err)
	}
	got, err := st.Get(ctx, b.ID)
	if err != nil || got.Stage != tasks.StageChecksum || got.Owner != "alice" || got.State != tasks.StateRunning {
		t.Fatalf("record after the update: %+v, %v", got, err)
	}
	if p, err := st.Payload(ctx, b.ID); err != nil || string(p) != string(payload) {
		t.Errorf("payload after the update: %q, %v", p, err)
	}
	if list, err := st.List(ctx, builds.ListOptions{Owner: "alice"}); err != nil || len(list) != 1 {
		t.Errorf("owner index after the update: %d builds, %v", len(list), err)
	}

	srv.Restart()
	if ok, err := rec.restore(ctx); !ok || err != nil {
		t.Fatalf("restore = %v, %v", ok, err)
	}
	if ok, err := rec.restore(ctx); ok || err != nil {
		t.Errorf("second restore = %v, %v; want nothing to do", ok, err)
	}
	if got, err := st.Get(ctx, b.ID); err != nil || got.Stage != tasks.StageChecksum {
		t.Errorf("restored record: %+v, %v", got, err)
	}
}
