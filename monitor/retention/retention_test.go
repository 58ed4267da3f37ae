package retention_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oklog/ulid/v2"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/monitor/retention"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/tasks/rediskey"
	"github.com/fedora-fbs/fbs/testing/ftptest"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/testing/sshtest"
	"github.com/fedora-fbs/fbs/testing/startstoptest"
	"github.com/fedora-fbs/fbs/worker/staging"
)

// area is a staging area under test: its URL, the options that reach it,
// and the local directory the URL's directory is.
type area struct {
	url  string
	opts staging.Options
	dir  string
}

// idAt is a build ID made at t, as NewBuildID would have made it then.
func idAt(t time.Time) string { return ulid.MustNew(ulid.Timestamp(t), rand.Reader).String() }

// world is one test's Redis, store and staging area, and a clock.
type world struct {
	t     *testing.T
	rdb   *redis.Client
	store *builds.Store
	area  area
	now   time.Time
}

// build records a build made age ago that ended (or not) in state, with
// a log stream and, when stage is set, files staged for it by fbs.
func (w *world) build(state tasks.State, age time.Duration, stage bool, edit func(*tasks.Build)) *tasks.Build {
	w.t.Helper()
	ctx := context.Background()
	created := w.now.Add(-age)
	b := &tasks.Build{ID: idAt(created), Owner: "alice", State: state, Created: created,
		Spec: tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "42", Staging: w.area.url}}
	if state.Final() {
		b.Finished = created.Add(time.Hour)
	}
	if edit != nil {
		edit(b)
	}
	if stage {
		f := filepath.Join(w.t.TempDir(), "boot.iso")
		if err := os.WriteFile(f, []byte("image of "+b.ID), 0o644); err != nil {
			w.t.Fatal(err)
		}
		opts := w.area.opts
		st, err := staging.Open(ctx, w.area.url, opts)
		if err != nil {
			w.t.Fatal(err)
		}
		arts, err := st.Put(ctx, b.ID, []string{f})
		st.Close()
		if err != nil {
			w.t.Fatal(err)
		}
		b.Artifacts, b.Staged = arts, w.area.url+"/"+b.ID
	}
	if err := w.store.Create(ctx, b, []byte(`{}`)); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.store.AppendLogText(ctx, b.ID, 1, []byte("a line\n"), 0); err != nil {
		w.t.Fatal(err)
	}
	if err := w.rdb.Set(ctx, rediskey.NotifySent(tasks.NotifyTaskID(b.ID, tasks.MailFinished)), "x", time.Hour).Err(); err != nil {
		w.t.Fatal(err)
	}
	return b
}

// exists reports whether the record, the log stream and the staged
// directory of b are there.
func (w *world) exists(b *tasks.Build) (record, log, staged bool) {
	w.t.Helper()
	ctx := context.Background()
	n, err := w.rdb.Exists(ctx, rediskey.Build(b.ID), rediskey.Summary(b.ID)).Result()
	if err != nil {
		w.t.Fatal(err)
	}
	l, err := w.rdb.Exists(ctx, rediskey.Log(b.ID)).Result()
	if err != nil {
		w.t.Fatal(err)
	}
	_, serr := os.Stat(filepath.Join(w.area.dir, b.ID))
	return n == 2, l == 1, serr == nil
}

const day = 24 * time.Hour

func TestCollect(t *testing.T) {
	t.Parallel()
	areas := []struct {
		name string
		make func(t *testing.T) area
	}{
		{"file", func(t *testing.T) area {
			dir := filepath.Join(t.TempDir(), "staging")
			return area{url: "file://" + dir, opts: staging.Options{FileRoot: filepath.Dir(dir)}, dir: dir}
		}},
		{"sftp", func(t *testing.T) area {
			srv := sshtest.Start(t, sshtest.Options{})
			dir := filepath.Join(t.TempDir(), "staging")
			return area{url: srv.URL(dir), opts: staging.Options{Egress: egress.Open(), SSHKey: srv.KeyFile, KnownHosts: srv.KnownHosts}, dir: dir}
		}},
		{"ftp", func(t *testing.T) area {
			srv := ftptest.Start(t, ftptest.Options{})
			return area{url: "ftp://" + srv.Addr() + "/pub/staging", opts: staging.Options{Egress: egress.Open()}, dir: filepath.Join(srv.Pub, "staging")}
		}},
	}
	for _, a := range areas {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			testCollect(t, a.make(t))
		})
	}
}

