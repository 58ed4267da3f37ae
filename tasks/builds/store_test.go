package builds_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/redis/go-redis/v9"

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

// TestStoreListJSON checks the one-round-trip listing against what the
// store holds: order, cursors, both indexes, the next-page cursor, records
// exactly as stored, and a record gone from under its index entry.
func TestStoreListJSON(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	st := builds.NewStore(rdb)
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	var all []*tasks.Build // newest first
	for i := 0; i < 7; i++ {
		b := newBuild(base.Add(time.Duration(i)*time.Minute), []tasks.State{tasks.StateSucceeded, tasks.StateFailed}[i%2])
		b.Owner = []string{"alice", "bob", "carol"}[i%3]
		b.Error = fmt.Sprintf("quote \" and <tag> %d", i) // stored JSON with escapes
		if err := st.Create(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
		all = append([]*tasks.Build{b}, all...)
	}
	// all[3] loses its record but keeps its index entries, as if deleted
	// between two reads: pages skip it and stay full.
	gone := all[3]
	if err := rdb.Del(ctx, "fbs:build:"+gone.ID).Err(); err != nil {
		t.Fatal(err)
	}
	live := slices.DeleteFunc(slices.Clone(all), func(b *tasks.Build) bool { return b == gone })
	pick := func(keep func(*tasks.Build) bool) []*tasks.Build {
		var out []*tasks.Build
		for _, b := range live {
			if keep(b) {
				out = append(out, b)
			}
		}
		return out
	}
	tests := []struct {
		name string
		opts builds.ListOptions
		want []*tasks.Build
	}{
		{"newest first", builds.ListOptions{Limit: 3}, live[:3]},
		{"default limit", builds.ListOptions{}, live},
		{"skips a missing record", builds.ListOptions{Limit: 4}, live[:4]},
		{"cursor", builds.ListOptions{Limit: 2, Before: live[1].ID}, live[2:4]},
		{"cursor at the end", builds.ListOptions{Limit: 3, Before: all[6].ID}, nil},
		{"owner index", builds.ListOptions{Limit: 10, Owner: "alice"}, pick(func(b *tasks.Build) bool { return b.Owner == "alice" })},
		{"owner index with cursor", builds.ListOptions{Limit: 1, Before: all[0].ID, Owner: "alice"}, pick(func(b *tasks.Build) bool { return b.Owner == "alice" && b != all[0] })[:1]},
		{"state index", builds.ListOptions{Limit: 10, State: tasks.StateFailed}, pick(func(b *tasks.Build) bool { return b.State == tasks.StateFailed })},
		{"unknown owner", builds.ListOptions{Limit: 10, Owner: "nobody"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := st.ListJSON(ctx, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var wantRaw []string
			for _, b := range tc.want {
				raw, err := rdb.Get(ctx, "fbs:build:"+b.ID).Result()
				if err != nil {
					t.Fatal(err)
				}
				wantRaw = append(wantRaw, raw)
			}
			wantLast := ""
			if len(tc.want) > 0 {
				wantLast = tc.want[len(tc.want)-1].ID
			}
			want := builds.Page{Records: json.RawMessage("[" + strings.Join(wantRaw, ",") + "]"), Count: len(tc.want), Last: wantLast}
			if diff := cmp.Diff(want, *p); diff != "" {
				t.Errorf("ListJSON(%+v) (-want +got):\n%s", tc.opts, diff)
			}
			var got []*tasks.Build
			if err := json.Unmarshal(p.Records, &got); err != nil {
				t.Fatalf("records are not a JSON array of builds: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("decoded records (-want +got):\n%s", diff)
			}
			// List reads the same page through ListJSON and decodes it.
			listed, err := st.List(ctx, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, listed); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
		})
	}
	for _, opts := range []builds.ListOptions{
		{Owner: "alice", State: tasks.StateFailed},
		{Match: func(*tasks.Build) bool { return true }},
		{Before: "not-an-id"},
	} {
		if _, err := st.ListJSON(ctx, opts); err == nil {
			t.Errorf("ListJSON(%+v) accepted options it cannot serve", opts)
		}
	}
}

// TestStoreListJSONDuringUpdates lists the state indexes, records and
// summaries, while builds change state: every page must hold builds in the
// state it was listed by.
func TestStoreListJSONDuringUpdates(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := builds.NewStore(redistest.Start(t).Client())
	var ids []string
	for i := 0; i < 20; i++ {
		b := newBuild(time.Now(), tasks.StateQueued)
		if err := st.Create(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
	}
	done := make(chan error, 1)
	go func() {
		// Flip every build between queued and running until told to stop.
		states := []tasks.State{tasks.StateRunning, tasks.StateQueued}
		for round := 0; ctx.Err() == nil; round++ {
			for _, id := range ids {
				_, err := st.Update(ctx, id, func(b *tasks.Build) error { b.State = states[round%2]; return nil })
				if err != nil && ctx.Err() == nil {
					done <- err
					return
				}
			}
		}
		done <- nil
	}()
	seen := 0
	for i := 0; i < 300; i++ {
		state := []tasks.State{tasks.StateQueued, tasks.StateRunning}[i%2]
		list := st.ListJSON
		if i%4 >= 2 {
			list = st.ListSummaries
		}
		p, err := list(ctx, builds.ListOptions{State: state, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var got []*tasks.Summary
		if err := json.Unmarshal(p.Records, &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != p.Count {
			t.Fatalf("page says %d records, holds %d", p.Count, len(got))
		}
		for _, b := range got {
			if b.State != state {
				t.Fatalf("listing %s builds returned %s in state %s", state, b.ID, b.State)
			}
		}
		seen += len(got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if seen == 0 {
		t.Error("no build was ever listed: the test proved nothing")
	}
}

// TestStoreSummaries follows a build through its writes: after each, its
// stored summary is the summary of its record, and lists of summaries show
// it; a build stored before summaries existed gets one made from its
// record; a deleted build leaves none behind.
func TestStoreSummaries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	st := builds.NewStore(rdb)
	created := time.Now().UTC().Truncate(time.Millisecond)
	b := newBuild(created, tasks.StateQueued)
	b.Owner = "alice"
	if err := st.Create(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	stored := func(t *testing.T, id string) *tasks.Summary {
		t.Helper()
		data, err := rdb.Get(ctx, "fbs:summary:"+id).Bytes()
		if err != nil {
			t.Fatalf("summary of %s: %v", id, err)
		}
		var s tasks.Summary
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		return &s
	}
	listed := func(t *testing.T, opts builds.ListOptions) []tasks.Summary {
		t.Helper()
		p, err := st.ListSummaries(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		var out []tasks.Summary
		if err := json.Unmarshal(p.Records, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	writes := []struct {
		name  string
		write func(*tasks.Build) error
	}{
		{"created", nil},
		{"running", func(b *tasks.Build) error {
			b.State, b.Stage, b.Started = tasks.StateRunning, tasks.Stage("build"), created.Add(time.Second)
			return nil
		}},
		{"events only", func(b *tasks.Build) error { b.Events = append(b.Events, "re-queued"); return nil }},
		{"succeeded", func(b *tasks.Build) error {
			b.State, b.Stage, b.Finished = tasks.StateSucceeded, "", created.Add(time.Minute)
			b.Artifacts = []tasks.Artifact{{Name: "boot.iso", Size: 1, SHA256: "ab", URL: "https://h/boot.iso"}, {Name: "CHECKSUM"}}
			return nil
		}},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			if w.write != nil {
				if _, err := st.Update(ctx, b.ID, w.write); err != nil {
					t.Fatal(err)
				}
			}
			rec, err := st.Get(ctx, b.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := rec.Summary()
			if diff := cmp.Diff(&want, stored(t, b.ID)); diff != "" {
				t.Errorf("stored summary (-want +got):\n%s", diff)
			}
			for _, opts := range []builds.ListOptions{{}, {Owner: "alice"}, {State: rec.State}} {
				if diff := cmp.Diff([]tasks.Summary{want}, listed(t, opts)); diff != "" {
					t.Errorf("ListSummaries(%+v) (-want +got):\n%s", opts, diff)
				}
			}
		})
	}
	// A build from before summaries: its summary is made from the record.
	old := newBuild(created.Add(time.Second), tasks.StateFailed)
	old.Owner = "bob"
	if err := st.Create(ctx, old, nil); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Del(ctx, "fbs:summary:"+old.ID).Err(); err != nil {
		t.Fatal(err)
	}
	rec, err := st.Get(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]tasks.Summary{old.Summary(), rec.Summary()}, listed(t, builds.ListOptions{})); diff != "" {
		t.Errorf("ListSummaries with a summary missing (-want +got):\n%s", diff)
	}
	if err := st.Delete(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Exists(ctx, "fbs:summary:"+b.ID).Result(); err != nil || n != 0 {
		t.Errorf("summary of a deleted build: exists %d (%v)", n, err)
	}
}

// TestStoreSummaryNeverDisagrees updates one build from many goroutines
// while another reads its record and summary at one instant (MULTI): the
// two must agree at every read, and at the end.
func TestStoreSummaryNeverDisagrees(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	st := builds.NewStore(rdb)
	b := newBuild(time.Now(), tasks.StateQueued)
	if err := st.Create(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	stages := []tasks.Stage{"fetch", "build", "checksum", "stage"}
	states := []tasks.State{tasks.StateQueued, tasks.StateRunning}
	const writers, writes = 8, 25
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range writes {
				_, err := st.Update(ctx, b.ID, func(b *tasks.Build) error {
					b.Stage, b.State = stages[(w+i)%len(stages)], states[(w*i)%2]
					b.Artifacts = append(b.Artifacts[:0], tasks.Artifact{Name: fmt.Sprintf("w%d-%d", w, i)})
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	check := func() {
		var rec, sum *redis.StringCmd
		if _, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			rec, sum = p.Get(ctx, "fbs:build:"+b.ID), p.Get(ctx, "fbs:summary:"+b.ID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var full tasks.Build
		var got tasks.Summary
		if err := json.Unmarshal([]byte(rec.Val()), &full); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(sum.Val()), &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(full.Summary(), got); diff != "" {
			t.Fatalf("summary disagrees with its record (-record +summary):\n%s", diff)
		}
	}
	for done := 0; done < writers; {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
			done++
		default:
			check()
		}
	}
	check()
}
