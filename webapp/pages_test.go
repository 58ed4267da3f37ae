package webapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// formFields is a valid kickstart ISO form with an uploaded kickstart.
func (f *fixture) formFields(csrf string) map[string]string {
	return map[string]string{"csrf": csrf, "type": "ksiso", "arch": "x86_64", "release": "41", "staging": f.staging,
		"email": "me@example.org", "ks_source": "upload", "ks_main": "fedora-repo.ks", "ksiso_iso": "boot.iso"}
}

func uploads(t testing.TB) map[string][][2]string {
	return map[string][][2]string{"ks_files": {{"fedora-repo.ks", readKS(t, "fedora-repo.ks")}, {"fedora-repo-rawhide.ks", readKS(t, "fedora-repo-rawhide.ks")}}}
}

// TestFormSubmitKSISOOptions posts mkksiso's options through the form and
// finds them in the build's spec.
func TestFormSubmitKSISOOptions(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	hc := f.browser(t)
	csrf := csrfOf(t, f.do(t, hc, http.MethodGet, "/build", "", nil, nil).body)
	fields := f.formFields(csrf)
	fields["ksiso_rm_args"], fields["ksiso_volid"], fields["ksiso_updates"] = "quiet rhgb", "Fedora-KS-41", "updates.img"
	fields["ksiso_add"], fields["ksiso_replace"] = "extra-repo root.tar.xz", "Install Deploy\r\n\r\nttyUSB0 ttyS0\r\n"
	ct, body := multipartBody(t, fields, uploads(t))
	r := f.do(t, hc, http.MethodPost, "/build", ct, body, nil)
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther {
		t.Fatalf("POST /build: %d\n%s", r.status, r.body)
	}
	b, err := f.c.Get(context.Background(), strings.TrimPrefix(loc, "/builds/"))
	if err != nil {
		t.Fatal(err)
	}
	want := &tasks.KSISOSpec{ISO: "boot.iso", Config: "fedora-repo.ks", RmArgs: "quiet rhgb", VolID: "Fedora-KS-41",
		Updates: "updates.img", Add: []string{"extra-repo", "root.tar.xz"},
		Replace: []tasks.Replace{{From: "Install", To: "Deploy"}, {From: "ttyUSB0", To: "ttyS0"}}}
	if diff := cmp.Diff(want, b.Spec.KSISO); diff != "" {
		t.Errorf("[ksiso] of the build (-want +got):\n%s", diff)
	}
}

