package webapp_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/testing/oidctest"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/webapp/apiclient"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// testOIDC starts an identity provider and returns the web app's settings
// for it.
func testOIDC(t testing.TB) webapp.OIDC {
	t.Helper()
	p := oidctest.Start(t)
	return webapp.OIDC{Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
		Scopes: []string{"profile", "email", "groups"}}
}

func TestCheckListen(t *testing.T) {
	t.Parallel()
	oidc := webapp.Config{OIDC: webapp.OIDC{Issuer: "https://id.example.org"}}
	tests := []struct {
		addr string
		cfg  webapp.Config
		ok   bool
	}{
		{"127.0.0.1:5000", webapp.Config{}, true},
		{"[::1]:5000", webapp.Config{}, true},
		{"localhost:5000", webapp.Config{}, true},
		{":5000", webapp.Config{}, false},
		{"0.0.0.0:5000", webapp.Config{}, false},
		{"192.0.2.7:5000", webapp.Config{}, false},
		{"fbs.example.org:80", webapp.Config{}, false},
		{"nonsense", webapp.Config{}, false},
		{":5000", oidc, true},
		{"0.0.0.0:443", oidc, true},
	}
	for _, tc := range tests {
		err := webapp.CheckListen(tc.addr, tc.cfg)
		if (err == nil) != tc.ok {
			t.Errorf("CheckListen(%q, oidc=%v) = %v, want ok=%v", tc.addr, tc.cfg.OIDC.Enabled(), err, tc.ok)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	tests := []struct {
		name string
		cfg  webapp.Config
		want string
	}{
		{"no releases", webapp.Config{}, "no releases"},
		{"bad release", webapp.Config{Releases: []string{"f41"}}, `release "f41"`},
		{"bad public URL", webapp.Config{Releases: []string{"41"}, PublicURL: "fbs.example.org"}, "public URL"},
		{"OIDC without client", webapp.Config{Releases: []string{"41"}, OIDC: webapp.OIDC{Issuer: "https://id.example.org"}}, "client ID"},
		{"OIDC without secret", webapp.Config{Releases: []string{"41"}, OIDC: webapp.OIDC{Issuer: "https://id.example.org", ClientID: "fbs"}}, "client secret"},
		{"OIDC secret file missing", webapp.Config{Releases: []string{"41"}, OIDC: webapp.OIDC{Issuer: "https://id.example.org", ClientID: "fbs", ClientSecretFile: "/nonexistent/secret"}}, "client secret"},
		{"OIDC over plain http", webapp.Config{Releases: []string{"41"}, PublicURL: "http://fbs.example.org", OIDC: webapp.OIDC{Issuer: "https://id.example.org", ClientID: "fbs", ClientSecret: "s"}}, "must be https"},
		{"short window", webapp.Config{Releases: []string{"41"}, SubmitWindow: time.Millisecond}, "submit window"},
	}
	for _, tc := range tests {
		_, err := webapp.New(f.c, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if _, err := webapp.New(f.c, webapp.Config{Releases: []string{"41"}}); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) { c.OIDC = testOIDC(t) })
	ctx := context.Background()
	alice := auth.User{Name: "alice", CanSubmit: true}
	good := f.token(t, alice)
	// A token created two days ago for one day has expired.
	expired, _, err := auth.NewTokens(f.rdb, auth.TokenOptions{Now: func() time.Time { return time.Now().Add(-48 * time.Hour) }}).Create(ctx, alice, "old", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	revoked, info, err := auth.NewTokens(f.rdb, auth.TokenOptions{}).Create(ctx, alice, "gone", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.NewTokens(f.rdb, auth.TokenOptions{}).Revoke(ctx, "alice", info.ID); err != nil {
		t.Fatal(err)
	}
	if err := auth.NewTokens(f.rdb, auth.TokenOptions{}).Revoke(ctx, "bob", info.ID); err != auth.ErrUnknownToken {
		t.Errorf("bob revoking alice's token: %v", err)
	}
	tests := []struct {
		name   string
		hdr    map[string]string
		status int
		code   string
	}{
		{"missing", nil, 401, webapp.CodeUnauthenticated},
		{"not bearer", map[string]string{"Authorization": "Basic YWxpY2U6eA=="}, 401, webapp.CodeBadToken},
		{"unknown", bearer("fbs_notatokenatall"), 401, webapp.CodeBadToken},
		{"garbage", bearer("hello"), 401, webapp.CodeBadToken},
		{"expired", bearer(expired), 401, webapp.CodeTokenExpired},
		{"revoked", bearer(revoked), 401, webapp.CodeTokenRevoked},
		{"good", bearer(good), 200, ""},
	}
	for _, tc := range tests {
		r := f.get(t, "/api/v1/releases", tc.hdr)
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, r.status, tc.status)
			continue
		}
		if tc.code != "" {
			if e := r.apiError(t); e.Code != tc.code || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: %+v, WWW-Authenticate %q", tc.name, e, r.header.Get("WWW-Authenticate"))
			}
		}
		// Nothing is submitted with a bad token either.
		if tc.status != 200 {
			req := apiclient.SubmitRequest{Spec: f.ksisoSpec("k.ks"), Kickstarts: map[string]string{"k.ks": "text\n"}}
			if r := f.postJSON(t, "/api/v1/builds", req, tc.hdr); r.status != tc.status {
				t.Errorf("%s: submit status %d", tc.name, r.status)
			}
		}
	}
	if n, recs := f.queued(t); n != 0 || recs != 0 {
		t.Errorf("%d tasks, %d records after refused submissions", n, recs)
	}
	// Only the hash is stored.
	keys, err := f.rdb.Keys(ctx, "fbs:web:token*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		v, _ := f.rdb.Dump(ctx, k).Result()
		if strings.Contains(k, good) || strings.Contains(v, good) {
			t.Errorf("token stored in clear in %s", k)
		}
	}
}

// signIn goes through the authorization code flow with a cookie-jar
// client and returns it, signed in.
func signIn(t *testing.T, f *fixture, next string) (*http.Client, string) {
	t.Helper()
	hc := f.browser(t)
	r := f.do(t, hc, http.MethodGet, next, "", nil, nil)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login?next=") {
		t.Fatalf("anonymous %s: %d %s", next, r.status, r.header.Get("Location"))
	}
	loc := r.header.Get("Location")
	for i := 0; i < 5 && !strings.HasPrefix(loc, f.ts.URL+next) && loc != next; i++ {
		if strings.HasPrefix(loc, "/") {
			loc = f.ts.URL + loc
		}
		res, err := hc.Get(loc)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode/100 != 3 {
			t.Fatalf("sign-in step %s: %d", loc, res.StatusCode)
		}
		loc = res.Header.Get("Location")
	}
	if loc != next {
		t.Fatalf("sign-in ended at %s, want %s", loc, next)
	}
	return hc, loc
}

