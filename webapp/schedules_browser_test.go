package webapp_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"

	"github.com/fedora-fbs/fbs/monitor/scheduler"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/tasks/submission"
	"github.com/fedora-fbs/fbs/testing/browsertest"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/webapp"
)

// TestBrowserSchedules adds a schedule with the web form in a real browser
// (after the form has shown a bad cron expression beside its field), sees
// its runs on its page as a runner over the same Redis makes them, then
// pauses, resumes and deletes it with the page's buttons.
func TestBrowserSchedules(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	t.Parallel()
	b := browsertest.Start(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rdb := redistest.Start(t).Client()
	c := client.New(rdb, client.Config{})
	t.Cleanup(func() { c.Close() })
	root := t.TempDir()
	ts := httptest.NewUnstartedServer(nil)
	srv, err := webapp.New(c, webapp.Config{PublicURL: "http://" + ts.Listener.Addr().String(),
		Releases: []string{"41"}, FileRoot: root, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	srv.Register(e)
	ts.Config.Handler = e
	ts.Start()
	t.Cleanup(ts.Close)
	run, err := scheduler.New(rdb, c, scheduler.Config{Logger: quiet, SyncInterval: 100 * time.Millisecond, PollInterval: 50 * time.Millisecond,
		Submission: submission.Config{Releases: []string{"41"}, Staging: &tasks.StagingPolicy{Remote: true, FileRoot: root}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Stop)

	spec := fmt.Sprintf("[DEFAULT]\ntype=ksiso\narch=x86_64\nrelease=41\nstaging=file://%s/nightly\n[ksiso]\niso=boot.iso\nconfig=fbs-minimal-install.ks\n", root)
	ctx, cancel := context.WithTimeout(b.Ctx, 2*time.Minute)
	defer cancel()
	err = chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/schedules"),
		chromedp.WaitVisible(chromedp.ID("schedule-form")),
		chromedp.SetValue(chromedp.ID("cron"), "61 * * * *"),
		chromedp.SetValue(chromedp.ID("spec"), spec),
		chromedp.Submit(chromedp.ID("cron")),
		chromedp.WaitVisible(chromedp.ID("err-cron")),
	)
	if err != nil {
		t.Fatalf("bad cron: %v", err)
	}
	if msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("err-cron"))); !strings.Contains(msg, "above maximum (59)") {
		t.Errorf("cron error shown: %q", msg)
	}
	if kept, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("spec"))); !strings.Contains(kept, "fbs-minimal-install.ks") {
		t.Errorf("the form lost the spec: %q", kept)
	}
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("cron"), "@every 1s"),
		chromedp.Submit(chromedp.ID("cron")),
		chromedp.WaitVisible(chromedp.ID("schedule")),
	)
	if err != nil {
		t.Fatalf("add the schedule: %v", err)
	}
	landed, _ := chromedp.Run(ctx, chromedp.Location())
	m := regexp.MustCompile(`/schedules/([0-9A-Z]{26})$`).FindStringSubmatch(landed)
	if m == nil {
		t.Fatalf("landed on %s, not a schedule page", landed)
	}
	id := m[1]
	// Runs appear as the runner makes them: the first builds, the next
	// are skipped while that build is queued (no worker here).
	var runs string
	for deadline := time.Now().Add(30 * time.Second); ; {
		if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/schedules/"+id), chromedp.WaitVisible(chromedp.ID("state"))); err != nil {
			t.Fatal(err)
		}
		runs, _ = chromedp.Run(ctx, chromedp.Text(`body`))
		if strings.Contains(runs, "built ") && strings.Contains(runs, "skipped: previous build") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no runs shown after 30 s:\n%s", runs)
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("schedule page: %s", b.Screenshot("schedule"))
	bs, err := c.List(context.Background(), builds.ListOptions{})
	if err != nil || len(bs) != 1 || bs[0].Schedule != id || bs[0].Owner != webapp.DefaultLocalUser {
		t.Fatalf("builds: %d, %v; want one of schedule %s", len(bs), err, id)
	}
	// Each button posts and the page comes back with the other button.
	for _, step := range []struct{ button, next, state string }{{"pause", "resume", "paused"}, {"resume", "pause", "active"}} {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID(step.button)), chromedp.WaitVisible(chromedp.ID(step.next))); err != nil {
			t.Fatalf("%s: %v", step.button, err)
		}
		if got, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("state"))); strings.TrimSpace(got) != step.state {
			t.Errorf("after %s: state %q, want %s", step.button, got, step.state)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/schedules"), chromedp.WaitVisible(chromedp.ID("schedules"))); err != nil {
		t.Fatal(err)
	}
	if row, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("schedules"))); !strings.Contains(row, id) || !strings.Contains(row, "@every 1s") {
		t.Errorf("list: %q", row)
	}
	t.Logf("schedules page: %s", b.Screenshot("schedules"))
	err = chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/schedules/"+id), chromedp.WaitVisible(chromedp.ID("delete")),
		chromedp.Click(chromedp.ID("delete")), chromedp.WaitVisible(chromedp.ID("no-schedules")))
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
}