func TestFormSubmit(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	hc := f.browser(t)
	page := f.do(t, hc, http.MethodGet, "/build", "", nil, nil)
	if page.status != 200 {
		t.Fatalf("GET /build: %d", page.status)
	}
	contains(t, page.body, `name="ks_files"`, `enctype="multipart/form-data"`, "no worker now")
	csrf := csrfOf(t, page.body)
	ct, body := multipartBody(t, f.formFields(csrf), uploads(t))
	r := f.do(t, hc, http.MethodPost, "/build", ct, body, nil)
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther || !regexp.MustCompile(`^/builds/[0-9A-Z]{26}$`).MatchString(loc) {
		t.Fatalf("POST /build: %d Location %q\n%s", r.status, loc, r.body)
	}
	b, err := f.c.Get(context.Background(), strings.TrimPrefix(loc, "/builds/"))
	if err != nil {
		t.Fatal(err)
	}
	if b.Spec.Email != "me@example.org" || b.KickstartName != "fedora-repo.ks" || b.Spec.KSISO.ISO != "boot.iso" || b.Owner != "local" {
		t.Errorf("build %+v", b)
	}
	// The dashboard lists it with cancel and resubmit.
	d := f.do(t, hc, http.MethodGet, "/builds", "", nil, nil)
	contains(t, d.body, b.ID, `action="/builds/`+b.ID+`/cancel"`, `action="/builds/`+b.ID+`/resubmit"`)
	csrf = csrfOf(t, d.body)
	form := "application/x-www-form-urlencoded"
	// Cancel without the CSRF token is refused; with it, it works.
	if r := f.do(t, hc, http.MethodPost, "/builds/"+b.ID+"/cancel", form, strings.NewReader(""), nil); r.status != http.StatusForbidden {
		t.Errorf("cancel without CSRF: %d", r.status)
	}
	r = f.do(t, hc, http.MethodPost, "/builds/"+b.ID+"/cancel", form, strings.NewReader("csrf="+urlq(csrf)), nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	if got, _ := f.c.Get(context.Background(), b.ID); got.State != tasks.StateCancelled {
		t.Errorf("state after cancel: %s", got.State)
	}
	r = f.do(t, hc, http.MethodPost, "/builds/"+b.ID+"/resubmit", form, strings.NewReader("csrf="+urlq(csrf)), nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") == loc {
		t.Fatalf("resubmit: %d %s", r.status, r.header.Get("Location"))
	}
	d = f.do(t, hc, http.MethodGet, "/builds?state=cancelled", "", nil, nil)
	if !bytes.Contains(d.body, []byte(b.ID)) || bytes.Contains(d.body, []byte(strings.TrimPrefix(r.header.Get("Location"), "/builds/"))) {
		t.Errorf("state filter shows wrong builds")
	}
	// The home page lists recent builds.
	contains(t, f.do(t, hc, http.MethodGet, "/", "", nil, nil).body, b.ID)
}

var rowRE = regexp.MustCompile(`<tr data-id="([0-9A-Z]{26})"`)

// TestDashboardRows checks which rows the dashboard shows, through the
// indexed path (stored JSON decoded for the rows) and the matched one
// (arch, release, text): order, owners, filters, the next-page link, the
// owner column for admins and one CSRF cookie per first visit.
func TestDashboardRows(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) { c.OIDC = testOIDC(t) })
	ctx := context.Background()
	var ids []string // oldest first
	for i := range 6 {
		p := &tasks.Payload{Owner: []string{"alice", "bob"}[i%2], Kickstart: "text\n", KickstartName: fmt.Sprintf("k%d.ks", i), Spec: f.ksisoSpec("k.ks")}
		if i >= 4 {
			p.Spec.Arch = "aarch64"
		}
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
		want         []string
		next         string // the before= of the next-page link, "" for none
		owners       bool
	}{
		{"admin: everyone's", rt, "", []string{ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}, "", true},
		{"admin: a full page links on", rt, "?limit=2", []string{ids[5], ids[4]}, ids[4], true},
		{"admin: from the cursor", rt, "?limit=2&before=" + ids[4], []string{ids[3], ids[2]}, ids[2], true},
		{"admin: by owner", rt, "?owner=bob", []string{ids[5], ids[3], ids[1]}, "", true},
		{"admin: by state", rt, "?state=cancelled", []string{ids[2]}, "", true},
		{"admin: by arch (matched)", rt, "?arch=aarch64", []string{ids[5], ids[4]}, "", true},
		{"user: their own only", at, "", []string{ids[4], ids[2], ids[0]}, "", false},
		{"user: by state", at, "?state=queued", []string{ids[4], ids[0]}, "", false},
		{"user: by text (matched)", at, "?q=k4.ks", []string{ids[4]}, "", false},
		{"user: nothing", at, "?state=failed", nil, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.get(t, "/builds"+tc.q, bearer(tc.tok))
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var got []string
			for _, m := range rowRE.FindAllSubmatch(r.body, -1) {
				got = append(got, string(m[1]))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			link := regexp.MustCompile(`id="next-page"`).Match(r.body)
			if tc.next == "" && link {
				t.Error("next-page link on the last page")
			}
			if tc.next != "" {
				// The link keeps the filters and the page size.
				m := regexp.MustCompile(`href="(/builds\?[^"]*)" id="next-page"`).FindSubmatch(r.body)
				if m == nil {
					t.Fatalf("no next-page link in:\n%s", r.body)
				}
				next, err := url.Parse(html.UnescapeString(string(m[1])))
				if err != nil {
					t.Fatal(err)
				}
				want, _ := url.ParseQuery(strings.TrimPrefix(tc.q, "?"))
				want.Set("before", tc.next)
				if diff := cmp.Diff(want, next.Query()); diff != "" {
					t.Errorf("next-page link %s (-want +got query):\n%s", m[1], diff)
				}
			}
			if owners := bytes.Contains(r.body, []byte("<th>Owner</th>")); owners != tc.owners {
				t.Errorf("owner column shown: %v, want %v", owners, tc.owners)
			}
			if len(tc.want) > 0 {
				csrf := csrfOf(t, r.body)
				var cookies int
				for _, c := range r.header.Values("Set-Cookie") {
					if strings.HasPrefix(c, "fbs_csrf=") {
						cookies++
					}
				}
				if cookies != 1 {
					t.Errorf("%d CSRF cookies set on a first visit, want 1", cookies)
				}
				if n := bytes.Count(r.body, []byte(`name="csrf" value="`+csrf+`"`)); n < len(tc.want) {
					t.Errorf("%d forms carry the page's CSRF token for %d rows", n, len(tc.want))
				}
			}
		})
	}
}

