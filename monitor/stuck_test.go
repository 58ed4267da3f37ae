package monitor_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

// TestStatusShowsStuckBuilds checks that /status and its JSON list the
// queued builds no live worker can run, each with the reason, and only
// those.
func TestStatusShowsStuckBuilds(t *testing.T) {
	t.Parallel()
	f := setup(t, monitor.Config{})
	ctx := context.Background()
	lacks := "livemedia-creator not found at /nonexistent/livemedia-creator: install it"
	w := &builds.WorkerInfo{ID: "w1/7", Host: "w1", PID: 7, Arch: "x86_64", Releases: []string{"41"}, Queues: []string{tasks.QueueName("x86_64", "41")},
		Concurrency: 1, Heartbeat: time.Now().UTC(), Capabilities: []tasks.Capability{
			{Kind: tasks.KindKSISO, Tools: []tasks.ToolVersion{{Name: "xorriso", Path: "/usr/bin/xorriso", Version: "xorriso 1.5.6"}}},
			{Kind: tasks.KindLiveMedia, Missing: lacks},
		}}
	if err := f.store.Heartbeat(ctx, w, time.Minute); err != nil {
		t.Fatal(err)
	}
	// The aarch64 worker paused itself: its data dir is low on space.
	const low = "data dir low on space (1.0 GiB free, min_free 2.0 GiB)"
	w2 := &builds.WorkerInfo{ID: "w2/8", Host: "w2", PID: 8, Arch: "aarch64", Releases: []string{"41"}, Queues: []string{tasks.QueueName("aarch64", "41")},
		Concurrency: 1, Heartbeat: time.Now().UTC(), LowSpace: low}
	if err := f.store.Heartbeat(ctx, w2, time.Minute); err != nil {
		t.Fatal(err)
	}
	queued := func(sp tasks.Spec) *tasks.Build {
		b := &tasks.Build{ID: tasks.NewBuildID(), Spec: sp, State: tasks.StateQueued, Queue: sp.Queue(), Created: time.Now().UTC()}
		b.TaskID = b.ID
		if err := f.store.Create(ctx, b, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		return b
	}
	live := queued(tasks.Spec{Type: tasks.TypeLive, Arch: "x86_64", Release: "41", Live: &tasks.LiveSpec{Builder: tasks.BuilderLiveMedia}})
	otherArch := queued(tasks.Spec{Type: tasks.TypeKSISO, Arch: "aarch64", Release: "41", KSISO: &tasks.KSISOSpec{}})
	served := queued(tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "41", KSISO: &tasks.KSISOSpec{}})

	_, body := f.get(t, "/api/v1/status")
	var st monitor.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range st.Stuck {
		got[s.ID] = s.Reason
	}
	if len(got) != 2 || !strings.Contains(got[live.ID], "w1: "+lacks) || !strings.Contains(got[otherArch.ID], "no live worker serves aarch64 for Fedora 41 (queue build:aarch64:41; w2 paused: "+low+")") {
		t.Errorf("stuck builds %+v; want the live build (tool missing) and the aarch64 one (no worker), not %s", st.Stuck, served.ID)
	}

	_, page := f.get(t, "/status")
	page = html.UnescapeString(page)
	for _, want := range []string{`id="stuck"`, live.ID, "w1: " + lacks, otherArch.ID, "no " + string(tasks.KindLiveMedia), "xorriso 1.5.6", "w2 <span class=\"paused lowspace\">(paused: " + low + ")</span>"} {
		if !strings.Contains(page, want) {
			t.Errorf("/status lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, `<a href="builds/`+served.ID+`">`+served.ID+`</a></td><td>ksiso`) {
		t.Errorf("/status lists the build a live worker can run as stuck")
	}
}

// TestStuckBuildsFollowVisibility checks that with private visibility the
// stuck builds on /status are, like the recent ones, the viewer's own (all
// of them for admins) and nobody's for anonymous visitors.
func TestStuckBuildsFollowVisibility(t *testing.T) {
	t.Parallel()
	s := newSite(t, tasks.VisibilityPrivate)
	ctx := context.Background()
	b := &tasks.Build{ID: tasks.NewBuildID(), Owner: "alice", State: tasks.StateQueued, Queue: tasks.QueueName("x86_64", "41"),
		Spec: tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "41", KSISO: &tasks.KSISOSpec{}}, Created: time.Now().UTC()}
	b.TaskID = b.ID
	if err := s.store.Create(ctx, b, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	clients := map[string]*http.Client{"anonymous": nil, "bob": s.signIn(t, bob), "alice": s.signIn(t, alice), "admin": s.signIn(t, root)}
	for who, hc := range clients {
		got := fetch(t, hc, "GET", s.mon.URL+"/api/v1/status")
		var st monitor.Status
		if err := json.Unmarshal([]byte(got.body), &st); err != nil {
			t.Fatalf("status for %s: %d %v", who, got.status, err)
		}
		sees := who == "alice" || who == "admin"
		if shown := len(st.Stuck) == 1 && st.Stuck[0].ID == b.ID && strings.Contains(st.Stuck[0].Reason, "no live worker serves x86_64"); shown != sees {
			t.Errorf("stuck builds for %s: %+v; want alice's shown: %v", who, st.Stuck, sees)
		}
		if page := fetch(t, hc, "GET", s.mon.URL+"/status"); strings.Contains(page.body, b.ID) != sees {
			t.Errorf("status page for %s shows alice's queued build: %v, want %v", who, !sees, sees)
		}
	}
}
