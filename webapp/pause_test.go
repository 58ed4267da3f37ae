package webapp_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"

	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/testing/browsertest"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// setupServe starts the web app and the monitor on one listener sharing
// one identifier, as `fbs serve` runs them: local mode unless oidc.
func setupServe(t *testing.T, oidc *webapp.OIDC) *fixture {
	t.Helper()
	rdb := redistest.Start(t).Client()
	c := client.New(rdb, client.Config{})
	t.Cleanup(func() { c.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := &fixture{rdb: rdb, c: c, ts: httptest.NewUnstartedServer(nil)}
	public := "http://" + f.ts.Listener.Addr().String()
	ident := webapp.NewIdentifier(rdb, webapp.IdentifierConfig{Local: oidc == nil, PublicURL: public})
	cfg := webapp.Config{Identifier: ident, PublicURL: public, Releases: []string{"41"}, Logger: quiet}
	if oidc != nil {
		cfg.OIDC = *oidc
	}
	srv, err := webapp.New(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mon, err := monitor.New(rdb, monitor.Config{Logger: quiet, Identifier: ident})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Close() })
	e := gin.New()
	srv.Register(e)
	mon.Register(e)
	f.srv, f.cfg = srv, cfg
	f.ts.Config.Handler = e
	f.ts.Start()
	t.Cleanup(f.ts.Close)
	return f
}

// TestPauseAPIRights pauses and resumes through /api/v1/pauses: admins
// only, with errors naming the bad field. (That a paused queue's builds
// wait and run after resume is testing/e2e's TestPausedQueueWaits.)
func TestPauseAPIRights(t *testing.T) {
	t.Parallel()
	oidc := testOIDC(t)
	f := setupServe(t, &oidc)
	admin := bearer(f.token(t, auth.User{Name: "root", Admin: true, CanSubmit: true}))
	user := bearer(f.token(t, auth.User{Name: "bob", CanSubmit: true}))
	queue := map[string]string{"kind": "queue", "name": "build:x86_64:41", "message": "mirror <sync>"}

	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		body   map[string]string
		status int
		code   string
		field  string
	}{
		{"anonymous", nil, queue, http.StatusUnauthorized, "unauthenticated", ""},
		{"not an admin", user, queue, http.StatusForbidden, "forbidden", ""},
		{"bad queue", admin, map[string]string{"kind": "queue", "name": "build:x86_64"}, http.StatusUnprocessableEntity, "invalid", "queue"},
		{"bad kind", admin, map[string]string{"kind": "host", "name": "a"}, http.StatusUnprocessableEntity, "invalid", "kind"},
		{"bad host", admin, map[string]string{"kind": "worker", "name": "../x"}, http.StatusUnprocessableEntity, "invalid", "worker"},
		{"long message", admin, map[string]string{"kind": "worker", "name": "b1", "message": strings.Repeat("x", 501)}, http.StatusUnprocessableEntity, "invalid", "message"},
	} {
		r := f.postJSON(t, "/api/v1/pauses", tc.body, tc.hdr)
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, r.status, tc.status, r.body)
			continue
		}
		if e := r.apiError(t); e.Code != tc.code || e.Field != tc.field {
			t.Errorf("%s: error %+v, want code %s field %q", tc.name, e, tc.code, tc.field)
		}
	}
	if ps, _ := f.c.Store().Pauses(context.Background()); len(ps) != 0 {
		t.Fatalf("refused requests paused %v", ps)
	}

	if r := f.postJSON(t, "/api/v1/pauses", queue, admin); r.status != http.StatusCreated || !strings.Contains(string(r.body), `"by":"root"`) {
		t.Fatalf("admin pause: %d %s", r.status, r.body)
	}
	if r := f.get(t, "/api/v1/pauses", nil); r.status != http.StatusOK || !strings.Contains(string(r.body), `"message":"mirror \u003csync\u003e"`) {
		t.Errorf("list: %d %s", r.status, r.body)
	}
	del := func(hdr map[string]string) resp {
		return f.do(t, http.DefaultClient, http.MethodDelete, "/api/v1/pauses/queue/build:x86_64:41", "", nil, hdr)
	}
	if r := del(user); r.status != http.StatusForbidden {
		t.Errorf("resume by a user: %d %s", r.status, r.body)
	}
	if r := del(admin); r.status != http.StatusOK {
		t.Errorf("resume by an admin: %d %s", r.status, r.body)
	}
	if r := del(admin); r.status != http.StatusNotFound {
		t.Errorf("second resume: %d %s, want 404", r.status, r.body)
	}
}

// TestBrowserPauseFromStatus pauses a queue and a worker from the status
// page in headless Chromium as the local user (an admin), sees who, when
// and why, with markup in the message shown as text, and resumes them.
func TestBrowserPauseFromStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	t.Parallel()
	f := setupServe(t, nil)
	b := browsertest.Start(t)
	ctx, cancel := context.WithTimeout(b.Ctx, 2*time.Minute)
	defer cancel()
	pause := func(kind, name, message string) {
		t.Helper()
		err := chromedp.Do(ctx,
			chromedp.Navigate(f.ts.URL+"/status"),
			chromedp.WaitVisible(chromedp.ID("pause-form")),
			chromedp.SetValue(chromedp.ID("pause-kind"), kind),
			chromedp.SendKeys(chromedp.ID("pause-name"), name),
			chromedp.SendKeys(chromedp.ID("pause-message"), message),
			chromedp.Click(chromedp.ID("pause-button")),
			chromedp.WaitVisible(chromedp.ID("done")),
		)
		if err != nil {
			t.Fatalf("pause %s %s from /status: %v", kind, name, err)
		}
	}
	pause("queue", "build:x86_64:41", "mirror sync <b>now</b>")
	pause("worker", "builder1.example.org", "kernel update")
	table, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("paused")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"build:x86_64:41", "mirror sync <b>now</b>", "builder1.example.org", "kernel update", "local"} {
		if !strings.Contains(table, want) {
			t.Errorf("paused table lacks %q:\n%s", want, table)
		}
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#paused b").length`)); err != nil || n != 0 {
		t.Errorf("markup in a pause message became HTML (%d elements, %v)", n, err)
	}
	t.Logf("status page: %s", b.Screenshot("status-paused"))
	ps, err := f.c.Store().Pauses(context.Background())
	if err != nil || len(ps) != 2 || ps[0].By != "local" {
		t.Fatalf("pauses after the forms: %+v, %v", ps, err)
	}

	// Resume both from their rows.
	for range 2 {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#paused button.resume`)), chromedp.WaitVisible(chromedp.ID("done"))); err != nil {
			t.Fatalf("resume from /status: %v", err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("nothing-paused"))); err != nil {
		t.Fatalf("status page after resuming: %v", err)
	}
	if ps, _ := f.c.Store().Pauses(context.Background()); len(ps) != 0 {
		t.Errorf("still paused after resuming: %+v", ps)
	}
}