// TestFormErrors posts bad forms: each error is shown next to its field,
// the input is kept, the status is 4xx, and nothing is enqueued.
func TestFormErrors(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	hc := f.browser(t)
	csrf := csrfOf(t, f.do(t, hc, http.MethodGet, "/build", "", nil, nil).body)
	many := uploads(t)
	for i := range 19 {
		many["ks_files"] = append(many["ks_files"], [2]string{fmt.Sprintf("x%d.ks", i), "# x\n"})
	}
	tests := []struct {
		name   string
		mod    map[string]string
		files  map[string][][2]string
		status int
		field  string // id of the error paragraph: err-FIELD
		want   string
	}{
		{"arch", map[string]string{"arch": "sparc"}, uploads(t), 422, "arch", "unknown arch"},
		{"release", map[string]string{"release": "40"}, uploads(t), 422, "release", "not offered"},
		{"email", map[string]string{"email": "not-an-email"}, uploads(t), 422, "email", "not a single mail address"},
		{"staging scheme", map[string]string{"staging": "gopher://h/x"}, uploads(t), 422, "staging", "unknown scheme"},
		{"staging missing", map[string]string{"staging": ""}, uploads(t), 422, "staging", "missing: where the images go"},
		{"nvr", map[string]string{"nvrs": "wget"}, uploads(t), 422, "nvrs", "NVR"},
		{"build id", map[string]string{"build_ids": "12x"}, uploads(t), 422, "build_ids", "malformed Koji build ID"},
		{"iso path", map[string]string{"ksiso_iso": "/etc/shadow"}, uploads(t), 422, "ksiso_iso", "iso_dir"},
		{"no upload", nil, nil, 422, "ks_files", "choose the kickstart"},
		{"missing include", nil, map[string][][2]string{"ks_files": {{"fedora-repo.ks", readKS(t, "fedora-repo.ks")}}}, 422, "kickstart", "fedora-repo-rawhide.ks"},
		{"kickstart does not parse", nil, map[string][][2]string{"ks_files": {{"fedora-repo.ks", "%packages\n@core\n"}}}, 422, "kickstart", "fedora-repo.ks"},
		{"URL cannot be fetched", map[string]string{"ks_source": "url", "ks_url": "http://127.0.0.1:1/x.ks"}, nil, 422, "kickstart", "127.0.0.1:1"},
		{"not a standard kickstart", map[string]string{"ks_source": "standard", "ks_standard": "no-such"}, nil, 422, "kickstart", "not a standard kickstart"},
		{"oversize kickstart", nil, map[string][][2]string{"ks_files": {{"fedora-repo.ks", strings.Repeat("#", 1<<20+1)}}}, 413, "ks_files", "over"},
		{"21 files", nil, many, 413, "ks_files", "more than 20"},
		{"boot without version", map[string]string{"type": "boot", "boot_product": "fedora", "boot_release": "41", "boot_repos": "41 https://dl.example.org/41/os"}, nil, 422, "boot_version", "missing: required for type boot"},
		{"boot repo line", map[string]string{"type": "boot", "boot_product": "fedora", "boot_release": "41", "boot_version": "41", "boot_repos": "just-a-name"}, nil, 422, "boot_repos", "NAME URL"},
		{"live without label", map[string]string{"type": "live", "live_releasever": "41", "ks_source": "standard", "ks_standard": "x"}, nil, 422, "live_label", "missing: required for type live"},
		{"value with newline", map[string]string{"ksiso_cmdline": "a\n[boot]\nx=y"}, uploads(t), 422, "ksiso_cmdline", "one line"},
		{"volid", map[string]string{"ksiso_volid": "Test Only"}, uploads(t), 422, "ksiso_volid", "a volume ID takes"},
		{"rm_args value", map[string]string{"ksiso_rm_args": "console=ttyS0"}, uploads(t), 422, "ksiso_rm_args", "names only"},
		{"updates path", map[string]string{"ksiso_updates": "/srv/updates.img"}, uploads(t), 422, "ksiso_updates", "iso_dir"},
		{"add path", map[string]string{"ksiso_add": "repo ../../etc"}, uploads(t), 422, "ksiso_add", "iso_dir"},
		{"replace line", map[string]string{"ksiso_replace": "quiet"}, uploads(t), 422, "ksiso_replace", "line 1"},
		{"replace entry", map[string]string{"ksiso_replace": "quiet }menuentry"}, uploads(t), 422, "ksiso_replace", "boot menu syntax"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fields := f.formFields(csrf)
			for k, v := range tc.mod {
				fields[k] = v
			}
			ct, body := multipartBody(t, fields, tc.files)
			r := f.do(t, hc, http.MethodPost, "/build", ct, body, nil)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d\n%s", r.status, tc.status, r.body)
			}
			re := regexp.MustCompile(`<p class="err" id="err-` + tc.field + `">([^<]*)</p>`)
			m := re.FindSubmatch(r.body)
			if m == nil || !strings.Contains(string(m[1]), tc.want) {
				t.Errorf("no error with %q next to %s:\n%s", tc.want, tc.field, r.body)
			}
			// The input is kept.
			if v := fields["staging"]; v != "" && !bytes.Contains(r.body, []byte(`value="`+v+`"`)) {
				t.Errorf("staging value %q not kept", v)
			}
		})
	}
	t.Run("missing CSRF", func(t *testing.T) {
		fields := f.formFields("")
		ct, body := multipartBody(t, fields, uploads(t))
		r := f.do(t, hc, http.MethodPost, "/build", ct, body, nil)
		if r.status != http.StatusForbidden || !bytes.Contains(r.body, []byte("CSRF")) {
			t.Errorf("status %d\n%s", r.status, r.body)
		}
	})
	if n, recs := f.queued(t); n != 0 || recs != 0 {
		t.Errorf("%d tasks, %d records after bad forms", n, recs)
	}
}

