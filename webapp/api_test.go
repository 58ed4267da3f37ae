package webapp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/webapp/apiclient"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

func TestSubmitJSONWithUploadedIncludes(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	req := apiclient.SubmitRequest{Spec: f.ksisoSpec("fedora-repo.ks"), Kickstarts: map[string]string{
		"fedora-repo.ks": readKS(t, "fedora-repo.ks"), "fedora-repo-rawhide.ks": readKS(t, "fedora-repo-rawhide.ks")}}
	r := f.postJSON(t, "/api/v1/builds", req, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got apiclient.SubmitResponse
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	b := got.Build
	if b.State != tasks.StateQueued || b.Owner != webapp.DefaultLocalUser || b.KickstartName != "fedora-repo.ks" {
		t.Errorf("build = %+v", b)
	}
	if want := f.ts.URL + "/builds/" + b.ID; got.URL != want {
		t.Errorf("url = %s, want %s", got.URL, want)
	}
	if loc := r.header.Get("Location"); loc != "/api/v1/builds/"+b.ID {
		t.Errorf("Location = %q", loc)
	}
	data, err := f.c.Store().Payload(context.Background(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := tasks.DecodePayload(data)
	if err != nil {
		t.Fatal(err)
	}
	// The include was resolved from the upload: its repo line is in the
	// flattened kickstart and no %include is left.
	if !strings.Contains(p.Kickstart, "repo --name=rawhide") || strings.Contains(p.Kickstart, "%include") {
		t.Errorf("flattened kickstart:\n%s", p.Kickstart)
	}
	if n, recs := f.queued(t); n != 1 || recs != 1 {
		t.Errorf("queued %d tasks, %d records; want 1, 1", n, recs)
	}
}

func TestSubmitMultipartINI(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ini := fmt.Sprintf("[DEFAULT]\ntype=ksiso\narch=aarch64\nrelease=rawhide\nstaging=%s\nemail=me@example.org\n[ksiso]\niso=boot.iso\nconfig=fedora-repo.ks\nnvr=wget-1.21.4-1.fc41\n", f.staging)
	ct, body := multipartBody(t, map[string]string{}, map[string][][2]string{
		"spec":      {{"my.conf", ini}},
		"kickstart": {{"fedora-repo.ks", readKS(t, "fedora-repo.ks")}, {"fedora-repo-rawhide.ks", readKS(t, "fedora-repo-rawhide.ks")}},
	})
	r := f.do(t, nil, http.MethodPost, "/api/v1/builds", ct, body, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got apiclient.SubmitResponse
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	want := tasks.Spec{Type: tasks.TypeKSISO, Arch: "aarch64", Release: "rawhide", Staging: f.staging, Email: "me@example.org",
		NVRs: []string{"wget-1.21.4-1.fc41"}, KSISO: &tasks.KSISOSpec{ISO: "boot.iso", Config: "fedora-repo.ks"}}
	if diff := cmp.Diff(want, got.Build.Spec); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	if got.Build.Queue != "build:aarch64:rawhide" {
		t.Errorf("queue %s", got.Build.Queue)
	}
}

// TestSubmitBadInput sends every kind of bad submission: each gets its
// status, code and field, and nothing is recorded or enqueued.
func TestSubmitBadInput(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) { c.MaxBody = 3 << 20 })
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/gone.ks"
	dead.Close()
	repo, rawhide := readKS(t, "fedora-repo.ks"), readKS(t, "fedora-repo-rawhide.ks")
	spec := func(mod func(*tasks.Spec)) tasks.Spec {
		s := f.ksisoSpec("fedora-repo.ks")
		mod(&s)
		return s
	}
	both := map[string]string{"fedora-repo.ks": repo, "fedora-repo-rawhide.ks": rawhide}
	many := map[string]string{"fedora-repo.ks": repo, "fedora-repo-rawhide.ks": rawhide}
	for i := range 20 {
		many[fmt.Sprintf("extra%d.ks", i)] = "# nothing\n"
	}
	tests := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"unknown field", `{"spec":{"type":"ksiso"},"extra":1}`, 400, webapp.CodeBadRequest, "extra"},
		{"unknown spec field", `{"spec":{"type":"ksiso","colour":"red"}}`, 400, webapp.CodeBadRequest, "colour"},
		{"wrong type", `{"spec":{"type":"ksiso","arch":64}}`, 400, webapp.CodeBadRequest, "spec.arch"},
		{"not JSON", `{"spec":`, 400, webapp.CodeBadRequest, ""},
		{"trailing data", `{"spec":{}} {}`, 400, webapp.CodeBadRequest, ""},
		{"arch not offered", apiclient.SubmitRequest{Spec: spec(func(s *tasks.Spec) { s.Arch = "sparc64" }), Kickstarts: both}, 422, webapp.CodeInvalid, "spec.arch"},
		{"release not offered", apiclient.SubmitRequest{Spec: spec(func(s *tasks.Spec) { s.Release = "40" }), Kickstarts: both}, 422, webapp.CodeInvalid, "spec.release"},
		{"malformed email", apiclient.SubmitRequest{Spec: spec(func(s *tasks.Spec) { s.Email = "me at example" }), Kickstarts: both}, 422, webapp.CodeInvalid, "spec.email"},
		{"staging scheme", apiclient.SubmitRequest{Spec: spec(func(s *tasks.Spec) { s.Staging = "gopher://host/dir" }), Kickstarts: both}, 422, webapp.CodeInvalid, "spec.staging"},
		{"staging outside file_root", apiclient.SubmitRequest{Spec: spec(func(s *tasks.Spec) { s.Staging = "file:///etc" }), Kickstarts: both}, 422, webapp.CodeInvalid, "spec.staging"},
		{"no staging", apiclient.SubmitRequest{Spec: spec(func(s *tasks.Spec) { s.Staging = "" }), Kickstarts: both}, 422, webapp.CodeInvalid, "spec.staging"},
		{"bad NVR", apiclient.SubmitRequest{Spec: spec(func(s *tasks.Spec) { s.NVRs = []string{"wget"} }), Kickstarts: both}, 422, webapp.CodeInvalid, "spec.nvrs"},
		{"bad build ID", apiclient.SubmitRequest{Spec: spec(func(s *tasks.Spec) { s.BuildIDs = []string{"-3"} }), Kickstarts: both}, 422, webapp.CodeInvalid, "spec.build_ids"},
		{"unknown type", apiclient.SubmitRequest{Spec: spec(func(s *tasks.Spec) { s.Type = "floppy" }), Kickstarts: both}, 422, webapp.CodeInvalid, "spec.type"},
		{"section missing", apiclient.SubmitRequest{Spec: spec(func(s *tasks.Spec) { s.Type = tasks.TypeLive }), Kickstarts: both}, 422, webapp.CodeInvalid, "spec.type"},
		{"iso path on worker", apiclient.SubmitRequest{Spec: spec(func(s *tasks.Spec) { s.KSISO.ISO = "/etc/shadow" }), Kickstarts: both}, 422, webapp.CodeInvalid, "spec.ksiso.iso"},
		{"kickstart does not parse", apiclient.SubmitRequest{Spec: spec(func(*tasks.Spec) {}),
			Kickstarts: map[string]string{"fedora-repo.ks": "%packages\n@core\n"}}, 422, webapp.CodeInvalidKS, "spec.<type>.config"},
		{"unknown kickstart command", apiclient.SubmitRequest{Spec: spec(func(*tasks.Spec) {}),
			Kickstarts: map[string]string{"fedora-repo.ks": "frobnicate --now\n"}}, 422, webapp.CodeInvalidKS, "spec.<type>.config"},
		{"include missing from upload", apiclient.SubmitRequest{Spec: spec(func(*tasks.Spec) {}),
			Kickstarts: map[string]string{"fedora-repo.ks": repo}}, 422, webapp.CodeInvalidKS, "spec.<type>.config"},
		{"include escapes upload", apiclient.SubmitRequest{Spec: spec(func(*tasks.Spec) {}),
			Kickstarts: map[string]string{"fedora-repo.ks": "%include ../../etc/passwd\n"}}, 422, webapp.CodeInvalidKS, "spec.<type>.config"},
		{"main not uploaded", apiclient.SubmitRequest{Spec: spec(func(s *tasks.Spec) { s.KSISO.Config = "other.ks" }), Kickstarts: both}, 422, webapp.CodeInvalid, "spec.<type>.config"},
		{"kickstart path on server", apiclient.SubmitRequest{Spec: spec(func(s *tasks.Spec) { s.KSISO.Config = "/etc/passwd" })}, 422, webapp.CodeInvalid, "spec.<type>.config"},
		{"URL cannot be fetched", apiclient.SubmitRequest{Spec: spec(func(s *tasks.Spec) { s.KSISO.Config = deadURL })}, 422, webapp.CodeKSFetch, "spec.<type>.config"},
		{"bad upload name", apiclient.SubmitRequest{Spec: spec(func(*tasks.Spec) {}),
			Kickstarts: map[string]string{"fedora-repo.ks": repo, "../x.ks": "text\n"}}, 422, webapp.CodeInvalid, "spec.<type>.config"},
		{"kickstart over 1 MiB", apiclient.SubmitRequest{Spec: spec(func(*tasks.Spec) {}),
			Kickstarts: map[string]string{"fedora-repo.ks": "#" + strings.Repeat("x", 1<<20) + "\n"}}, 413, webapp.CodeTooLarge, "spec.<type>.config"},
		{"21 files", apiclient.SubmitRequest{Spec: spec(func(*tasks.Spec) {}), Kickstarts: many}, 413, webapp.CodeTooLarge, "spec.<type>.config"},
		{"body over limit", `{"spec":{"type":"` + strings.Repeat("x", 4<<20) + `"}}`, 413, webapp.CodeTooLarge, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.postJSON(t, "/api/v1/builds", tc.body, nil)
			e := r.apiError(t)
			if r.status != tc.status || e.Code != tc.code || e.Field != tc.field || e.Message == "" {
				t.Errorf("got %d %+v, want %d code %s field %s", r.status, e, tc.status, tc.code, tc.field)
			}
		})
	}
	// Multipart and content-type problems.
	mp := []struct {
		name          string
		fields        map[string]string
		files         map[string][][2]string
		status        int
		code, field   string
		wantInMessage string
	}{
		{"spec does not parse", nil, map[string][][2]string{"spec": {{"s.conf", "[DEFAULT]\ntype=ksiso\narch=x86_64\n"}}}, 422, webapp.CodeInvalidSpec, "[DEFAULT] release", "s.conf"},
		{"no spec", nil, map[string][][2]string{"kickstart": {{"a.ks", "text\n"}}}, 400, webapp.CodeBadRequest, "spec", "no spec"},
		{"unknown part", map[string]string{"colour": "red"}, nil, 400, webapp.CodeBadRequest, "colour", "unknown part"},
		{"kickstart over 1 MiB", nil, map[string][][2]string{"kickstart": {{"a.ks", strings.Repeat("#", 1<<20+1)}}}, 413, webapp.CodeTooLarge, "kickstart a.ks", "over"},
		{"spec names an absent arch", nil, map[string][][2]string{"spec": {{"s.conf", "[DEFAULT]\ntype=ksiso\narch=x86_64\nrelease=39\nstaging=" + f.staging + "\n[ksiso]\niso=b.iso\nconfig=https://example.org/a.ks\n"}}}, 422, webapp.CodeInvalid, "[DEFAULT] release", "not offered"},
	}
	for _, tc := range mp {
		t.Run("multipart "+tc.name, func(t *testing.T) {
			ct, body := multipartBody(t, tc.fields, tc.files)
			r := f.do(t, nil, http.MethodPost, "/api/v1/builds", ct, body, nil)
			e := r.apiError(t)
			if r.status != tc.status || e.Code != tc.code || e.Field != tc.field || !strings.Contains(e.Message, tc.wantInMessage) {
				t.Errorf("got %d %+v, want %d code %s field %s message with %q", r.status, e, tc.status, tc.code, tc.field, tc.wantInMessage)
			}
		})
	}
	t.Run("content type", func(t *testing.T) {
		r := f.do(t, nil, http.MethodPost, "/api/v1/builds", "text/plain", strings.NewReader("hi"), nil)
		if e := r.apiError(t); r.status != 400 || e.Field != "Content-Type" {
			t.Errorf("got %d %+v", r.status, e)
		}
	})
	if n, recs := f.queued(t); n != 0 || recs != 0 {
		t.Errorf("bad submissions left %d tasks and %d records", n, recs)
	}
}

