package webapp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/testing/oidctest"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/webapp/apiclient"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

var newTokenRE = regexp.MustCompile(`<code class="token" id="new-token">(fbs_[a-z0-9]+)</code>`)

// createToken makes a token on the account page of signed-in browser hc
// with form values extra, and returns the answer and the token ("" if
// none was made).
func createToken(t *testing.T, f *fixture, hc *http.Client, extra string) (resp, string) {
	t.Helper()
	csrf := csrfOf(t, f.do(t, hc, http.MethodGet, "/account", "", nil, nil).body)
	r := f.do(t, hc, http.MethodPost, "/account", "application/x-www-form-urlencoded",
		strings.NewReader("action=create&name=cli&csrf="+urlq(csrf)+extra), nil)
	if m := newTokenRE.FindSubmatch(r.body); m != nil {
		return r, string(m[1])
	}
	return r, ""
}

// TestTokenRightsFollowSignIn: a token acts with its user's rights as of
// their latest sign-in. Alice, an admin, makes a token and lists Bob's
// builds with it; taken out of the admin group, she signs in again and the
// same token no longer lists or resubmits them.
func TestTokenRightsFollowSignIn(t *testing.T) {
	t.Parallel()
	p := oidctest.Start(t)
	f := setup(t, func(c *webapp.Config) {
		c.OIDC = webapp.OIDC{Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			Scopes: []string{"profile", "email", "groups"}, SubmitGroup: "packager", AdminGroup: "fbs-admin"}
	})
	bt := f.token(t, auth.User{Name: "bob", CanSubmit: true})
	r := f.postJSON(t, "/api/v1/builds", apiclient.SubmitRequest{Spec: f.ksisoSpec("k.ks"), Kickstarts: map[string]string{"k.ks": "text\n"}}, bearer(bt))
	var sub apiclient.SubmitResponse
	if err := json.Unmarshal(r.body, &sub); err != nil || r.status != 201 {
		t.Fatalf("bob's submission: %d %s", r.status, r.body)
	}

	p.QueueUser(oidctest.User{Subject: "1", Username: "alice", Email: "alice@example.org", Groups: []string{"packager", "fbs-admin"}})
	hc, _ := signIn(t, f, "/account")
	_, at := createToken(t, f, hc, "")
	if at == "" {
		t.Fatal("no token made")
	}
	if r := f.get(t, "/api/v1/builds?owner=bob", bearer(at)); r.status != 200 || !strings.Contains(string(r.body), sub.Build.ID) {
		t.Fatalf("admin lists bob's builds: %d %s", r.status, r.body)
	}

	// Out of the admin group, signed in again (another browser).
	p.QueueUser(oidctest.User{Subject: "1", Username: "alice", Email: "alice@example.org", Groups: []string{"packager"}})
	signIn(t, f, "/account")
	// The first browser's session acts with the latest sign-in's rights too.
	if r := f.do(t, hc, http.MethodGet, "/api/v1/builds?owner=bob", "", nil, nil); r.status != 403 {
		t.Errorf("former admin's older session lists bob's builds: %d", r.status)
	}
	if r := f.get(t, "/api/v1/builds?owner=bob", bearer(at)); r.status != 403 || r.apiError(t).Code != webapp.CodeForbidden {
		t.Errorf("former admin's old token lists bob's builds: %d %s", r.status, r.body)
	}
	// With private visibility (the default) bob's build is missing to her.
	if r := f.do(t, nil, http.MethodPost, "/api/v1/builds/"+sub.Build.ID+"/resubmit", "", nil, bearer(at)); r.status != 404 {
		t.Errorf("former admin's old token resubmits bob's build: %d %s", r.status, r.body)
	}
	if r := f.get(t, "/api/v1/builds", bearer(at)); r.status != 200 || strings.Contains(string(r.body), sub.Build.ID) {
		t.Errorf("former admin's own list: %d %s", r.status, r.body)
	}

	// Out of the submit group too: the token no longer submits.
	p.QueueUser(oidctest.User{Subject: "1", Username: "alice", Email: "alice@example.org", Groups: []string{"other"}})
	signIn(t, f, "/account")
	r = f.postJSON(t, "/api/v1/builds", apiclient.SubmitRequest{Spec: f.ksisoSpec("k.ks"), Kickstarts: map[string]string{"k.ks": "text\n"}}, bearer(at))
	if r.status != 403 {
		t.Errorf("token of a user out of the submit group submits: %d %s", r.status, r.body)
	}
}

