package webapp_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/webapp/apiclient"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// TestGroupAPI submits a spec naming two arches through the API and
// checks the group answer, GET and cancel of the group, and that other
// users see and act on it exactly as on builds: 404 under private
// visibility.
func TestGroupAPI(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) { c.OIDC = testOIDC(t); c.Arches = []string{"x86_64", "aarch64"} })
	at := f.token(t, auth.User{Name: "alice", CanSubmit: true})
	bt := f.token(t, auth.User{Name: "bob", CanSubmit: true})
	admin := f.token(t, auth.User{Name: "root", Admin: true})
	sp := f.ksisoSpec("k.ks")
	sp.Arch = "x86_64,aarch64"
	r := f.postJSON(t, "/api/v1/builds", apiclient.SubmitRequest{Spec: sp, Kickstarts: map[string]string{"k.ks": "text\n"}}, bearer(at))
	var sub apiclient.SubmitResponse
	if err := json.Unmarshal(r.body, &sub); err != nil || r.status != 201 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	g := sub.Group
	if g == nil || len(g.Builds) != 2 || g.State != tasks.StateQueued || sub.Build.ID != g.Builds[0].ID {
		t.Fatalf("submit answer %s", r.body)
	}
	if loc := r.header.Get("Location"); loc != "/api/v1/groups/"+g.ID || sub.GroupURL != f.ts.URL+"/groups/"+g.ID {
		t.Errorf("Location %q, group_url %q", loc, sub.GroupURL)
	}
	for i, arch := range []string{"x86_64", "aarch64"} {
		if b := g.Builds[i]; b.Spec.Arch != arch || b.Queue != "build:"+arch+":41" || b.Group != g.ID {
			t.Errorf("build %d: arch %s queue %s group %s", i, b.Spec.Arch, b.Queue, b.Group)
		}
	}
	if n, records := f.queued(t); n != 2 || records != 2 {
		t.Errorf("%d tasks and %d records queued, want 2 and 2", n, records)
	}

	// One arch not offered: nothing is queued, the error names the field.
	sp.Arch = "x86_64,ppc64le"
	r = f.postJSON(t, "/api/v1/builds", apiclient.SubmitRequest{Spec: sp, Kickstarts: map[string]string{"k.ks": "text\n"}}, bearer(at))
	if e := r.apiError(t); r.status != 422 || e.Field != "spec.arch" {
		t.Errorf("arch not offered: %d %s", r.status, r.body)
	}
	if n, records := f.queued(t); n != 2 || records != 2 {
		t.Errorf("after a refused group: %d tasks and %d records", n, records)
	}

	path := "/api/v1/groups/" + g.ID
	for _, tc := range []struct {
		name, tok string
		status    int
	}{
		{"owner", at, 200}, {"admin", admin, 200}, {"another user", bt, 404}, {"no token", "", 401},
	} {
		hdr := map[string]string{}
		if tc.tok != "" {
			hdr = bearer(tc.tok)
		}
		if r := f.get(t, path, hdr); r.status != tc.status {
			t.Errorf("GET as %s: %d %s, want %d", tc.name, r.status, r.body, tc.status)
		}
	}
	for _, pc := range []postCall{
		{"unknown group", at, "/api/v1/groups/" + tasks.NewBuildID(), 404, webapp.CodeNotFound},
		{"malformed ID", at, "/api/v1/groups/nope/cancel", 404, webapp.CodeNotFound},
		{"another user's group", bt, path + "/cancel", 404, webapp.CodeNotFound},
		{"own group", at, path + "/cancel", 200, ""},
		{"already cancelled", at, path + "/cancel", 409, webapp.CodeFinished},
	} {
		if pc.name == "unknown group" {
			if r := f.get(t, pc.path, bearer(pc.tok)); r.status != pc.status {
				t.Errorf("%s: %d %s", pc.name, r.status, r.body)
			}
			continue
		}
		pc.check(t, f)
	}
	r = f.get(t, path, bearer(at))
	var got tasks.GroupStatus
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if got.State != tasks.StateCancelled || got.Builds[0].State != tasks.StateCancelled || got.Builds[1].State != tasks.StateCancelled {
		t.Errorf("after cancel: %s", r.body)
	}
}

// TestGroupPublicVisibility: under public visibility another user sees the
// group (without its email address) and may not cancel it.
func TestGroupPublicVisibility(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) {
		c.OIDC = testOIDC(t)
		c.Arches = []string{"x86_64", "aarch64"}
		c.Visibility = tasks.VisibilityPublic
	})
	at := f.token(t, auth.User{Name: "alice", CanSubmit: true})
	bt := f.token(t, auth.User{Name: "bob", CanSubmit: true})
	sp := f.ksisoSpec("k.ks")
	sp.Arch, sp.Email = "x86_64,aarch64", "alice@example.org"
	r := f.postJSON(t, "/api/v1/builds", apiclient.SubmitRequest{Spec: sp, Kickstarts: map[string]string{"k.ks": "text\n"}}, bearer(at))
	var sub apiclient.SubmitResponse
	if err := json.Unmarshal(r.body, &sub); err != nil || r.status != 201 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	r = f.get(t, "/api/v1/groups/"+sub.Group.ID, bearer(bt))
	var got tasks.GroupStatus
	if err := json.Unmarshal(r.body, &got); err != nil || r.status != 200 {
		t.Fatalf("bob's GET: %d %s", r.status, r.body)
	}
	if got.Builds[0].Spec.Email != "" {
		t.Errorf("bob sees the email address %q", got.Builds[0].Spec.Email)
	}
	postCall{"bob cancels", bt, "/api/v1/groups/" + sub.Group.ID + "/cancel", http.StatusForbidden, ""}.check(t, f)
}
