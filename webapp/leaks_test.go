package webapp_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/webapp/apiclient"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// TestFieldLimits submits fields past their limits through the JSON API,
// the form and /rest: each is refused with a field error that does not
// quote the value, and nothing is queued. The 100 KB mail address is the
// one that once became a 100,006-character To: header.
func TestFieldLimits(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	huge := strings.Repeat("a", 100_000) + "@example.org"
	tok := f.token(t, auth.User{Name: "alice", CanSubmit: true})
	ks := map[string]string{"k.ks": "text\n"}
	for _, tc := range []struct {
		name, field string
		mod         func(*tasks.Spec)
	}{
		{"100 KB email", "spec.email", func(s *tasks.Spec) { s.Email = huge }},
		{"255-character email", "spec.email", func(s *tasks.Spec) { s.Email = strings.Repeat("a", 243) + "@example.org" }},
		{"cmdline", "spec.ksiso.cmdline", func(s *tasks.Spec) { s.KSISO.Cmdline = strings.Repeat("x", tasks.MaxCmdline+1) }},
		{"staging", "spec.staging", func(s *tasks.Spec) { s.Staging += "/" + strings.Repeat("d", tasks.MaxURL) }},
		{"packages", "spec.nvrs", func(s *tasks.Spec) {
			for range tasks.MaxPackages + 1 {
				s.NVRs = append(s.NVRs, "wget-1.24.5-1.fc41")
			}
		}},
		{"iso", "spec.ksiso.iso", func(s *tasks.Spec) { s.KSISO.ISO = strings.Repeat("i", tasks.MaxURL) + ".iso" }},
		{"volid", "spec.ksiso.volid", func(s *tasks.Spec) { s.KSISO.VolID = strings.Repeat("v", tasks.MaxName+1) }},
		{"add", "spec.ksiso.add", func(s *tasks.Spec) {
			for i := range tasks.MaxAdd + 1 {
				s.KSISO.Add = append(s.KSISO.Add, fmt.Sprintf("f%d", i))
			}
		}},
		{"replace", "spec.ksiso.replace", func(s *tasks.Spec) {
			s.KSISO.Replace = []tasks.Replace{{From: "quiet", To: strings.Repeat("r", tasks.MaxName+1)}}
		}},
	} {
		sp := f.ksisoSpec("k.ks")
		tc.mod(&sp)
		r := f.postJSON(t, "/api/v1/builds", apiclient.SubmitRequest{Spec: sp, Kickstarts: ks}, bearer(tok))
		if r.status != 422 {
			t.Errorf("%s: %d, want 422", tc.name, r.status)
			continue
		}
		if e := r.apiError(t); e.Field != tc.field || !strings.Contains(e.Message, "at most") || len(r.body) > 500 {
			t.Errorf("%s: %.300s", tc.name, r.body)
		}
	}

	// The form: a field over 64 KB is refused as too large before it is
	// read whole; below that, the field's own limit.
	hc := f.browser(t)
	csrf := csrfOf(t, f.do(t, hc, http.MethodGet, "/build", "", nil, nil).body)
	for _, tc := range []struct {
		email  string
		status int
		want   string
	}{{huge, 413, "over 65536 bytes"}, {strings.Repeat("c", 300) + "@example.org", 422, "at most 254"}} {
		fields := f.formFields(csrf)
		fields["email"] = tc.email
		ct, body := multipartBody(t, fields, uploads(t))
		r := f.do(t, hc, http.MethodPost, "/build", ct, body, nil)
		m := regexp.MustCompile(`<p class="(?:err|flash bad)" id="(?:err-email|error-message)">([^<]*)</p>`).FindSubmatch(r.body)
		if r.status != tc.status || m == nil || !strings.Contains(string(m[1]), tc.want) || strings.Contains(string(m[1]), "cccccccccc") {
			t.Errorf("form with a %d-character email: %d %q\n%.2000s", len(tc.email), r.status, m, r.body)
		}
	}

	// /rest, the original service's endpoint.
	ini := "[DEFAULT]\ntype=ksiso\narch=x86_64\nrelease=41\nstaging=" + f.staging + "\nemail=" + strings.Repeat("b", 300) + "@example.org\n[ksiso]\niso=boot.iso\nconfig=k.ks\n"
	ksText := ks["k.ks"]
	r := f.postJSON(t, "/rest", apiclient.RestRequest{Config: ini, KSFName: "k.ks", KS: &ksText}, bearer(tok))
	if r.status != 422 || !strings.Contains(string(r.body), "at most 254") || strings.Contains(string(r.body), strings.Repeat("b", 300)) {
		t.Errorf("/rest with a 312-character email: %d %.300s", r.status, r.body)
	}
	if n, recs := f.queued(t); n != 0 || recs != 0 {
		t.Errorf("%d tasks, %d records after refused submissions", n, recs)
	}

	// List filters: search text and owner names are bounded too.
	for _, q := range []string{"q=" + strings.Repeat("q", 201), "owner=" + strings.Repeat("o", 257), "owner=" + urlq("a b")} {
		if r := f.get(t, "/api/v1/builds?"+q, bearer(tok)); r.status != 422 || len(r.body) > 300 {
			t.Errorf("list with %.20s...: %d %.300s", q, r.status, r.body)
		}
	}
}