func TestAccountTokens(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) { c.OIDC = testOIDC(t) })
	hc, _ := signIn(t, f, "/account")
	page := f.do(t, hc, http.MethodGet, "/account", "", nil, nil)
	csrf := csrfOf(t, page.body)
	form := "application/x-www-form-urlencoded"
	r := f.do(t, hc, http.MethodPost, "/account", form, strings.NewReader("action=create&name=cli&days=30&csrf="+urlq(csrf)), nil)
	m := regexp.MustCompile(`<code class="token" id="new-token">(fbs_[a-z0-9]+)</code>`).FindSubmatch(r.body)
	if r.status != 200 || m == nil {
		t.Fatalf("create token: %d\n%s", r.status, r.body)
	}
	tok := string(m[1])
	// Shown once: the account page does not show it again.
	if again := f.do(t, hc, http.MethodGet, "/account", "", nil, nil); bytes.Contains(again.body, []byte(tok)) {
		t.Error("token shown again")
	}
	if r := f.get(t, "/api/v1/builds", bearer(tok)); r.status != 200 {
		t.Errorf("new token refused: %d %s", r.status, r.body)
	}
	id := regexp.MustCompile(`name="id" value="([0-9a-f]{12})"`).FindSubmatch(f.do(t, hc, http.MethodGet, "/account", "", nil, nil).body)
	if id == nil {
		t.Fatal("token not listed")
	}
	for _, tc := range []struct {
		body   string
		status int
	}{
		{"action=revoke&id=" + string(id[1]), 403}, // no CSRF
		{"action=revoke&id=000000000000&csrf=" + urlq(csrf), 404},
		{"action=create&name=&csrf=" + urlq(csrf), 422},
		{"action=create&name=x&days=-1&csrf=" + urlq(csrf), 422},
		{"action=explode&csrf=" + urlq(csrf), 400},
		{"action=revoke&id=" + string(id[1]) + "&csrf=" + urlq(csrf), 200},
	} {
		if r := f.do(t, hc, http.MethodPost, "/account", form, strings.NewReader(tc.body), nil); r.status != tc.status {
			t.Errorf("POST /account %s: %d, want %d", tc.body, r.status, tc.status)
		}
	}
	if r := f.get(t, "/api/v1/builds", bearer(tok)); r.status != 401 || r.apiError(t).Code != webapp.CodeTokenRevoked {
		t.Errorf("revoked token: %d %s", r.status, r.body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	for _, p := range []string{"/", "/build", "/builds", "/account", "/api/v1/releases", "/api/v1/openapi.json"} {
		r := f.get(t, p, nil)
		if r.status != 200 {
			t.Errorf("%s: %d", p, r.status)
		}
		csp := r.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", p, r.header)
		}
	}
	r := f.get(t, "/build", nil)
	for _, c := range r.header.Values("Set-Cookie") {
		if !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") {
			t.Errorf("cookie %q", c)
		}
	}
	// Local mode answers loopback names only (DNS rebinding).
	if r := f.get(t, "/api/v1/releases", map[string]string{"Host": "evil.example.com"}); r.status != http.StatusForbidden {
		t.Errorf("foreign Host in local mode: %d", r.status)
	}
	// A cross-site POST reaching the local user is refused without a token.
	req := `{"spec":{}}`
	r = f.postJSON(t, "/api/v1/builds", req, map[string]string{"Origin": "https://evil.example.com", "Sec-Fetch-Site": "cross-site"})
	if r.status != http.StatusForbidden || r.apiError(t).Code != webapp.CodeCSRF {
		t.Errorf("cross-site local POST: %d %s", r.status, r.body)
	}
}

