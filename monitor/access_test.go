package monitor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/jordan-wright/email"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/monitor/notify"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/testing/browsertest"
	"github.com/fedora-fbs/fbs/testing/oidctest"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// site is what `fbs web` and `fbs monitor` serve over one real Redis with
// OIDC sign-in: the web app with the monitor's routes on one engine (as
// `fbs web` mounts them), and the monitor on its own listener (`fbs
// monitor`), each with its own Identifier and link store, as separate
// processes have.
type site struct {
	rdb      *redis.Client
	store    *builds.Store
	idp      *oidctest.Provider
	web, mon *httptest.Server
	links    *auth.Links
	quiet    *slog.Logger
	// alice's build (email, staging with a user part) and bob's.
	alices, bobs *tasks.Build
}

func newSite(t *testing.T, vis tasks.Visibility) *site {
	t.Helper()
	rdb := redistest.Start(t).Client()
	s := &site{rdb: rdb, store: builds.NewStore(rdb), idp: oidctest.Start(t),
		quiet: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.links = auth.NewLinks(rdb, time.Hour, nil)

	c := client.New(rdb, client.Config{})
	t.Cleanup(func() { c.Close() })
	s.web = httptest.NewUnstartedServer(nil)
	ident := webapp.NewIdentifier(rdb, webapp.IdentifierConfig{})
	app, err := webapp.New(c, webapp.Config{
		PublicURL: "http://" + s.web.Listener.Addr().String(), Releases: []string{"41"},
		OIDC: webapp.OIDC{Issuer: s.idp.Issuer, ClientID: s.idp.ClientID, ClientSecret: s.idp.ClientSecret,
			Scopes: []string{"profile", "email", "groups"}, AdminGroup: "fbs-admin"},
		Identifier: ident, Logger: s.quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	webMon, err := monitor.New(rdb, monitor.Config{Visibility: vis, Identifier: ident, Links: s.links, Logger: s.quiet})
	if err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	app.Register(e)
	webMon.Register(e)
	s.web.Config.Handler = e
	s.web.Start()

	alone, err := monitor.New(rdb, monitor.Config{Visibility: vis, Logger: s.quiet,
		Identifier: webapp.NewIdentifier(rdb, webapp.IdentifierConfig{}), Links: auth.NewLinks(rdb, time.Hour, nil)})
	if err != nil {
		t.Fatal(err)
	}
	s.mon = httptest.NewServer(alone.Handler())
	t.Cleanup(func() {
		s.web.Close()
		s.mon.Close()
		webMon.Close()
		alone.Close()
	})

	s.alices = s.build(t, "alice", "alice@example.org", "sftp://alice-stage@stage.example.org/srv/x")
	s.bobs = s.build(t, "bob", "bob@example.org", "file:///srv/staging/bob")
	return s
}

// build stores a finished build of owner with a log.
func (s *site) build(t *testing.T, owner, mail, staging string) *tasks.Build {
	t.Helper()
	ctx := context.Background()
	id := tasks.NewBuildID()
	b := &tasks.Build{ID: id, Owner: owner, TaskID: id, State: tasks.StateQueued, Queue: tasks.QueueName("x86_64", "41"),
		Spec:    tasks.Spec{Type: tasks.TypeLive, Arch: "x86_64", Release: "41", Staging: staging, Email: mail},
		Created: time.Now().UTC().Truncate(time.Millisecond)}
	if err := s.store.Create(ctx, b, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	b, err := s.store.Update(ctx, id, func(b *tasks.Build) error {
		b.State, b.Worker, b.Started, b.Finished = tasks.StateSucceeded, "builder1", b.Created, b.Created.Add(time.Minute)
		b.Staged = strings.TrimRight(staging, "/") + "/" + id
		b.Artifacts = []tasks.Artifact{{Name: "live.iso", Size: 1, URL: b.Staged + "/live.iso"}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.AppendLog(ctx, id, []builds.LogLine{{N: 1, Text: "log line of " + owner}}, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.store.EndLog(ctx, id, tasks.StateSucceeded); err != nil {
		t.Fatal(err)
	}
	return b
}

// signIn signs user in at the web app through the OIDC provider and
// returns a client holding the session cookie. The cookie is the web
// host's; the monitor on the same host name (another port) receives it too.
func (s *site) signIn(t *testing.T, u oidctest.User) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	s.idp.QueueUser(u)
	res, err := hc.Get(s.web.URL + "/login?next=/account")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Request.URL.Path != "/account" {
		t.Fatalf("sign-in of %s ended at %s with %d", u.Username, res.Request.URL, res.StatusCode)
	}
	return hc
}

var (
	alice = oidctest.User{Subject: "1", Username: "alice", Email: "alice@example.org"}
	bob   = oidctest.User{Subject: "2", Username: "bob", Email: "bob@example.org"}
	root  = oidctest.User{Subject: "3", Username: "root", Email: "root@example.org", Groups: []string{"fbs-admin"}}
)

type answer struct {
	status int
	body   string
	header http.Header
}

func fetch(t *testing.T, hc *http.Client, method, u string, header ...string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	hc2 := *hc
	hc2.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := hc2.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	// A stream of a finished build ends by itself; read what it sends.
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return answer{res.StatusCode, string(body), res.Header}
}

// routes are a build's read routes; link says whether a mailed link
// opens it.
var routes = []struct {
	name, path string
	link       bool
}{
	{"page", "/builds/%s", true},
	{"log", "/builds/%s/log", true},
	{"stream", "/builds/%s/log/stream", true},
	{"record", "/api/v1/builds/%s", false},
}

func path(p, id string) string { return strings.Replace(p, "%s", id, 1) }

// TestPrivateBuilds checks who may read a build with private visibility,
// on both listeners: its owner and admins, through a session cookie or an
// API token; nobody else, who gets the very answer of a missing build.
func TestPrivateBuilds(t *testing.T) {
	t.Parallel()
	s := newSite(t, tasks.VisibilityPrivate)
	clients := map[string]*http.Client{
		"anonymous": nil, "bob": s.signIn(t, bob), "alice": s.signIn(t, alice), "admin": s.signIn(t, root),
	}
	tok, _, err := auth.NewTokens(s.rdb, auth.TokenOptions{}).Create(context.Background(), auth.User{Name: "bob"}, "cli", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	aliceTok, _, err := auth.NewTokens(s.rdb, auth.TokenOptions{}).Create(context.Background(), auth.User{Name: "alice"}, "cli", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	missing := tasks.NewBuildID()
	for _, srv := range []struct {
		name string
		url  string
	}{{"fbs web", s.web.URL}, {"fbs monitor", s.mon.URL}} {
		for _, rt := range routes {
			want404 := fetch(t, nil, "GET", srv.url+path(rt.path, missing))
			if want404.status != http.StatusNotFound {
				t.Fatalf("%s %s of a missing build: %d", srv.name, rt.name, want404.status)
			}
			for who, hc := range clients {
				got := fetch(t, hc, "GET", srv.url+path(rt.path, s.alices.ID))
				switch who {
				case "alice", "admin":
					if got.status != http.StatusOK || !strings.Contains(got.body, "log line of alice") && rt.name != "record" {
						t.Errorf("%s: %s reading alice's %s: %d %.200q", srv.name, who, rt.name, got.status, got.body)
					}
				default:
					if got.status != want404.status || got.body != want404.body {
						t.Errorf("%s: %s reading alice's %s: %d %q, want the missing build's %d %q",
							srv.name, who, rt.name, got.status, got.body, want404.status, want404.body)
					}
				}
			}
			got := fetch(t, nil, "GET", srv.url+path(rt.path, s.alices.ID), "Authorization", "Bearer "+tok)
			if got.status != want404.status || got.body != want404.body {
				t.Errorf("%s: bob's token reading alice's %s: %d %q", srv.name, rt.name, got.status, got.body)
			}
			got = fetch(t, nil, "GET", srv.url+path(rt.path, s.alices.ID), "Authorization", "Bearer "+aliceTok)
			if got.status != http.StatusOK {
				t.Errorf("%s: alice's token reading her %s: %d %q", srv.name, rt.name, got.status, got.body)
			}
		}
		// The status: counts for everyone, recent builds the viewer's own
		// (all of them for admins).
		for who, want := range map[string][]string{"anonymous": nil, "bob": {s.bobs.ID}, "alice": {s.alices.ID}, "admin": {s.bobs.ID, s.alices.ID}} {
			got := fetch(t, clients[who], "GET", srv.url+"/api/v1/status")
			var st monitor.Status
			if err := json.Unmarshal([]byte(got.body), &st); err != nil || got.status != 200 {
				t.Fatalf("%s: status for %s: %d %v", srv.name, who, got.status, err)
			}
			var ids []string
			for _, b := range st.Recent {
				ids = append(ids, b.ID)
			}
			if strings.Join(ids, " ") != strings.Join(want, " ") || st.Builds[tasks.StateSucceeded] != 2 {
				t.Errorf("%s: status for %s lists %v (%d succeeded), want %v (2)", srv.name, who, ids, st.Builds[tasks.StateSucceeded], want)
			}
			page := fetch(t, clients[who], "GET", srv.url+"/status")
			other := s.alices.ID
			if who == "alice" {
				other = s.bobs.ID
			}
			if who != "admin" && strings.Contains(page.body, other) {
				t.Errorf("%s: status page for %s shows build %s", srv.name, who, other)
			}
		}
	}
}

// TestBuildLinks checks the links of mails: they open their build's page,
// log and stream without signing in, and nothing else; expired, revoked,
// tampered links and links to another build are answered like a missing
// build.
func TestBuildLinks(t *testing.T) {
	t.Parallel()
	s := newSite(t, tasks.VisibilityPrivate)
	ctx := context.Background()
	key, err := s.links.Mint(ctx, s.alices.ID)
	if err != nil {
		t.Fatal(err)
	}
	old, err := auth.NewLinks(s.rdb, time.Minute, func() time.Time { return time.Now().Add(-time.Hour) }).Mint(ctx, s.alices.ID)
	if err != nil {
		t.Fatal(err)
	}
	tampered := []byte(key)
	tampered[3] ^= 1
	if tampered[3] == '-' || tampered[3] == '_' { // stay base64url
		tampered[3] = 'A'
	}
	missing := tasks.NewBuildID()
	for _, srv := range []string{s.web.URL, s.mon.URL} {
		for _, rt := range routes {
			want404 := fetch(t, nil, "GET", srv+path(rt.path, missing)+"?key="+url.QueryEscape(key))
			got := fetch(t, nil, "GET", srv+path(rt.path, s.alices.ID)+"?key="+url.QueryEscape(key))
			if rt.link && (got.status != 200 || !strings.Contains(got.body, "log line of alice")) {
				t.Errorf("%s %s with a valid link: %d %.200q", srv, rt.name, got.status, got.body)
			}
			if !rt.link && (got.status != want404.status || got.body != want404.body) {
				t.Errorf("%s %s (the API) with a link: %d %q", srv, rt.name, got.status, got.body)
			}
			for name, u := range map[string]string{
				"expired":       path(rt.path, s.alices.ID) + "?key=" + url.QueryEscape(old),
				"tampered":      path(rt.path, s.alices.ID) + "?key=" + url.QueryEscape(string(tampered)),
				"another build": path(rt.path, s.bobs.ID) + "?key=" + url.QueryEscape(key),
			} {
				got := fetch(t, nil, "GET", srv+u)
				if got.status != want404.status || got.body != want404.body {
					t.Errorf("%s %s with an %s link: %d %q", srv, rt.name, name, got.status, got.body)
				}
			}
		}
		// The page's own links carry the key on, so its log link and live
		// stream work; but it offers no revocation to a link holder.
		page := fetch(t, nil, "GET", srv+"/builds/"+s.alices.ID+"?key="+url.QueryEscape(key))
		if !strings.Contains(page.body, "log?key="+url.QueryEscape(key)) || !strings.Contains(page.body, `log/stream?key=`) {
			t.Errorf("%s: page links lack the key:\n%s", srv, page.body)
		}
		if strings.Contains(page.body, "revoke-links") || strings.Contains(page.body, "alice@example.org") || strings.Contains(page.body, "alice-stage@") {
			t.Errorf("%s: page for a link holder shows the revoke form, email or staging user", srv)
		}
	}

	// The owner revokes the links from the build page (form with CSRF);
	// links issued since work.
	hc := s.signIn(t, alice)
	page := fetch(t, hc, "GET", s.web.URL+"/builds/"+s.alices.ID)
	m := regexp.MustCompile(`<form id="revoke-links" method="post" action="([^"]+)"><input type="hidden" name="csrf" value="([^"]+)">`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("owner's page has no revoke form:\n%s", page.body)
	}
	bobc := s.signIn(t, bob)
	if got := fetch(t, bobc, "POST", s.web.URL+"/api/v1/builds/"+s.alices.ID+"/links/revoke"); got.status != http.StatusNotFound {
		t.Errorf("bob revoking alice's links: %d %s", got.status, got.body)
	}
	if got := fetch(t, hc, "POST", s.web.URL+"/builds/"+s.alices.ID+"/links/revoke", "Content-Type", "application/x-www-form-urlencoded"); got.status != http.StatusForbidden {
		t.Errorf("revoke without CSRF token: %d %s", got.status, got.body)
	}
	if got := fetch(t, s.web.Client(), "GET", s.web.URL+"/builds/"+s.alices.ID+"?key="+url.QueryEscape(key)); got.status != 200 {
		t.Fatalf("link before revocation: %d", got.status)
	}
	form := url.Values{"csrf": {m[2]}}
	req, _ := http.NewRequest("POST", s.web.URL+"/builds/"+s.alices.ID+"/"+strings.TrimPrefix(m[1], s.alices.ID+"/"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Request.URL.Path != "/builds/"+s.alices.ID || !strings.Contains(string(body), `id="done"`) {
		t.Fatalf("revoke form: %d at %s:\n%s", res.StatusCode, res.Request.URL, body)
	}
	for _, srv := range []string{s.web.URL, s.mon.URL} {
		if got := fetch(t, nil, "GET", srv+"/builds/"+s.alices.ID+"?key="+url.QueryEscape(key)); got.status != http.StatusNotFound {
			t.Errorf("%s: revoked link: %d", srv, got.status)
		}
	}
	time.Sleep(2 * time.Millisecond) // a link is newer than the revocation by its millisecond
	fresh, err := s.links.Mint(ctx, s.alices.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, nil, "GET", s.mon.URL+"/builds/"+s.alices.ID+"/log?key="+url.QueryEscape(fresh)); got.status != 200 {
		t.Errorf("link minted after the revocation: %d", got.status)
	}
	// The API revokes too, with a token and no CSRF token.
	tok, _, err := auth.NewTokens(s.rdb, auth.TokenOptions{}).Create(ctx, auth.User{Name: "alice"}, "cli", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got := fetch(t, nil, "POST", s.mon.URL+"/api/v1/builds/"+s.alices.ID+"/links/revoke", "Authorization", "Bearer "+tok)
	if got.status != 200 || !strings.Contains(got.body, `"links_revoked":true`) {
		t.Errorf("API revoke: %d %s", got.status, got.body)
	}
	if got := fetch(t, nil, "GET", s.mon.URL+"/builds/"+s.alices.ID+"/log?key="+url.QueryEscape(fresh)); got.status != http.StatusNotFound {
		t.Errorf("link revoked through the API: %d", got.status)
	}
}

// TestPublicBuilds checks public visibility: anyone reads any build, but
// only its owner and admins see its email address and the user part of
// its staging URLs.
func TestPublicBuilds(t *testing.T) {
	t.Parallel()
	s := newSite(t, tasks.VisibilityPublic)
	clients := map[string]*http.Client{"anonymous": nil, "bob": s.signIn(t, bob), "alice": s.signIn(t, alice), "admin": s.signIn(t, root)}
	for _, srv := range []string{s.web.URL, s.mon.URL} {
		for who, hc := range clients {
			sees := who == "alice" || who == "admin"
			for _, p := range []string{"/builds/" + s.alices.ID, "/api/v1/builds/" + s.alices.ID, "/api/v1/status", "/status"} {
				got := fetch(t, hc, "GET", srv+p)
				if got.status != 200 || !strings.Contains(got.body, s.alices.ID) {
					t.Errorf("%s%s for %s: %d", srv, p, who, got.status)
					continue
				}
				for _, private := range []string{"alice@example.org", "alice-stage@"} {
					if shown := strings.Contains(got.body, private); shown != sees && !(p == "/status" && !shown) {
						t.Errorf("%s%s for %s: shows %q = %v, want %v", srv, p, who, private, shown, sees)
					}
				}
				if p != "/status" && !strings.Contains(got.body, "stage.example.org/srv/x/"+s.alices.ID) {
					t.Errorf("%s%s for %s lacks the staging host and path", srv, p, who)
				}
			}
		}
	}
}

// TestMailLinkWithoutSignIn sends a real completion mail (to the outbox)
// and follows its links without signing in: they open the build's page and
// log; without the key the same URLs are a missing build.
func TestMailLinkWithoutSignIn(t *testing.T) {
	t.Parallel()
	s := newSite(t, tasks.VisibilityPrivate)
	outbox := filepath.Join(t.TempDir(), "outbox")
	mail, err := notify.New(s.rdb, notify.Config{OutboxDir: outbox, PublicURL: s.mon.URL, Links: s.links,
		Logger: s.quiet, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := mail.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); mail.Shutdown() })
	q := asynq.NewClientFromRedisClient(s.rdb)
	defer q.Close()
	if err := client.EnqueueNotify(ctx, q, s.alices.ID, tasks.MailFinished); err != nil {
		t.Fatal(err)
	}
	var msgs []notify.Message
	for deadline := time.Now().Add(20 * time.Second); len(msgs) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no mail in the outbox")
		}
		time.Sleep(20 * time.Millisecond) // the outbox is a directory: poll it
		if msgs, err = notify.Outbox(outbox); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(filepath.Join(outbox, msgs[0].Name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e, err := email.NewEmailFromReader(f)
	if err != nil {
		t.Fatal(err)
	}
	links := regexp.MustCompile(`http://\S+/builds/`+s.alices.ID+`(/log)?\?key=[A-Za-z0-9_-]+`).FindAllString(string(e.Text), -1)
	if len(links) != 2 {
		t.Fatalf("mail links %q in:\n%s", links, e.Text)
	}
	for _, l := range links {
		if got := fetch(t, nil, "GET", l); got.status != 200 || !strings.Contains(got.body, "log line of alice") {
			t.Errorf("mail link %s without sign-in: %d", l, got.status)
		}
		bare, _, _ := strings.Cut(l, "?")
		if got := fetch(t, nil, "GET", bare); got.status != http.StatusNotFound {
			t.Errorf("%s without its key: %d", bare, got.status)
		}
	}
}

// TestBrowserMailedLinkAndRevoke opens a running build's page from a mailed
// link in a real headless Chromium, without signing in, and checks the log
// follows live through the link's key; then its owner signs in, revokes the
// links with the page's button, and the link no longer opens the page.
func TestBrowserMailedLinkAndRevoke(t *testing.T) {
	t.Parallel()
	s := newSite(t, tasks.VisibilityPrivate)
	ctx := context.Background()
	id := tasks.NewBuildID()
	b := &tasks.Build{ID: id, Owner: "alice", TaskID: id, State: tasks.StateQueued, Queue: tasks.QueueName("x86_64", "41"),
		Spec: tasks.Spec{Type: tasks.TypeLive, Arch: "x86_64", Release: "41", Staging: "file:///srv/x", Email: "alice@example.org"}}
	if err := s.store.Create(ctx, b, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.Update(ctx, id, func(b *tasks.Build) error {
		b.State, b.Started, b.Worker = tasks.StateRunning, time.Now(), "builder1"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.store.HoldLease(ctx, id, "builder1/7", time.Hour); err != nil {
		t.Fatal(err)
	}
	line := func(n int) builds.LogLine { return builds.LogLine{N: n, Text: fmt.Sprintf("line %d", n)} }
	if _, err := s.store.AppendLog(ctx, id, []builds.LogLine{line(1), line(2)}, 0); err != nil {
		t.Fatal(err)
	}
	key, err := s.links.Mint(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	linkURL := s.web.URL + "/builds/" + id + "?key=" + url.QueryEscape(key)

	br := browsertest.Start(t)
	if err := chromedp.Do(br.Ctx, chromedp.Navigate(linkURL)); err != nil {
		t.Fatal(err)
	}
	following := `document.getElementById("live-status").textContent.startsWith("Following")`
	if _, err := chromedp.Run(br.Ctx, chromedp.Poll[bool](following, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("the page opened by a link does not follow the log: %v", err)
	}
	if _, err := s.store.AppendLog(ctx, id, []builds.LogLine{line(3)}, 0); err != nil {
		t.Fatal(err)
	}
	last := `document.querySelector("#log .l:last-child").getAttribute("data-n") === "3"`
	if _, err := chromedp.Run(br.Ctx, chromedp.Poll[bool](last, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("a line appended later never showed through the link: %v", err)
	}
	if n, err := chromedp.Run(br.Ctx, chromedp.Evaluate[int](`document.querySelectorAll("#revoke-links").length`)); err != nil || n != 0 {
		t.Errorf("a link holder is offered the revoke form (%d, %v)", n, err)
	}

	// The owner signs in and revokes.
	s.idp.QueueUser(alice)
	if err := chromedp.Do(br.Ctx, chromedp.Navigate(s.web.URL+"/login?next=/builds/"+id),
		chromedp.WaitVisible(chromedp.ID("revoke-links"))); err != nil {
		t.Fatalf("owner's page after sign-in: %v", err)
	}
	if err := chromedp.Do(br.Ctx, chromedp.Click(chromedp.ID("revoke-button")), chromedp.WaitVisible(chromedp.ID("done"))); err != nil {
		t.Fatalf("revoke with the page's button: %v", err)
	}
	t.Logf("screenshot: %s", br.Screenshot("links-revoked"))
	if got := fetch(t, nil, "GET", linkURL); got.status != http.StatusNotFound {
		t.Errorf("revoked link: %d", got.status)
	}
}
