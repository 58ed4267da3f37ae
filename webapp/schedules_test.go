package webapp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/monitor/scheduler"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/submission"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/webapp/apiclient"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// TestAPISchedules creates, lists, reads, pauses, resumes and deletes a
// schedule through the API with the rights of submissions: the owner and
// admins act on it, anyone else finds it missing; bad input names its field.
func TestAPISchedules(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) { c.OIDC = testOIDC(t) })
	alice := f.token(t, auth.User{Name: "alice", CanSubmit: true})
	bob := f.token(t, auth.User{Name: "bob", CanSubmit: true})
	root := f.token(t, auth.User{Name: "root", Admin: true, CanSubmit: true})
	viewer := f.token(t, auth.User{Name: "carol"})
	ks := map[string]string{"main.ks": "text\nlang en_US.UTF-8\n%packages\n@core\n%end\n"}
	req := apiclient.ScheduleRequest{Cron: "0 3 * * *", RebuildAge: "20h", Spec: f.ksisoSpec("main.ks"), Kickstarts: ks}

	// Bad input: every problem at once, each naming its field.
	bad := req
	bad.Cron, bad.RebuildAge = "0 25 * * *", "soon"
	bad.Spec.Release = "40"
	r := f.postJSON(t, "/api/v1/schedules", bad, bearer(alice))
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad schedule: status %d: %s", r.status, r.body)
	}
	var body struct {
		Details []tasks.Error `json:"details"`
	}
	decode(t, r.body, &body)
	var fields []string
	for _, d := range body.Details {
		fields = append(fields, d.Field)
	}
	if diff := cmp.Diff([]string{"rebuild_age", "cron", "spec.release"}, fields); diff != "" {
		t.Errorf("error fields (-want +got):\n%s\n%s", diff, r.body)
	}
	if r := f.postJSON(t, "/api/v1/schedules", req, bearer(viewer)); r.status != http.StatusForbidden {
		t.Errorf("schedule by a user who may not submit: status %d", r.status)
	}

	r = f.postJSON(t, "/api/v1/schedules", req, bearer(alice))
	if r.status != http.StatusCreated {
		t.Fatalf("create: status %d: %s", r.status, r.body)
	}
	var sc apiclient.Schedule
	decode(t, r.body, &sc)
	if !tasks.ValidScheduleID(sc.ID) || sc.Owner != "alice" || sc.RebuildAge != "20h0m0s" || sc.Paused || r.header.Get("Location") != "/api/v1/schedules/"+sc.ID {
		t.Errorf("created %+v, Location %q", sc, r.header.Get("Location"))
	}
	if diff := cmp.Diff([]string{"main.ks"}, sc.Kickstarts); diff != "" {
		t.Errorf("kickstarts (-want +got):\n%s", diff)
	}

	list := func(tok string) []string {
		t.Helper()
		r := f.get(t, "/api/v1/schedules", bearer(tok))
		var l apiclient.ScheduleList
		decode(t, r.body, &l)
		var ids []string
		for _, s := range l.Schedules {
			ids = append(ids, s.ID)
		}
		return ids
	}
	if diff := cmp.Diff([]string{sc.ID}, list(alice)); diff != "" {
		t.Errorf("alice's list (-want +got):\n%s", diff)
	}
	if got := list(bob); len(got) != 0 {
		t.Errorf("bob sees %v", got)
	}
	if diff := cmp.Diff([]string{sc.ID}, list(root)); diff != "" {
		t.Errorf("admin's list (-want +got):\n%s", diff)
	}

	path := "/api/v1/schedules/" + sc.ID
	calls := []struct {
		name, method, path, tok string
		status                  int
		paused                  bool
	}{
		{"owner reads", http.MethodGet, path, alice, http.StatusOK, false},
		{"someone else reads", http.MethodGet, path, bob, http.StatusNotFound, false},
		{"someone else pauses", http.MethodPost, path + "/pause", bob, http.StatusNotFound, false},
		{"owner pauses", http.MethodPost, path + "/pause", alice, http.StatusOK, true},
		{"admin resumes", http.MethodPost, path + "/resume", root, http.StatusOK, false},
		{"someone else deletes", http.MethodDelete, path, bob, http.StatusNotFound, false},
		{"bad ID", http.MethodGet, "/api/v1/schedules/fbs:builds", alice, http.StatusNotFound, false},
		{"no token", http.MethodGet, path, "", http.StatusUnauthorized, false},
	}
	for _, c := range calls {
		hdr := bearer(c.tok)
		if c.tok == "" {
			hdr = nil
		}
		r := f.do(t, nil, c.method, c.path, "", nil, hdr)
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, r.status, c.status, r.body)
			continue
		}
		if c.status == http.StatusOK {
			var got apiclient.Schedule
			decode(t, r.body, &got)
			if got.Paused != c.paused {
				t.Errorf("%s: paused %v, want %v", c.name, got.Paused, c.paused)
			}
		}
	}
	if r := f.do(t, nil, http.MethodDelete, path, "", nil, bearer(alice)); r.status != http.StatusNoContent {
		t.Errorf("owner deletes: status %d: %s", r.status, r.body)
	}
	if r := f.get(t, path, bearer(alice)); r.status != http.StatusNotFound || !strings.Contains(string(r.body), "schedule not found") {
		t.Errorf("read after delete: status %d: %s", r.status, r.body)
	}
}

