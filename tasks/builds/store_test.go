package builds_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

func newBuild(created time.Time, state tasks.State) *tasks.Build {
	return &tasks.Build{
		ID: tasks.NewBuildID(), State: state, Created: created,
		Spec: tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "41"},
	}
}

func TestStoreCreateGetUpdateDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := builds.NewStore(redistest.Start(t).Client())
	b := newBuild(time.Now().UTC().Truncate(time.Millisecond), tasks.StateQueued)
	if err := st.Create(ctx, b, []byte(`{"payload":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(ctx, b, nil); !errors.Is(err, builds.ErrConflict) {
		t.Errorf("second Create: %v, want ErrConflict", err)
	}
	got, err := st.Get(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, got); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	up, err := st.Update(ctx, b.ID, func(b *tasks.Build) error { b.State = tasks.StateRunning; return nil })
	if err != nil || up.State != tasks.StateRunning {
		t.Fatalf("Update: %v %v", up, err)
	}
	if ids, _ := st.Running(ctx); len(ids) != 1 || ids[0] != b.ID {
		t.Errorf("Running = %v, want [%s]", ids, b.ID)
	}
	refuse := errors.New("no")
	if _, err := st.Update(ctx, b.ID, func(*tasks.Build) error { return refuse }); !errors.Is(err, refuse) {
		t.Errorf("Update refused: %v", err)
	}
	if _, err := st.Update(ctx, b.ID, func(b *tasks.Build) error { b.State = tasks.StateFailed; return nil }); err != nil {
		t.Fatal(err)
	}
	if ids, _ := st.Running(ctx); len(ids) != 0 {
		t.Errorf("Running after failed = %v", ids)
	}
	if err := st.Delete(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{b.ID, "../../etc/passwd", "*"} {
		if _, err := st.Get(ctx, id); !errors.Is(err, builds.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", id, err)
		}
	}
}

// TestStoreStateIndexFollowsUpdates checks a build moves between state
// indexes as its state changes, and leaves them when deleted.
func TestStoreStateIndexFollowsUpdates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := builds.NewStore(redistest.Start(t).Client())
	b := newBuild(time.Now(), tasks.StateQueued)
	if err := st.Create(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	count := func(state tasks.State) int {
		got, err := st.List(ctx, builds.ListOptions{State: state})
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	if _, err := st.Update(ctx, b.ID, func(b *tasks.Build) error { b.State = tasks.StateRunning; return nil }); err != nil {
		t.Fatal(err)
	}
	if count(tasks.StateQueued) != 0 || count(tasks.StateRunning) != 1 {
		t.Errorf("after update: queued %d running %d", count(tasks.StateQueued), count(tasks.StateRunning))
	}
	if n, _ := st.CountByState(ctx); n[tasks.StateRunning] != 1 || n[tasks.StateQueued] != 0 {
		t.Errorf("CountByState = %v", n)
	}
	if err := st.Delete(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if count(tasks.StateRunning) != 0 {
		t.Error("deleted build still in the state index")
	}
}

func TestStoreUpdateConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := builds.NewStore(redistest.Start(t).Client())
	b := newBuild(time.Now(), tasks.StateRunning)
	if err := st.Create(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	const n = 20
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			_, err := st.Update(ctx, b.ID, func(b *tasks.Build) error {
				b.Events = append(b.Events, fmt.Sprint(i))
				return nil
			})
			errs <- err
		}(i)
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, _ := st.Get(ctx, b.ID)
	if len(got.Events) != n {
		t.Errorf("%d events after %d concurrent updates: lost updates", len(got.Events), n)
	}
}

func TestStoreList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := builds.NewStore(redistest.Start(t).Client())
	base := time.Now().Add(-time.Hour)
	var all []*tasks.Build
	for i := 0; i < 7; i++ {
		state := tasks.StateSucceeded
		if i%2 == 0 {
			state = tasks.StateFailed
		}
		b := newBuild(base.Add(time.Duration(i)*time.Minute), state)
		b.Owner = "alice"
		if i == 1 || i == 5 {
			b.Owner = "bob"
		}
		if err := st.Create(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
		all = append([]*tasks.Build{b}, all...) // newest first
	}
	ids := func(bs []*tasks.Build) []string {
		var out []string
		for _, b := range bs {
			out = append(out, b.ID)
		}
		return out
	}
	failed := func(b *tasks.Build) bool { return b.State == tasks.StateFailed }
	tests := []struct {
		name string
		opts builds.ListOptions
		want []*tasks.Build
	}{
		{"newest first", builds.ListOptions{Limit: 3}, all[:3]},
		{"cursor", builds.ListOptions{Limit: 3, Before: all[2].ID}, all[3:6]},
		{"cursor at end", builds.ListOptions{Limit: 3, Before: all[6].ID}, nil},
		{"filter", builds.ListOptions{Limit: 10, Match: failed}, []*tasks.Build{all[0], all[2], all[4], all[6]}},
		{"filter with cursor", builds.ListOptions{Limit: 2, Before: all[2].ID, Match: failed}, []*tasks.Build{all[4], all[6]}},
		{"state index", builds.ListOptions{Limit: 10, State: tasks.StateFailed}, []*tasks.Build{all[0], all[2], all[4], all[6]}},
		{"state index with cursor", builds.ListOptions{Limit: 1, Before: all[0].ID, State: tasks.StateFailed}, []*tasks.Build{all[2]}},
		{"owner index", builds.ListOptions{Limit: 10, Owner: "bob"}, []*tasks.Build{all[1], all[5]}},
		{"owner and state", builds.ListOptions{Limit: 10, Owner: "bob", State: tasks.StateSucceeded}, []*tasks.Build{all[1], all[5]}},
		{"unknown owner", builds.ListOptions{Limit: 10, Owner: "nobody"}, nil},
	}
	for _, tc := range tests {
		got, err := st.List(ctx, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ids(tc.want), ids(got)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestLogStreamNoRepeats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := builds.NewStore(redistest.Start(t).Client())
	id := tasks.NewBuildID()
	lines := []builds.LogLine{{N: 1, Text: "a"}, {N: 2, Text: "b"}}
	if top, err := st.AppendLog(ctx, id, lines, 0); err != nil || top != 0 {
		t.Fatalf("AppendLog = %d, %v", top, err)
	}
	// A retry of a batch that partly reached Redis adds only what is new.
	if top, err := st.AppendLog(ctx, id, append(lines, builds.LogLine{N: 3, Text: "c"}), 0); err != nil || top != 2 {
		t.Fatalf("AppendLog = %d, %v", top, err)
	}
	// A batch that would leave a gap is refused, and says where the stream is.
	if top, err := st.AppendLog(ctx, id, []builds.LogLine{{N: 9, Text: "gap"}}, 0); err != nil || top != 3 {
		t.Fatalf("AppendLog with a gap = %d, %v", top, err)
	}
	if err := st.EndLog(ctx, id, tasks.StateSucceeded); err != nil {
		t.Fatal(err)
	}
	got, end, err := st.ReadLog(ctx, id, 0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []builds.LogLine{{1, "a"}, {2, "b"}, {3, "c"}}
	if diff := cmp.Diff(want, got); diff != "" || end != tasks.StateSucceeded {
		t.Errorf("ReadLog end %q (-want +got):\n%s", end, diff)
	}
	got, _, _ = st.ReadLog(ctx, id, 2, 100, 0)
	if diff := cmp.Diff(want[2:], got); diff != "" {
		t.Errorf("ReadLog after 2 (-want +got):\n%s", diff)
	}
	tail, end, err := st.TailLog(ctx, id, 2)
	if diff := cmp.Diff(want[1:], tail); diff != "" || end != tasks.StateSucceeded || err != nil {
		t.Errorf("TailLog end %q err %v (-want +got):\n%s", end, err, diff)
	}
	if n, _ := st.LastLogLine(ctx, id); n != 3 {
		t.Errorf("LastLogLine = %d, want 3 (end marker not counted)", n)
	}
}

func TestStoreListRawMatchesList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := builds.NewStore(redistest.Start(t).Client())
	for i := 0; i < 5; i++ {
		b := newBuild(time.Now(), tasks.StateSucceeded)
		b.Owner = []string{"alice", "bob"}[i%2]
		if err := st.Create(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, opts := range []builds.ListOptions{{Limit: 3}, {Limit: 10, Owner: "alice"}, {Limit: 10, State: tasks.StateSucceeded}} {
		want, err := st.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		ids, raws, err := st.ListRaw(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		var got []*tasks.Build
		for i, r := range raws {
			var b tasks.Build
			if err := json.Unmarshal(r, &b); err != nil || b.ID != ids[i] {
				t.Fatalf("raw record %d: %v (id %s vs %s)", i, err, b.ID, ids[i])
			}
			got = append(got, &b)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%+v: ListRaw differs from List (-want +got):\n%s", opts, diff)
		}
	}
	if _, _, err := st.ListRaw(ctx, builds.ListOptions{Owner: "a", State: tasks.StateFailed}); err == nil {
		t.Error("ListRaw accepted two index filters")
	}
}