// TestAdminRevokesUserTokens: an admin revokes every token of Bob, by the
// API and on the account page; Bob's tokens answer 401 at once, others'
// keep working, and nobody else may do it.
func TestAdminRevokesUserTokens(t *testing.T) {
	t.Parallel()
	p := oidctest.Start(t)
	f := setup(t, func(c *webapp.Config) {
		c.OIDC = webapp.OIDC{Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			Scopes: []string{"profile", "email", "groups"}, AdminGroup: "fbs-admin"}
	})
	admin := f.token(t, auth.User{Name: "root", Admin: true, CanSubmit: true})
	bob := auth.User{Name: "bob", CanSubmit: true}
	bobs := []string{f.token(t, bob), f.token(t, bob)}
	carol := f.token(t, auth.User{Name: "carol", CanSubmit: true})
	for _, tok := range append(bobs, carol) {
		if r := f.get(t, "/api/v1/builds", bearer(tok)); r.status != 200 {
			t.Fatalf("token before revocation: %d", r.status)
		}
	}
	for _, pc := range []postCall{
		{"not an admin", carol, "/api/v1/users/bob/tokens/revoke", 403, webapp.CodeForbidden},
		{"no token", "", "/api/v1/users/bob/tokens/revoke", 401, webapp.CodeUnauthenticated},
		{"bad name", admin, "/api/v1/users/b%20ob/tokens/revoke", 422, webapp.CodeInvalid},
	} {
		pc.check(t, f)
	}
	r, ok := postCall{"admin", admin, "/api/v1/users/bob/tokens/revoke", 200, ""}.check(t, f)
	var got apiclient.RevokedTokens
	if err := json.Unmarshal(r.body, &got); ok && (err != nil || got != (apiclient.RevokedTokens{User: "bob", Revoked: 2})) {
		t.Errorf("admin revokes bob's tokens: %s (%v)", r.body, err)
	}
	for _, tok := range bobs {
		if r := f.get(t, "/api/v1/builds", bearer(tok)); r.status != 401 || r.apiError(t).Code != webapp.CodeTokenRevoked {
			t.Errorf("bob's token after revocation: %d %s", r.status, r.body)
		}
	}
	if r := f.get(t, "/api/v1/builds", bearer(carol)); r.status != 200 {
		t.Errorf("carol's token after bob's revocation: %d", r.status)
	}

	// On the account page: the control is an admin's only.
	p.QueueUser(oidctest.User{Subject: "9", Username: "dave", Email: "d@example.org"})
	dc, _ := signIn(t, f, "/account")
	page := f.do(t, dc, http.MethodGet, "/account", "", nil, nil)
	if strings.Contains(string(page.body), `value="revoke-user"`) {
		t.Error("account page of a non-admin shows the revoke-user control")
	}
	r = f.do(t, dc, http.MethodPost, "/account", "application/x-www-form-urlencoded",
		strings.NewReader("action=revoke-user&user=carol&csrf="+urlq(csrfOf(t, page.body))), nil)
	if r.status != 403 {
		t.Errorf("non-admin revokes carol's tokens on the account page: %d", r.status)
	}
	p.QueueUser(oidctest.User{Subject: "0", Username: "root", Email: "r@example.org", Groups: []string{"fbs-admin"}})
	ac, _ := signIn(t, f, "/account")
	page = f.do(t, ac, http.MethodGet, "/account", "", nil, nil)
	contains(t, page.body, `value="revoke-user"`)
	r = f.do(t, ac, http.MethodPost, "/account", "application/x-www-form-urlencoded",
		strings.NewReader("action=revoke-user&user=carol&csrf="+urlq(csrfOf(t, page.body))), nil)
	if r.status != 200 {
		t.Fatalf("admin revokes carol's tokens on the account page: %d\n%s", r.status, r.body)
	}
	contains(t, r.body, "Revoked 1 tokens of carol.")
	if r := f.get(t, "/api/v1/builds", bearer(carol)); r.status != 401 || r.apiError(t).Code != webapp.CodeTokenRevoked {
		t.Errorf("carol's token after revocation on the page: %d %s", r.status, r.body)
	}
}

// TestTokenExpiry: every token expires, after 90 days unless its maker
// asks for fewer, never after more than the maximum; "0" (once "never")
// and more than the maximum are refused with a field error.
func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	for _, tc := range []struct {
		name     string
		max      time.Duration // [web] token_max_days; 0: default
		days     string        // the form's field; "" to leave it empty
		status   int
		lifetime time.Duration
	}{
		{"default", 0, "", 200, 90 * day},
		{"seven days", 0, "7", 200, 7 * day},
		{"the maximum", 0, "365", 200, 365 * day},
		{"zero", 0, "0", 422, 0},
		{"over the maximum", 0, "366", 422, 0},
		{"not a number", 0, "ever", 422, 0},
		{"default under a lower maximum", 30 * day, "", 200, 30 * day},
		{"over a lower maximum", 30 * day, "31", 422, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, func(c *webapp.Config) { c.OIDC = testOIDC(t); c.MaxTokenLifetime = tc.max })
			hc, _ := signIn(t, f, "/account")
			extra := ""
			if tc.days != "" {
				extra = "&days=" + urlq(tc.days)
			}
			r, tok := createToken(t, f, hc, extra)
			if r.status != tc.status || (tok != "") != (tc.status == 200) {
				t.Fatalf("create with days=%q: %d, token %q\n%s", tc.days, r.status, tok, r.body)
			}
			if tc.status != 200 {
				contains(t, r.body, "days: want 1 to ")
				return
			}
			info, err := auth.NewTokens(f.rdb, auth.TokenOptions{}).Verify(context.Background(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Expires.Sub(info.Created); got != tc.lifetime {
				t.Errorf("lifetime %s, want %s", got, tc.lifetime)
			}
		})
	}
}