func TestSecureCookiesOverHTTPS(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) {
		c.OIDC = testOIDC(t)
		c.PublicURL = "https://fbs.example.org"
	})
	r := f.get(t, "/login", nil)
	var found bool
	for _, c := range r.header.Values("Set-Cookie") {
		found = true
		if !strings.Contains(c, "Secure") || !strings.Contains(c, "HttpOnly") {
			t.Errorf("cookie %q", c)
		}
	}
	if !found || r.header.Get("Strict-Transport-Security") == "" {
		t.Errorf("login: %d cookies %v HSTS %q", r.status, r.header.Values("Set-Cookie"), r.header.Get("Strict-Transport-Security"))
	}
}

// TestOpenAPI checks that every API route (ours and the monitor's GET
// /api/v1/builds/{id}) is described, and that doc/openapi.json is the
// served document.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	r := f.get(t, "/api/v1/openapi.json", nil)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("document: %v %q", err, doc.OpenAPI)
	}
	e := gin.New()
	f.srv.Register(e)
	routes := []gin.RouteInfo{{Method: "GET", Path: "/api/v1/builds/:id"}, {Method: "POST", Path: "/api/v1/builds/:id/links/revoke"}, // the monitor's
		{Method: "GET", Path: "/api/v1/pauses"}, {Method: "POST", Path: "/api/v1/pauses"}, {Method: "DELETE", Path: "/api/v1/pauses/:kind/:name"}}
	routes = append(routes, e.Routes()...)
	// The monitor's routes mount beside ours without a conflict (gin
	// panics on one).
	mon, err := monitor.New(f.rdb, monitor.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	mon.Register(e)
	var api []string
	for _, rt := range routes {
		if !strings.HasPrefix(rt.Path, "/api/") && rt.Path != "/rest" {
			continue
		}
		p := regexp.MustCompile(`:(\w+)`).ReplaceAllString(rt.Path, "{$1}")
		api = append(api, rt.Method+" "+p)
		if _, ok := doc.Paths[p][strings.ToLower(rt.Method)]; !ok {
			t.Errorf("%s %s is not in the OpenAPI document", rt.Method, p)
		}
	}
	for p, ops := range doc.Paths {
		for m := range ops {
			if !slices.Contains(api, strings.ToUpper(m)+" "+p) {
				t.Errorf("the OpenAPI document describes %s %s, which is not served", m, p)
			}
		}
	}
	kept, err := os.ReadFile("../doc/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(kept, r.body) {
		t.Error("doc/openapi.json differs from webapp/openapi.json: copy it over")
	}
}