func decode(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

// TestScheduleGroup adds a schedule whose spec names two arches (refused
// only if an arch is not offered, naming spec.arch), runs it once with the
// monitor's runner, and checks the run is a group: in the API (runs[].group,
// last_group) and on the schedule's page, as a link to the group's page.
func TestScheduleGroup(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) { c.Arches = []string{"x86_64", "aarch64"} })
	ks := map[string]string{"main.ks": "text\nlang en_US.UTF-8\n%packages\n@core\n%end\n"}
	req := apiclient.ScheduleRequest{Cron: "@daily", Spec: f.ksisoSpec("main.ks"), Kickstarts: ks}
	req.Spec.Arch = "x86_64,ppc64le"
	r := f.postJSON(t, "/api/v1/schedules", req, nil)
	if e := r.apiError(t); r.status != http.StatusUnprocessableEntity || e.Field != "spec.arch" {
		t.Errorf("schedule of an arch not offered: %d %s", r.status, r.body)
	}
	req.Spec.Arch = "x86_64,aarch64"
	r = f.postJSON(t, "/api/v1/schedules", req, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("create: status %d: %s", r.status, r.body)
	}
	var sc apiclient.Schedule
	decode(t, r.body, &sc)
	if sc.Spec.Arch != "x86_64,aarch64" {
		t.Errorf("schedule's arch %q, want both", sc.Spec.Arch)
	}

	run, err := scheduler.New(f.rdb, f.c, scheduler.Config{Logger: f.cfg.Logger,
		Submission: submission.Config{Releases: f.cfg.Releases, Arches: f.cfg.Arches, Staging: &tasks.StagingPolicy{Remote: true, FileRoot: f.fileRoot}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := run.Fire(context.Background(), sc.ID)
	if err != nil || got == nil || got.Group == "" {
		t.Fatalf("run = %+v, %v; want a group built", got, err)
	}
	if n, records := f.queued(t); n != 2 || records != 2 {
		t.Errorf("%d tasks and %d records queued, want 2 and 2", n, records)
	}

	r = f.get(t, "/api/v1/schedules/"+sc.ID, nil)
	decode(t, r.body, &sc)
	if len(sc.Runs) != 1 || sc.Runs[0].Group != got.Group || sc.Runs[0].Build != "" || sc.Runs[0].Outcome != "built" || sc.LastGroup != got.Group {
		t.Errorf("schedule in the API: %s; want one run that built group %s", r.body, got.Group)
	}
	if r := f.get(t, "/api/v1/groups/"+got.Group, nil); r.status != http.StatusOK {
		t.Errorf("the run's group in the API: %d %s", r.status, r.body)
	}
	r = f.get(t, "/schedules/"+sc.ID, nil)
	if link := `built group <a href="/groups/` + got.Group + `">`; r.status != http.StatusOK || !strings.Contains(string(r.body), link) {
		t.Errorf("schedule page: %d, want a link %s in:\n%s", r.status, link, r.body)
	}
}
