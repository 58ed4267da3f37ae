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

// TestBrowserGroup signs in with a real browser, chooses two arches in the
// form's arch list, lands on the group page and sees both builds succeed,
// each on a real worker of its arch (x86_64, and i686 which an x86_64
// host runs) over a real Redis, each row linking to its build page. Then
// it cancels, with the page's button, a group whose arches no worker
// serves.
func TestBrowserGroup(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	if worker.HostArch() != "x86_64" {
		t.Skipf("needs an x86_64 host for an i686 worker beside an x86_64 one; this is %s", worker.HostArch())
	}
	t.Parallel()
	b := browsertest.Start(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rdb := redistest.Start(t).Client()
	c := client.New(rdb, client.Config{})
	t.Cleanup(func() { c.Close() })

	dir := t.TempDir()
	isoDir, stageRoot := filepath.Join(dir, "isos"), filepath.Join(dir, "staging")
	for _, d := range []string{isoDir, stageRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(isotest.BootISO(t, "FBS-GROUP"), filepath.Join(isoDir, "boot.iso")); err != nil {
		t.Fatal(err)
	}
	// One worker per arch, each with its own data directory.
	for _, arch := range []string{"x86_64", "i686"} {
		pipe, err := pipeline.New(pipeline.Config{DataDir: filepath.Join(dir, "data-"+arch), ISODir: isoDir,
			Staging: staging.Options{FileRoot: stageRoot}, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		w, err := worker.New(rdb, pipe, worker.Config{Arch: arch, Releases: []string{"41"}, TaskCheckInterval: 20 * time.Millisecond, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Shutdown)
	}

	idp := oidctest.Start(t)
	idp.QueueUser(oidctest.User{Subject: "42", Username: "alice", Email: "alice@example.org", Groups: []string{"packager"}})
	ts := httptest.NewUnstartedServer(nil)
	ident := webapp.NewIdentifier(rdb, webapp.IdentifierConfig{})
	srv, err := webapp.New(c, webapp.Config{
		Identifier: ident,
		PublicURL:  "http://" + ts.Listener.Addr().String(), Releases: []string{"41"}, FileRoot: stageRoot,
		Arches: []string{"x86_64", "i686", "aarch64", "s390x"},
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
	choose := func(arches ...string) chromedp.Action[bool] {
		return chromedp.Evaluate[bool](`(function(){var want=` + jsList(arches) + `;` +
			`Array.prototype.forEach.call(document.getElementById('arch').options,function(o){o.selected=want.indexOf(o.value)>=0});` +
			`return true})()`)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/build"),
		chromedp.WaitVisible(chromedp.ID("build-form")),
		chromedp.SetValue(chromedp.ID("type"), "ksiso"),
		chromedp.SetValue(chromedp.ID("release"), "41"),
		chromedp.SendKeys(chromedp.ID("staging"), "file://"+stageRoot+"/alice"),
		chromedp.SendKeys(chromedp.ID("ksiso_iso"), "boot.iso"),
		chromedp.SetUploadFiles(chromedp.ID("ks_files"), ks),
		chromedp.SendKeys(chromedp.ID("ks_main"), "fedora-repo.ks"),
	)
	if err != nil {
		t.Fatalf("fill the form: %v", err)
	}
	if _, err := chromedp.Run(ctx, choose("x86_64", "i686")); err != nil {
		t.Fatalf("choose two arches: %v", err)
	}
	t.Logf("form: %s", b.Screenshot("group-form"))
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("submit"))); err != nil {
		t.Fatalf("submit the form: %v", err)
	}
	if err := waitJS(ctx, `document.getElementById('group-state')!==null`, 30*time.Second); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href+"\n"+document.body.innerText`))
		t.Fatalf("submit the form: no group page: %v\n%s", err, page)
	}
	landed, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`/groups/([0-9A-Z]{26})$`).FindStringSubmatch(landed)
	if m == nil {
		t.Fatalf("landed on %s, not a group page", landed)
	}
	id := m[1]
	// The page reloads as the builds move: wait for a final group state.
	final := `(function(){var s=document.getElementById('group-state');` +
		`return s!==null&&['succeeded','failed','cancelled'].indexOf(s.textContent.trim())>=0})()`
	if err := waitJS(ctx, final, 2*time.Minute); err != nil {
		gs, _ := c.Group(context.Background(), id)
		t.Fatalf("group page of %s never showed a final state: %v; group %+v", id, err, gs)
	}
	t.Logf("group page: %s", b.Screenshot("group"))
	state, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("group-state")))
	if err != nil {
		t.Fatal(err)
	}
	gs, err := c.Group(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(state) != string(tasks.StateSucceeded) {
		t.Fatalf("group %s shows %q: %+v", id, state, gs)
	}
	for i, arch := range []string{"x86_64", "i686"} {
		bd := gs.Builds[i]
		if bd.Spec.Arch != arch || bd.State != tasks.StateSucceeded || bd.Owner != "alice" || len(bd.Artifacts) == 0 {
			t.Errorf("build %d: %s %s owner %s, %d artifacts", i, bd.Spec.Arch, bd.State, bd.Owner, len(bd.Artifacts))
		}
		row, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr[data-id="`+bd.ID+`"]`)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(row, arch) || !strings.Contains(row, "succeeded") || !strings.Contains(row, bd.Artifacts[0].Name) {
			t.Errorf("row of the %s build: %q", arch, row)
		}
		href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('tr[data-id="`+bd.ID+`"] a').getAttribute('href')`))
		if err != nil || href != "/builds/"+bd.ID {
			t.Errorf("row of the %s build links to %q (%v)", arch, href, err)
		}
	}
	// A build page links back to its group.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`tr[data-id="`+gs.Builds[1].ID+`"] a`))); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, `document.getElementById('group-link')!==null`, 30*time.Second); err != nil {
		t.Fatalf("build page has no group link: %v", err)
	}
	if href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('group-link').getAttribute('href')`)); err != nil || href != "/groups/"+id {
		t.Errorf("build page links to group %q (%v)", href, err)
	}

	// A group no worker serves waits; the page's button cancels it.
	err = chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/build"),
		chromedp.WaitVisible(chromedp.ID("build-form")),
		chromedp.SetValue(chromedp.ID("type"), "ksiso"),
		chromedp.SendKeys(chromedp.ID("staging"), "file://"+stageRoot+"/alice"),
		chromedp.SendKeys(chromedp.ID("ksiso_iso"), "boot.iso"),
		chromedp.SetUploadFiles(chromedp.ID("ks_files"), ks),
		chromedp.SendKeys(chromedp.ID("ks_main"), "fedora-repo.ks"),
	)
	if err != nil {
		t.Fatalf("fill the form again: %v", err)
	}
	if _, err := chromedp.Run(ctx, choose("aarch64", "s390x")); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("submit"))); err != nil {
		t.Fatalf("submit the second group: %v", err)
	}
	if err := waitJS(ctx, `document.getElementById('group-cancel')!==null`, 30*time.Second); err != nil {
		t.Fatalf("second group page has no cancel button: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#group-cancel button"))); err != nil {
		t.Fatalf("cancel the group: %v", err)
	}
	if err := waitJS(ctx, `document.getElementById('group-cancel')===null&&document.getElementById('group-state')!==null`, 30*time.Second); err != nil {
		t.Fatalf("group page after cancel: %v", err)
	}
	state, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("group-state")))
	if err != nil || strings.TrimSpace(state) != string(tasks.StateCancelled) {
		t.Errorf("after the cancel button the group shows %q (%v)", state, err)
	}
	t.Logf("cancelled group page: %s", b.Screenshot("group-cancelled"))
}

// jsList writes strings as a JavaScript array literal; they are arch
// names, with no quote to escape.
func jsList(l []string) string { return `['` + strings.Join(l, `','`) + `']` }

// waitJS evaluates the boolean expression expr until it is true, through
// the page's navigations, or until timeout.
func waitJS(ctx context.Context, expr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = context.DeadlineExceeded
			}
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