func testCollect(t *testing.T, a area) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	w := &world{t: t, rdb: rdb, store: builds.NewStore(rdb), area: a, now: time.Now()}

	oldOK := w.build(tasks.StateSucceeded, 40*day, true, nil)
	newOK := w.build(tasks.StateSucceeded, 2*day, true, nil)
	oldFailed := w.build(tasks.StateFailed, 40*day, false, nil)
	oldCancelled := w.build(tasks.StateCancelled, 9*day, false, nil)
	// Old, but never ended: stays whatever its age.
	oldQueued := w.build(tasks.StateQueued, 90*day, false, nil)
	oldRunning := w.build(tasks.StateRunning, 90*day, false, nil)
	// An ended build of a group one of whose builds still runs stays.
	inGroup := w.build(tasks.StateSucceeded, 40*day, true, func(b *tasks.Build) { b.Group = "G1" })
	w.build(tasks.StateRunning, 40*day, false, func(b *tasks.Build) { b.Group = "G1" })
	// A group that has ended goes.
	endedGroup := w.build(tasks.StateSucceeded, 40*day, false, func(b *tasks.Build) { b.Group = "G2" })
	// Schedule S keeps its newest 2 ended builds, whatever their age.
	var sched []*tasks.Build
	for i := range 4 {
		sched = append(sched, w.build(tasks.StateSucceeded, time.Duration(4-i)*time.Hour, false, func(b *tasks.Build) { b.Schedule = "S" }))
	}
	// A directory with a build's name that fbs did not stage is left
	// alone, but the record goes.
	foreign := w.build(tasks.StateSucceeded, 40*day, false, nil)
	foreign.Staged = a.url + "/" + foreign.ID
	if _, err := w.store.Update(ctx, foreign.ID, func(b *tasks.Build) error { b.Staged = foreign.Staged; return nil }); err != nil {
		t.Fatal(err)
	}
	foreignFile := filepath.Join(a.dir, foreign.ID, "mine.iso")
	if err := os.MkdirAll(filepath.Dir(foreignFile), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(foreignFile, []byte("not fbs's"), 0o666); err != nil {
		t.Fatal(err)
	}

	outbox := t.TempDir()
	oldMail, newMail := filepath.Join(outbox, "old.eml"), filepath.Join(outbox, "new.eml")
	for _, m := range []string{oldMail, newMail} {
		if err := os.WriteFile(m, []byte("To: a@example.org\r\nSubject: x\r\n\r\nbody\r\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(oldMail, w.now.Add(-40*day), w.now.Add(-40*day)); err != nil {
		t.Fatal(err)
	}

	cfg := retention.Config{
		Builds: builds.Retention{MaxAge: map[tasks.State]time.Duration{
			tasks.StateSucceeded: 30 * day, tasks.StateFailed: 30 * day, tasks.StateCancelled: 7 * day,
		}, PerSchedule: 2},
		OutboxDir: outbox, OutboxMaxAge: 30 * day, Staging: a.opts,
		Now: func() time.Time { return w.now },
	}
	col, err := retention.New(rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}

	plan, err := col.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var planned []string
	for _, e := range plan.Builds {
		planned = append(planned, e.Build.ID)
	}
	want := []string{oldOK.ID, oldFailed.ID, oldCancelled.ID, endedGroup.ID, sched[0].ID, sched[1].ID, foreign.ID}
	slices.Sort(want)
	if d := cmp.Diff(want, planned); d != "" {
		t.Errorf("planned builds (-want +got):\n%s", d)
	}
	if len(plan.Mails) != 1 || plan.Mails[0].Name != "old.eml" {
		t.Errorf("planned mails %+v; want old.eml", plan.Mails)
	}
	// Planning removed nothing.
	if rec, log, staged := w.exists(oldOK); !rec || !log || !staged {
		t.Fatalf("Plan removed something of %s: record %v log %v staged %v", oldOK.ID, rec, log, staged)
	}

	// Another collector holds the lease: this one does nothing.
	held, err := w.store.HoldNamedLease(ctx, "retention", "someone else", time.Minute)
	if err != nil || !held {
		t.Fatalf("take the lease: %v %v", held, err)
	}
	if _, err := col.Collect(ctx); !errors.Is(err, retention.ErrBusy) {
		t.Fatalf("Collect while another holds the lease: %v, want ErrBusy", err)
	}
	if err := w.store.DropNamedLease(ctx, "retention", "someone else"); err != nil {
		t.Fatal(err)
	}

	res, err := col.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantRemoved := map[string]int{
		retention.KindBuild: 7, retention.KindLog: 7, retention.KindMark: 7,
		retention.KindStaged: 1, retention.KindMail: 1,
	}
	if d := cmp.Diff(wantRemoved, res.Removed); d != "" {
		t.Errorf("removed (-want +got):\n%s\nkept: %v", d, res.Kept)
	}
	for _, b := range []*tasks.Build{oldOK, oldFailed, oldCancelled, endedGroup, sched[0], sched[1], foreign} {
		if rec, log, _ := w.exists(b); rec || log {
			t.Errorf("build %s (%s): record %v, log %v after retention; want both gone", b.ID, b.State, rec, log)
		}
		if n, _ := rdb.Exists(ctx, rediskey.NotifySent(tasks.NotifyTaskID(b.ID, tasks.MailFinished))).Result(); n != 0 {
			t.Errorf("build %s: sent mark kept", b.ID)
		}
	}
	if _, _, staged := w.exists(oldOK); staged {
		t.Errorf("staged directory of %s still there", oldOK.ID)
	}
	for _, b := range []*tasks.Build{newOK, oldQueued, oldRunning, inGroup, sched[2], sched[3]} {
		if rec, log, _ := w.exists(b); !rec || !log {
			t.Errorf("build %s (%s): record %v, log %v; want kept", b.ID, b.State, rec, log)
		}
	}
	for _, b := range []*tasks.Build{newOK, inGroup} {
		if _, _, staged := w.exists(b); !staged {
			t.Errorf("staged directory of kept build %s removed", b.ID)
		}
	}
	if _, err := os.Stat(foreignFile); err != nil {
		t.Errorf("directory fbs did not stage was touched: %v", err)
	}
	if _, err := os.Stat(oldMail); !os.IsNotExist(err) {
		t.Errorf("old outbox mail still there: %v", err)
	}
	if _, err := os.Stat(newMail); err != nil {
		t.Errorf("new outbox mail removed: %v", err)
	}
	// The indexes and counts lost the builds too.
	counts, err := w.store.CountByState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := map[tasks.State]int64{tasks.StateSucceeded: 4, tasks.StateFailed: 0, tasks.StateCancelled: 0, tasks.StateQueued: 1, tasks.StateRunning: 2}
	if d := cmp.Diff(wantCounts, counts); d != "" {
		t.Errorf("counts by state (-want +got):\n%s", d)
	}
	page, err := w.store.ListSummaries(ctx, builds.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if page.Count != 7 {
		t.Errorf("list after retention holds %d builds, want 7", page.Count)
	}
	counters, err := w.store.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counters[retention.CounterPrefix+retention.KindBuild] != 7 {
		t.Errorf("counters %v; want %s7", counters, retention.CounterPrefix+retention.KindBuild+"=")
	}

	// A second run finds nothing more.
	res, err = col.Collect(ctx)
	if err != nil || len(res.Removed) != 0 {
		t.Errorf("second run: %v, %v; want nothing removed", res, err)
	}
}

func TestPurgeRefusesUnended(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	store := builds.NewStore(rdb)
	b := &tasks.Build{ID: tasks.NewBuildID(), Owner: "alice", State: tasks.StateRunning}
	if err := store.Create(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Purge(ctx, b.ID); !errors.Is(err, builds.ErrNotFinal) {
		t.Errorf("Purge(running) = %v, want ErrNotFinal", err)
	}
	if _, err := store.Get(ctx, b.ID); err != nil {
		t.Errorf("running build gone after a refused purge: %v", err)
	}
	if _, err := store.Purge(ctx, tasks.NewBuildID()); !errors.Is(err, builds.ErrNotFound) {
		t.Errorf("Purge(unknown) = %v, want ErrNotFound", err)
	}
}

func TestLifeCycle(t *testing.T) {
	t.Parallel()
	startstoptest.Run(t, func(t *testing.T) startstoptest.Service {
		col, err := retention.New(redistest.Start(t).Client(), retention.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return col
	})
}

// TestCollectGroups checks that a multi-arch group's record, and the
// sent marks of its mails, go with its last build, and only then: a group
// of two ended builds leaves nothing behind; a group one of whose builds
// still runs, or whose newer build is not old enough, stays; a group left
// behind by an older fbs (its builds removed, its record kept) goes; a
// group younger than an hour with no builds yet (a submission under way)
// stays.
func TestCollectGroups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "staging")
	rdb := redistest.Start(t).Client()
	w := &world{t: t, rdb: rdb, store: builds.NewStore(rdb), now: time.Now(),
		area: area{url: "file://" + dir, opts: staging.Options{FileRoot: filepath.Dir(dir)}, dir: dir}}
	group := func(age time.Duration, members ...func(*tasks.Build)) (*tasks.Group, []*tasks.Build) {
		t.Helper()
		created := w.now.Add(-age)
		g := &tasks.Group{ID: idAt(created), Owner: "alice", Created: created}
		var bs []*tasks.Build
		for i, m := range members {
			arch := tasks.Arches[i]
			b := w.build(tasks.StateSucceeded, age, i == 0, func(b *tasks.Build) {
				b.Group, b.Spec.Arch = g.ID, arch
				if m != nil {
					m(b)
				}
			})
			g.Builds = append(g.Builds, b.ID)
			bs = append(bs, b)
		}
		if err := w.store.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		for _, k := range []tasks.MailKind{tasks.MailGroupSubmitted, tasks.MailGroupFinished} {
			if err := rdb.Set(ctx, rediskey.NotifySent(tasks.NotifyTaskID(g.ID, k)), "x", time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
		}
		return g, bs
	}
	running := func(b *tasks.Build) { b.State, b.Finished = tasks.StateRunning, time.Time{} }
	recent := func(b *tasks.Build) { b.Finished = w.now.Add(-time.Hour) }

	ended, endedBuilds := group(40*day, nil, nil)
	busy, busyBuilds := group(40*day, nil, running)
	half, halfBuilds := group(40*day, nil, recent)
	// Left behind by an older fbs: a group record with its mails' marks
	// and no builds.
	orphan, _ := group(40 * day)
	orphan.Builds = []string{idAt(w.now.Add(-40 * day)), idAt(w.now.Add(-40 * day))}
	if err := rdb.Del(ctx, rediskey.Group(orphan.ID)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := w.store.CreateGroup(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	// Being submitted: its record is written before its builds'.
	young := &tasks.Group{ID: tasks.NewBuildID(), Owner: "alice", Created: w.now, Builds: []string{tasks.NewBuildID(), tasks.NewBuildID()}}
	if err := w.store.CreateGroup(ctx, young); err != nil {
		t.Fatal(err)
	}

	col, err := retention.New(rdb, retention.Config{
		Builds:  builds.Retention{MaxAge: map[tasks.State]time.Duration{tasks.StateSucceeded: 30 * day}},
		Staging: w.area.opts, Now: func() time.Time { return w.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := col.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var planned []string
	for _, g := range plan.Groups {
		planned = append(planned, g.Group.ID+": "+g.Reason)
	}
	want := []string{ended.ID + ": its last builds go with this run", orphan.ID + ": none of its 2 builds remains"}
	slices.Sort(want)
	if d := cmp.Diff(want, planned); d != "" {
		t.Errorf("planned groups (-want +got):\n%s", d)
	}

	res, err := col.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Builds: both of ended, the old one of half. Marks: each build's
	// finished mark, and two of each group that goes.
	wantRemoved := map[string]int{retention.KindBuild: 3, retention.KindLog: 3, retention.KindStaged: 2,
		retention.KindMark: 3 + 2*2, retention.KindGroup: 2}
	if d := cmp.Diff(wantRemoved, res.Removed); d != "" {
		t.Errorf("removed (-want +got):\n%s\nkept: %v", d, res.Kept)
	}
	// Nothing of the ended group is left: no key names it or its builds.
	for _, id := range append([]string{ended.ID, orphan.ID}, ended.Builds...) {
		keys, err := rdb.Keys(ctx, "*"+id+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > 0 {
			t.Errorf("keys of %s left after retention: %v", id, keys)
		}
	}
	for _, b := range endedBuilds {
		if _, _, staged := w.exists(b); staged {
			t.Errorf("staged directory of %s left", b.ID)
		}
	}
	// The others stay, with their builds.
	for _, g := range []*tasks.Group{busy, half, young} {
		if _, err := w.store.Group(ctx, g.ID); err != nil {
			t.Errorf("group %s: %v; want kept", g.ID, err)
		}
	}
	for _, b := range append(busyBuilds, halfBuilds[1]) {
		if rec, _, _ := w.exists(b); !rec {
			t.Errorf("build %s of a kept group removed", b.ID)
		}
	}
	if n, _ := rdb.Exists(ctx, rediskey.NotifySent(tasks.NotifyTaskID(busy.ID, tasks.MailGroupSubmitted))).Result(); n != 1 {
		t.Errorf("sent mark of kept group %s removed", busy.ID)
	}
	counters, err := w.store.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counters[retention.CounterPrefix+retention.KindGroup] != 2 {
		t.Errorf("counters %v; want %s2", counters, retention.CounterPrefix+retention.KindGroup+"=")
	}

	// Once half's newer build has gone too (by hand here), half goes.
	if _, err := w.store.Purge(ctx, halfBuilds[1].ID); err != nil {
		t.Fatal(err)
	}
	res, err = col.Collect(ctx)
	if err != nil || res.Removed[retention.KindGroup] != 1 {
		t.Fatalf("run after the last build of %s went: %+v, %v; want its group removed", half.ID, res, err)
	}
	if _, err := w.store.Group(ctx, half.ID); !errors.Is(err, builds.ErrGroupNotFound) {
		t.Errorf("group %s after its last build went: %v", half.ID, err)
	}
}

// TestPurgeGroupKeepsMembers checks that PurgeGroup leaves a group alone
// while one of its builds remains.
func TestPurgeGroupKeepsMembers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	store := builds.NewStore(rdb)
	b := &tasks.Build{ID: tasks.NewBuildID(), Owner: "alice", State: tasks.StateSucceeded}
	if err := store.Create(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	g := &tasks.Group{ID: tasks.NewBuildID(), Owner: "alice", Builds: []string{tasks.NewBuildID(), b.ID}}
	if err := store.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if removed, err := store.PurgeGroup(ctx, g.ID); err != nil || removed {
		t.Fatalf("PurgeGroup with a build left = %v, %v; want kept", removed, err)
	}
	if _, err := store.Purge(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if removed, err := store.PurgeGroup(ctx, g.ID); err != nil || !removed {
		t.Fatalf("PurgeGroup with no build left = %v, %v; want removed", removed, err)
	}
	if removed, err := store.PurgeGroup(ctx, g.ID); err != nil || removed {
		t.Errorf("PurgeGroup of a group gone = %v, %v; want false, nil", removed, err)
	}
}

// TestPerScheduleKeepsGroupsWhole checks that [retention] per_schedule,
// which counts builds, never splits a multi-arch group a schedule made: a
// group with a build among the newest N keeps all its builds.
func TestPerScheduleKeepsGroupsWhole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		keep     int
		wantGone int // groups gone, oldest first
	}{
		{keep: 4, wantGone: 0},
		{keep: 3, wantGone: 0}, // the older group has one build among the newest 3
		{keep: 2, wantGone: 1},
		{keep: 1, wantGone: 1},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.keep), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rdb := redistest.Start(t).Client()
			w := &world{t: t, rdb: rdb, store: builds.NewStore(rdb), now: time.Now()}
			var groups []*tasks.Group
			var members [][]*tasks.Build
			for i := range 2 {
				created := w.now.Add(-time.Duration(4-i) * time.Hour)
				g := &tasks.Group{ID: idAt(created), Owner: "alice", Created: created}
				var bs []*tasks.Build
				for _, arch := range []string{"x86_64", "aarch64"} {
					b := w.build(tasks.StateSucceeded, w.now.Sub(created), false, func(b *tasks.Build) {
						b.Group, b.Schedule, b.Spec.Arch = g.ID, "S", arch
					})
					g.Builds = append(g.Builds, b.ID)
					bs = append(bs, b)
				}
				if err := w.store.CreateGroup(ctx, g); err != nil {
					t.Fatal(err)
				}
				groups, members = append(groups, g), append(members, bs)
			}
			col, err := retention.New(rdb, retention.Config{Builds: builds.Retention{PerSchedule: tt.keep}, Now: func() time.Time { return w.now }})
			if err != nil {
				t.Fatal(err)
			}
			res, err := col.Collect(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res.Removed[retention.KindBuild] != 2*tt.wantGone || res.Removed[retention.KindGroup] != tt.wantGone {
				t.Errorf("removed %v; want %d builds and %d groups", res.Removed, 2*tt.wantGone, tt.wantGone)
			}
			for i, g := range groups {
				_, gerr := w.store.Group(ctx, g.ID)
				gone := i < tt.wantGone
				if gone != (gerr != nil) {
					t.Errorf("group %d: %v; want gone %v", i, gerr, gone)
				}
				for _, b := range members[i] {
					if rec, _, _ := w.exists(b); rec == gone {
						t.Errorf("build %s of group %d: record %v; want gone %v", b.Spec.Arch, i, rec, gone)
					}
				}
			}
		})
	}
}