// TestFlashShowsOnlyServerMessages: ?flash= on the dashboard names one of
// the server's messages; text in it is never shown.
func TestFlashShowsOnlyServerMessages(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	const id = "01JBXK3M0000000000000000AA"
	for _, tc := range []struct {
		query, want, never string
	}{
		{"flash=" + urlq("Your account is suspended: call +1 555 0100"), "", "suspended"},
		{"flash=" + urlq("<b>x</b>"), "", "&lt;b&gt;"},
		{"flash=cancelled&id=" + id, "Build " + id + " cancelled.", ""},
		{"flash=cancelled&id=" + urlq("x. Your account is suspended"), "Build cancelled.", "suspended"},
	} {
		r := f.get(t, "/builds?"+tc.query, nil)
		if r.status != 200 {
			t.Errorf("%s: %d", tc.query, r.status)
			continue
		}
		flash := regexp.MustCompile(`<p class="flash">([^<]*)</p>`).FindSubmatch(r.body)
		switch {
		case tc.want == "" && flash != nil:
			t.Errorf("%s: flash %q shown", tc.query, flash[1])
		case tc.want != "" && (flash == nil || string(flash[1]) != tc.want):
			t.Errorf("%s: flash %q, want %q", tc.query, flash, tc.want)
		}
		if tc.never != "" && strings.Contains(string(r.body), tc.never) {
			t.Errorf("%s: page shows %q", tc.query, tc.never)
		}
	}
	// Cancelling on the dashboard comes back with the server's message.
	tok := f.token(t, auth.User{Name: "local", CanSubmit: true, Admin: true})
	r := f.postJSON(t, "/api/v1/builds", apiclient.SubmitRequest{Spec: f.ksisoSpec("k.ks"), Kickstarts: map[string]string{"k.ks": "text\n"}}, bearer(tok))
	var sub apiclient.SubmitResponse
	if err := json.Unmarshal(r.body, &sub); err != nil || r.status != 201 {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	hc := f.browser(t)
	csrf := csrfOf(t, f.do(t, hc, http.MethodGet, "/builds", "", nil, nil).body)
	r = f.do(t, hc, http.MethodPost, "/builds/"+sub.Build.ID+"/cancel", "application/x-www-form-urlencoded", strings.NewReader("csrf="+urlq(csrf)), nil)
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther || loc != "/builds?flash=cancelled&id="+sub.Build.ID {
		t.Fatalf("cancel: %d %s", r.status, loc)
	}
	contains(t, f.do(t, hc, http.MethodGet, loc, "", nil, nil).body, `<p class="flash">Build `+sub.Build.ID+` cancelled.</p>`)
}

// TestCallbackErrorText: /callback?error= is anyone's link, so the page
// shows a fixed message, with the error code only if it is a registered
// OAuth one, and never error_description.
func TestCallbackErrorText(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) { c.OIDC = testOIDC(t) })
	for _, tc := range []struct {
		query, want string
		never       []string
	}{
		{"error=access_denied&error_description=" + urlq("Your account is locked, call +1 555 0100"),
			"the identity provider refused it (access_denied)", []string{"locked", "0100"}},
		{"error=" + urlq("Your account is locked, call +1 555 0100"), "the identity provider refused it", []string{"locked", "0100"}},
		{"error=login_required", "(login_required)", nil},
		{"error=" + urlq("<script>alert(1)</script>"), "the identity provider refused it", []string{"script", "alert"}},
	} {
		r := f.get(t, "/callback?"+tc.query, nil)
		if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s: %d, want a page with %q\n%s", tc.query, r.status, tc.want, r.body)
		}
		for _, n := range tc.never {
			if strings.Contains(string(r.body), n) {
				t.Errorf("%s: page shows %q", tc.query, n)
			}
		}
	}
}
