package webapp_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"

	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/testing/browsertest"
	"github.com/fedora-fbs/fbs/testing/isotest"
	"github.com/fedora-fbs/fbs/testing/oidctest"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/worker"
	"github.com/fedora-fbs/fbs/worker/pipeline"
	"github.com/fedora-fbs/fbs/worker/staging"
)

// TestBrowserBuild signs in with a real browser, fills the form for a
// kickstart ISO with two uploaded kickstarts that include each other,
// lands on the monitor's build page and sees the build succeed on a real
// worker over a real Redis. Screenshots of the form, the build page and
// the dashboard are kept as artifacts.
func TestBrowserBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	t.Parallel()
	b := browsertest.Start(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rdb := redistest.Start(t).Client()
	c := client.New(rdb, client.Config{})
	t.Cleanup(func() { c.Close() })

	// A worker for this host's arch and release 41 with a boot ISO.
	dir := t.TempDir()
	isoDir, stageRoot := filepath.Join(dir, "isos"), filepath.Join(dir, "staging")
	for _, d := range []string{isoDir, stageRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(isotest.BootISO(t, "FBS-WEB"), filepath.Join(isoDir, "boot.iso")); err != nil {
		t.Fatal(err)
	}
	pipe, err := pipeline.New(pipeline.Config{DataDir: filepath.Join(dir, "data"), ISODir: isoDir,
		Staging: staging.Options{FileRoot: stageRoot}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(rdb, pipe, worker.Config{Releases: []string{"41"}, TaskCheckInterval: 20 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)

	// The web app with OIDC sign-in and the monitor on one engine.
	idp := oidctest.Start(t)
	idp.QueueUser(oidctest.User{Subject: "42", Username: "alice", Email: "alice@example.org", Groups: []string{"packager"}})
	ts := httptest.NewUnstartedServer(nil)
	ident := webapp.NewIdentifier(rdb, webapp.IdentifierConfig{})
	srv, err := webapp.New(c, webapp.Config{
		Identifier: ident,
		PublicURL:  "http://" + ts.Listener.Addr().String(), Releases: []string{"41", "rawhide"}, FileRoot: stageRoot,
		OIDC: webapp.OIDC{Issuer: idp.Issuer, ClientID: idp.ClientID, ClientSecret: idp.ClientSecret,
			Scopes: []string{"profile", "email", "groups"}, SubmitGroup: "packager"},
		Logger: quiet,
	})
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
	ts.Config.Handler = e
	ts.Start()
	t.Cleanup(ts.Close)

	var ks []string
	for _, n := range []string{"fedora-repo.ks", "fedora-repo-rawhide.ks"} {
		p, err := filepath.Abs(filepath.Join(kickstartsDir, n))
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, p)
	}
	ctx, cancel := context.WithTimeout(b.Ctx, 3*time.Minute)
	defer cancel()
	err = chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/build"),
		chromedp.WaitVisible(chromedp.ID("build-form")),
		chromedp.SetValue(chromedp.ID("type"), "ksiso"),
		chromedp.SetValue(chromedp.ID("arch"), worker.HostArch()),
		chromedp.SetValue(chromedp.ID("release"), "41"),
		chromedp.SendKeys(chromedp.ID("staging"), "file://"+stageRoot+"/alice"),
		chromedp.SendKeys(chromedp.ID("ksiso_iso"), "boot.iso"),
		chromedp.SetUploadFiles(chromedp.ID("ks_files"), ks),
		chromedp.SendKeys(chromedp.ID("ks_main"), "fedora-repo.ks"),
	)
	if err != nil {
		t.Fatalf("fill the form: %v", err)
	}
	if email, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("email"))); err != nil || email != "alice@example.org" {
		t.Errorf("email prefilled with %q (%v)", email, err)
	}
	t.Logf("form: %s", b.Screenshot("form"))
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("state"))); err != nil {
		t.Fatalf("submit the form: %v", err)
	}
	landed, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`/builds/([0-9A-Z]{26})$`).FindStringSubmatch(landed)
	if m == nil {
		t.Fatalf("landed on %s, not a build page", landed)
	}
	id := m[1]
	// The page follows the build live: wait for its state to be final.
	final := `(function(){var s=document.getElementById('state');` +
		`return s!==null&&['succeeded','failed','cancelled'].indexOf(s.textContent.trim())>=0})()`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](final, chromedp.WithPollingTimeout(2*time.Minute))); err != nil {
		rec, _ := c.Get(context.Background(), id)
		t.Fatalf("build page of %s never showed a final state: %v; record %+v", id, err, rec)
	}
	state, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("state")))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("build page: %s", b.Screenshot("build"))
	if state = strings.TrimSpace(state); state != string(tasks.StateSucceeded) {
		rec, _ := c.Get(context.Background(), id)
		t.Fatalf("build %s ended %q: %+v", id, state, rec)
	}
	rec, err := c.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Owner != "alice" || rec.KickstartName != "fedora-repo.ks" || len(rec.Artifacts) == 0 {
		t.Errorf("record %+v", rec)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/builds"), chromedp.WaitVisible(chromedp.ID("builds"))); err != nil {
		t.Fatal(err)
	}
	row, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr[data-id="`+id+`"]`)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dashboard: %s", b.Screenshot("dashboard"))
	if !strings.Contains(row, "succeeded") || !strings.Contains(row, rec.Artifacts[0].Name) {
		t.Errorf("dashboard row: %q", row)
	}
}