func TestOIDCSignIn(t *testing.T) {
	t.Parallel()
	p := oidctest.Start(t)
	f := setup(t, func(c *webapp.Config) {
		c.OIDC = webapp.OIDC{Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			Scopes: []string{"profile", "email", "groups"}, SubmitGroup: "packager", AdminGroup: "fbs-admin"}
	})
	p.QueueUser(oidctest.User{Subject: "1", Username: "alice", Email: "alice@example.org", Groups: []string{"packager"}})
	hc, _ := signIn(t, f, "/build")
	r := f.do(t, hc, http.MethodGet, "/build", "", nil, nil)
	if r.status != 200 {
		t.Fatalf("form after sign-in: %d", r.status)
	}
	contains(t, r.body, `value="alice@example.org"`, ">alice</a>")
	for _, ck := range hc.Jar.Cookies(mustURL(t, f.ts.URL)) {
		if ck.Name == "fbs_session" && len(ck.Value) < 40 {
			t.Errorf("session cookie too short: %q", ck.Value)
		}
	}
	// API calls with the session need the CSRF header.
	body := `{"spec":{"type":"ksiso"}}`
	r = f.do(t, hc, http.MethodPost, "/api/v1/builds", "application/json", strings.NewReader(body), nil)
	if e := r.apiError(t); r.status != 403 || e.Code != webapp.CodeCSRF {
		t.Errorf("session API post without CSRF: %d %+v", r.status, e)
	}
	// Sign out ends the session server-side.
	tok := csrfOf(t, f.do(t, hc, http.MethodGet, "/account", "", nil, nil).body)
	r = f.do(t, hc, http.MethodPost, "/logout", "application/x-www-form-urlencoded", strings.NewReader("csrf="+url.QueryEscape(tok)), nil)
	if r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if r := f.do(t, hc, http.MethodGet, "/build", "", nil, nil); r.status != http.StatusSeeOther {
		t.Errorf("form after sign-out: %d", r.status)
	}

	// Someone outside the submit group signs in but may not submit.
	p.QueueUser(oidctest.User{Subject: "2", Username: "mallory", Email: "m@example.org", Groups: []string{"other"}})
	mc, _ := signIn(t, f, "/build")
	page := f.do(t, mc, http.MethodGet, "/build", "", nil, nil)
	ct, mp := multipartBody(t, map[string]string{"csrf": csrfOf(t, page.body), "type": "ksiso", "arch": "x86_64",
		"release": "41", "staging": f.staging, "ks_source": "standard", "ks_standard": "x", "ksiso_iso": "b.iso"}, nil)
	r = f.do(t, mc, http.MethodPost, "/build", ct, mp, nil)
	if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "not in the group") {
		t.Errorf("submit outside group: %d\n%s", r.status, r.body)
	}
	if n, recs := f.queued(t); n != 0 || recs != 0 {
		t.Errorf("%d tasks, %d records", n, recs)
	}
}

func TestOIDCCallbackRefusals(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) { c.OIDC = testOIDC(t) })
	hc := f.browser(t)
	tests := []struct{ name, path, want string }{
		{"no state", "/callback?code=x", "not started by this browser"},
		{"forged state", "/callback?code=x&state=abc", "not started by this browser"},
		{"provider error", "/callback?error=access_denied&error_description=no", "access_denied"},
	}
	for _, tc := range tests {
		r := f.do(t, hc, http.MethodGet, tc.path, "", nil, nil)
		if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s: %d\n%s", tc.name, r.status, r.body)
		}
	}
	// A state cookie whose state was never issued (or was used) fails too.
	u := mustURL(t, f.ts.URL)
	hc.Jar.SetCookies(u, []*http.Cookie{{Name: "fbs_oidc_state", Value: "abc", Path: "/"}})
	if r := f.do(t, hc, http.MethodGet, "/callback?code=x&state=abc", "", nil, nil); r.status != 401 || !strings.Contains(string(r.body), "start again") {
		t.Errorf("unknown state: %d %s", r.status, r.body)
	}
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