func TestSubmitReportsEveryProblem(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	s := f.ksisoSpec("x.ks")
	s.Arch, s.Release, s.Email = "sparc", "12", "nope"
	r := f.postJSON(t, "/api/v1/builds", apiclient.SubmitRequest{Spec: s}, nil)
	var body struct {
		webapp.Error
		Details []webapp.Error `json:"details"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, d := range body.Details {
		fields = append(fields, d.Field)
	}
	if diff := cmp.Diff([]string{"spec.arch", "spec.release", "spec.email"}, fields); diff != "" || r.status != 422 {
		t.Errorf("status %d, fields (-want +got):\n%s", r.status, diff)
	}
}

func TestSubmitStandardKickstart(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	r := f.get(t, "/api/v1/kickstarts", nil)
	var ks struct{ Kickstarts []apiclient.Kickstart }
	if err := json.Unmarshal(r.body, &ks); err != nil || len(ks.Kickstarts) == 0 {
		t.Fatalf("kickstarts: %d %s %v", r.status, r.body, err)
	}
	name := ks.Kickstarts[0].Name
	r = f.postJSON(t, "/api/v1/builds", apiclient.SubmitRequest{Spec: f.ksisoSpec(name)}, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("standard kickstart %s: %d %s", name, r.status, r.body)
	}
}

func TestSubmitKickstartURL(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ks := httptest.NewServer(http.FileServer(http.Dir(kickstartsDir)))
	defer ks.Close()
	r := f.postJSON(t, "/api/v1/builds", apiclient.SubmitRequest{Spec: f.ksisoSpec(ks.URL + "/fedora-repo.ks")}, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("kickstart URL: %d %s", r.status, r.body)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) { c.SubmitLimit = 2; c.SubmitWindow = time.Hour })
	req := apiclient.SubmitRequest{Spec: f.ksisoSpec("k.ks"), Kickstarts: map[string]string{"k.ks": "text\n"}}
	for i := range 2 {
		if r := f.postJSON(t, "/api/v1/builds", req, nil); r.status != http.StatusCreated {
			t.Fatalf("submission %d: %d %s", i, r.status, r.body)
		}
	}
	r := f.postJSON(t, "/api/v1/builds", req, nil)
	if e := r.apiError(t); r.status != http.StatusTooManyRequests || e.Code != webapp.CodeRateLimited || r.header.Get("Retry-After") == "" {
		t.Errorf("third submission: %d %+v Retry-After %q", r.status, e, r.header.Get("Retry-After"))
	}
	if n, _ := f.queued(t); n != 2 {
		t.Errorf("%d tasks queued, want 2", n)
	}
}

func TestRest(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	orig, err := readFile("../../shared/original-specs/live_imagebuild.conf")
	if err != nil {
		t.Fatal(err)
	}
	// The original sample goes through unchanged (its bare staging host is
	// anonymous FTP); one with a staging URL of an unknown scheme does not.
	fixed := strings.Replace(orig, "staging=10.0.0.27", "staging="+f.staging, 1)
	badStaging := strings.Replace(orig, "staging=10.0.0.27", "staging=gopher://10.0.0.27/x", 1)
	ks := readKS(t, "fedora-repo-rawhide.ks")
	enc := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	tests := []struct {
		name   string
		ctype  string
		body   string
		status int
		code   string
		field  string
	}{
		{"json", "application/json", `{"config":` + enc(fixed) + `,"ksfname":"my.ks","ks":` + enc(ks) + `}`, 201, "", ""},
		{"form", "application/x-www-form-urlencoded", "config=" + urlq(enc(fixed)) + "&ksfname=" + urlq(enc("my.ks")) + "&ks=" + urlq(enc(ks)), 201, "", ""},
		{"original spec", "application/json", `{"config":` + enc(orig) + `,"ksfname":"my.ks","ks":` + enc(ks) + `}`, 201, "", ""},
		// The original client (cli/build_rest.py) json.dumps the spec and
		// the kickstart, then json.dumps the whole payload again.
		{"original client", "application/json", `{"config":` + enc(enc(fixed)) + `,"ksfname":"my.ks","ks":` + enc(enc(ks)) + `}`, 201, "", ""},
		{"original client, form", "application/x-www-form-urlencoded", "config=" + urlq(enc(enc(fixed))) + "&ksfname=" + urlq(enc("my.ks")) + "&ks=" + urlq(enc(enc(ks))), 201, "", ""},
		{"bad staging", "application/json", `{"config":` + enc(badStaging) + `,"ksfname":"my.ks","ks":` + enc(ks) + `}`, 422, webapp.CodeInvalidSpec, "[DEFAULT] staging"},
		{"ks too large", "application/json", `{"config":` + enc(fixed) + `,"ksfname":"my.ks","ks":` + enc(strings.Repeat("#", 1<<20+1)) + `}`, 413, webapp.CodeTooLarge, "ks"},
		{"no config", "application/json", `{"ksfname":"my.ks"}`, 400, webapp.CodeBadRequest, "config"},
		{"config not JSON-encoded", "application/x-www-form-urlencoded", "config=" + urlq(fixed), 400, webapp.CodeBadRequest, "config"},
		{"unknown field", "application/json", `{"config":"x","extra":true}`, 400, webapp.CodeBadRequest, "extra"},
		{"bad kickstart", "application/json", `{"config":` + enc(fixed) + `,"ksfname":"my.ks","ks":"%include nowhere.ks\n"}`, 422, webapp.CodeInvalidKS, "[live] config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(t, nil, http.MethodPost, "/rest", tc.ctype, strings.NewReader(tc.body), nil)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status == 201 {
				var got apiclient.SubmitResponse
				if err := json.Unmarshal(r.body, &got); err != nil || got.Build.Spec.Live == nil || got.Build.KickstartName != "my.ks" {
					t.Errorf("response %s (%v)", r.body, err)
				}
				return
			}
			if e := r.apiError(t); e.Code != tc.code || e.Field != tc.field {
				t.Errorf("got %+v, want code %s field %s", e, tc.code, tc.field)
			}
		})
	}
}

func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) { c.OIDC = testOIDC(t) })
	ctx := context.Background()
	alice := auth.User{Name: "alice", CanSubmit: true}
	admin := auth.User{Name: "root", CanSubmit: true, Admin: true}
	var ids []string
	for i := range 7 {
		owner, arch := "alice", "x86_64"
		if i%3 == 0 {
			owner = "bob"
		}
		if i%2 == 0 {
			arch = "aarch64"
		}
		p := &tasks.Payload{Owner: owner, Kickstart: "text\n", KickstartName: fmt.Sprintf("k%d.ks", i), Spec: f.ksisoSpec(fmt.Sprintf("k%d.ks", i))}
		p.Spec.Arch = arch
		b, err := f.c.Submit(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
		time.Sleep(2 * time.Millisecond) // distinct ULID milliseconds keep the order stable
	}
	if _, err := f.c.Cancel(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	at, rt := f.token(t, alice), f.token(t, admin)
	list := func(tok, q string) ([]string, string, int) {
		r := f.get(t, "/api/v1/builds"+q, bearer(tok))
		var l apiclient.BuildList
		json.Unmarshal(r.body, &l)
		var got []string
		for _, b := range l.Builds {
			got = append(got, b.KickstartName)
		}
		return got, l.Next, r.status
	}
	tests := []struct {
		name, tok, q string
		want         []string
		status       int
	}{
		{"own builds", at, "", []string{"k5.ks", "k4.ks", "k2.ks", "k1.ks"}, 200},
		{"admin sees all", rt, "?limit=3", []string{"k6.ks", "k5.ks", "k4.ks"}, 200},
		{"admin by owner", rt, "?owner=bob", []string{"k6.ks", "k3.ks", "k0.ks"}, 200},
		{"state", at, "?state=cancelled", []string{"k1.ks"}, 200},
		{"arch", at, "?arch=aarch64", []string{"k4.ks", "k2.ks"}, 200},
		{"text", at, "?q=K5.KS", []string{"k5.ks"}, 200}, // "." is in no build ID
		{"cursor", at, "?before=" + ids[4], []string{"k2.ks", "k1.ks"}, 200},
		{"bad state", at, "?state=done", nil, 422},
		{"bad limit", at, "?limit=0", nil, 422},
		{"bad cursor", at, "?before=xyz", nil, 422},
		{"other owner", at, "?owner=bob", nil, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, status := list(tc.tok, tc.q)
			if status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("builds (-want +got):\n%s", diff)
			}
		})
	}
	// Paging through everything with the cursor sees each build once.
	var all []string
	q := "?limit=2"
	for {
		got, next, status := list(rt, q)
		if status != 200 {
			t.Fatal(status)
		}
		all = append(all, got...)
		if next == "" {
			break
		}
		q = "?limit=2&before=" + next
	}
	if len(all) != 7 {
		t.Errorf("paged through %v", all)
	}
	if r := f.get(t, "/api/v1/builds", nil); r.status != 401 {
		t.Errorf("anonymous list: %d", r.status)
	}
}

// TestListIndexedBody checks the lists an index answers, which pass
// stored records through from one Redis reply: the body must be byte for
// byte what encoding apiclient.BuildList gives, with a Content-Length, and
// a non-admin must still see only their own builds.
func TestListIndexedBody(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) { c.OIDC = testOIDC(t) })
	ctx := context.Background()
	var ids []string // oldest first
	for i := range 5 {
		owner := []string{"alice", "bob"}[i%2]
		p := &tasks.Payload{Owner: owner, Kickstart: "text\n", KickstartName: fmt.Sprintf("k<%d>&.ks", i), Spec: f.ksisoSpec("k.ks")}
		b, err := f.c.Submit(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
		time.Sleep(2 * time.Millisecond) // distinct ULID milliseconds keep the order stable
	}
	if _, err := f.c.Cancel(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	at, rt := f.token(t, auth.User{Name: "alice", CanSubmit: true}), f.token(t, auth.User{Name: "root", Admin: true})
	tests := []struct {
		name, tok, q string
		want         []string // IDs, newest first
		next         string
	}{
		{"admin, all", rt, "", []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, ""},
		{"admin, a full page has a cursor", rt, "?limit=2", []string{ids[4], ids[3]}, ids[3]},
		{"admin, from a cursor", rt, "?limit=2&before=" + ids[3], []string{ids[2], ids[1]}, ids[1]},
		{"admin, by owner", rt, "?owner=bob", []string{ids[3], ids[1]}, ""},
		{"admin, by state", rt, "?state=cancelled", []string{ids[2]}, ""},
		{"admin, nothing", rt, "?state=failed", nil, ""},
		{"user sees only their own", at, "", []string{ids[4], ids[2], ids[0]}, ""},
		{"user by state", at, "?state=queued", []string{ids[4], ids[0]}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := apiclient.BuildList{Builds: []*tasks.Build{}, Next: tc.next}
			for _, id := range tc.want {
				b, err := f.c.Get(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				want.Builds = append(want.Builds, b)
			}
			wantBody, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			r := f.get(t, "/api/v1/builds"+tc.q, bearer(tc.tok))
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if diff := cmp.Diff(string(wantBody), string(r.body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if got := r.header.Get("Content-Length"); got != fmt.Sprint(len(r.body)) {
				t.Errorf("Content-Length %q for a body of %d bytes", got, len(r.body))
			}
			if got := r.header.Get("Content-Type"); got != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", got)
			}
		})
	}
}

// TestActOnOthersBuilds checks the answer to acting on another user's
// build: with private visibility exactly that of a missing build, so IDs
// cannot be probed; with public visibility, where the build is readable,
// forbidden.
func TestActOnOthersBuilds(t *testing.T) {
	t.Parallel()
	for _, vis := range []tasks.Visibility{tasks.VisibilityPrivate, tasks.VisibilityPublic} {
		f := setup(t, func(c *webapp.Config) { c.OIDC = testOIDC(t); c.Visibility = vis })
		_, bt, id := alicesBuild(t, f)
		for _, action := range []string{"cancel", "resubmit"} {
			missing := f.do(t, nil, http.MethodPost, "/api/v1/builds/"+tasks.NewBuildID()+"/"+action, "", nil, bearer(bt))
			got := f.do(t, nil, http.MethodPost, "/api/v1/builds/"+id+"/"+action, "", nil, bearer(bt))
			switch vis {
			case tasks.VisibilityPrivate:
				if got.status != missing.status || string(got.body) != string(missing.body) {
					t.Errorf("private: bob's %s of alice's build: %d %s, want the missing build's %d %s", action, got.status, got.body, missing.status, missing.body)
				}
			case tasks.VisibilityPublic:
				if got.status != http.StatusForbidden {
					t.Errorf("public: bob's %s of alice's build: %d %s, want 403", action, got.status, got.body)
				}
			}
		}
	}
}

// alicesBuild makes tokens for alice and bob and submits a build as
// alice; it returns both tokens and the build's ID.
func alicesBuild(t *testing.T, f *fixture) (at, bt, id string) {
	t.Helper()
	at = f.token(t, auth.User{Name: "alice", CanSubmit: true})
	bt = f.token(t, auth.User{Name: "bob", CanSubmit: true})
	r := f.postJSON(t, "/api/v1/builds", apiclient.SubmitRequest{Spec: f.ksisoSpec("k.ks"), Kickstarts: map[string]string{"k.ks": "text\n"}}, bearer(at))
	var sub apiclient.SubmitResponse
	if err := json.Unmarshal(r.body, &sub); err != nil || r.status != 201 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	return at, bt, sub.Build.ID
}

func TestCancelAndResubmit(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) { c.OIDC = testOIDC(t) })
	ctx := context.Background()
	at, bt, id := alicesBuild(t, f)
	for _, pc := range []postCall{
		// Private visibility: another user's build is missing to bob.
		{"another user's build", bt, "/api/v1/builds/" + id + "/cancel", 404, webapp.CodeNotFound},
		{"another user's resubmit", bt, "/api/v1/builds/" + id + "/resubmit", 404, webapp.CodeNotFound},
		{"unknown build", at, "/api/v1/builds/01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel", 404, webapp.CodeNotFound},
		{"malformed ID", at, "/api/v1/builds/nope/cancel", 404, webapp.CodeNotFound},
		{"no token", "", "/api/v1/builds/" + id + "/cancel", 401, webapp.CodeUnauthenticated},
		{"own build", at, "/api/v1/builds/" + id + "/cancel", 200, ""},
		{"already cancelled", at, "/api/v1/builds/" + id + "/cancel", 409, webapp.CodeFinished},
	} {
		pc.check(t, f)
	}
	b, err := f.c.Get(ctx, id)
	if err != nil || b.State != tasks.StateCancelled {
		t.Fatalf("after cancel: %+v %v", b, err)
	}
	r := f.do(t, nil, http.MethodPost, "/api/v1/builds/"+id+"/resubmit", "", nil, bearer(at))
	var sub apiclient.SubmitResponse
	if err := json.Unmarshal(r.body, &sub); err != nil || r.status != 201 {
		t.Fatalf("resubmit: %d %s", r.status, r.body)
	}
	if sub.Build.ID == id || sub.Build.State != tasks.StateQueued || sub.Build.Owner != "alice" {
		t.Errorf("resubmitted %+v", sub.Build)
	}
	if diff := cmp.Diff(b.Spec, sub.Build.Spec); diff != "" {
		t.Errorf("resubmitted spec (-want +got):\n%s", diff)
	}
	if _, err := f.c.Store().Payload(ctx, sub.Build.ID); err != nil {
		t.Error(err)
	}
}

func TestReleasesArchesWorkers(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	st := builds.NewStore(f.rdb)
	w := &builds.WorkerInfo{ID: "h1/1", Host: "h1", PID: 1, Arch: "aarch64", Releases: []string{"41"},
		Queues: []string{tasks.QueueName("aarch64", "41")}, Concurrency: 2, Started: time.Now(), Heartbeat: time.Now(),
		LowSpace: "data dir low on space (1.0 GiB free, min_free 2.0 GiB)"}
	if err := st.Heartbeat(context.Background(), w, time.Minute); err != nil {
		t.Fatal(err)
	}
	var rel struct{ Releases []apiclient.Release }
	var arch struct{ Arches []apiclient.Arch }
	var ws struct{ Workers []apiclient.Worker }
	for path, v := range map[string]any{"/api/v1/releases": &rel, "/api/v1/arches": &arch, "/api/v1/workers": &ws} {
		r := f.get(t, path, nil)
		if r.status != 200 {
			t.Fatalf("%s: %d", path, r.status)
		}
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]apiclient.Release{{Release: "41", Arches: []string{"aarch64"}}, {Release: "rawhide", Arches: []string{}}}, rel.Releases); diff != "" {
		t.Errorf("releases (-want +got):\n%s", diff)
	}
	if len(arch.Arches) != len(tasks.Arches) || arch.Arches[1].Arch != "aarch64" || len(arch.Arches[1].Releases) != 1 || len(arch.Arches[0].Releases) != 0 {
		t.Errorf("arches %+v", arch.Arches)
	}
	if len(ws.Workers) != 1 || ws.Workers[0].ID != "h1/1" || ws.Workers[0].Concurrency != 2 ||
		ws.Workers[0].State != "paused: "+w.LowSpace || ws.Workers[0].LowSpace != w.LowSpace || ws.Workers[0].Paused {
		t.Errorf("workers %+v; want h1/1, paused for space", ws.Workers)
	}
}