// textareaRE finds the boot repositories textarea's text in the form.
var textareaRE = regexp.MustCompile(`(?s)<textarea id="boot_repos"[^>]*>(.*?)</textarea>`)

// TestFormPrefillsRepos: the form fills in the release's standard
// repositories (base, updates, updates-testing) for the chosen release and
// arch, editable, and what it fills in submits as those repositories.
func TestFormPrefillsRepos(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	hc := f.browser(t)
	for _, tc := range []struct{ query, release, arch string }{
		{"", "41", "x86_64"},
		{"?type=boot&release=rawhide&arch=aarch64", "rawhide", "aarch64"},
	} {
		page := f.do(t, hc, http.MethodGet, "/build"+tc.query, "", nil, nil)
		m := textareaRE.FindSubmatch(page.body)
		if m == nil {
			t.Fatalf("GET /build%s: no boot_repos textarea", tc.query)
		}
		var want strings.Builder
		for _, r := range tasks.StandardRepos(tc.release, tc.arch) {
			want.WriteString(r.Name + " " + r.URL + " " + r.Mirror + "\n")
		}
		if got := html.UnescapeString(string(m[1])); got != want.String() {
			t.Errorf("GET /build%s: boot_repos\n%s\nwant\n%s", tc.query, got, want.String())
		}
		// The script has every offered release and arch's lines.
		contains(t, page.body, `data-defaults="{`, "repo=updates-testing-f41\\u0026arch=s390x")
	}

	page := f.do(t, hc, http.MethodGet, "/build?type=boot", "", nil, nil)
	fields := map[string]string{"csrf": csrfOf(t, page.body), "type": "boot", "arch": "x86_64", "release": "41",
		"staging": f.staging, "email": "me@example.org", "boot_product": "fedora", "boot_release": "41", "boot_version": "41",
		"boot_updates": "1", "boot_repos": html.UnescapeString(string(textareaRE.FindSubmatch(page.body)[1]))}
	ct, body := multipartBody(t, fields, nil)
	r := f.do(t, hc, http.MethodPost, "/build", ct, body, nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("POST /build with the filled-in repositories: %d\n%s", r.status, r.body)
	}
	b, err := f.c.Get(context.Background(), strings.TrimPrefix(r.header.Get("Location"), "/builds/"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(tasks.StandardRepos("41", "x86_64"), b.Spec.Boot.Repos); d != "" {
		t.Errorf("submitted repositories (-want +got):\n%s", d)
	}
}
