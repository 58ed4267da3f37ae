package monitor_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/monitor/metrics"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/testing/browsertest"
	"github.com/fedora-fbs/fbs/testing/ftptest"
	"github.com/fedora-fbs/fbs/worker/buildlog"
	"github.com/fedora-fbs/fbs/worker/progress"
	"github.com/fedora-fbs/fbs/worker/staging"
)

// TestBrowserShowsProgress opens two running builds' pages in headless
// Chromium: one in its build stage, estimated from the metrics of earlier
// builds of its type, and one whose transfer to a real FTP server runs
// while the page is open, its progress arriving over the log's SSE stream
// as the worker writes it (buildlog.Log, buildlog.Publisher, the staging
// code's meter). Markup in a progress line's item stays text.
func TestBrowserShowsProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, monitor.Config{PageLines: 200})
	rec := metrics.NewRecorder(f.rdb)
	// Hours, so that a loaded machine's slowness moves the bar little.
	for _, d := range []time.Duration{8 * time.Hour, 12 * time.Hour} {
		if err := rec.StageDone(ctx, tasks.TypeLive, tasks.StageBuild, d); err != nil {
			t.Fatal(err)
		}
	}
	// Five hours into a stage that took ten on average.
	building := f.newBuild(t, func(b *tasks.Build) {
		b.Started = time.Now().Add(-5*time.Hour - time.Minute).UTC()
		b.Stages = []tasks.StageTiming{{Stage: tasks.StageFetch, Started: b.Started, Duration: time.Minute}}
	})
	br := browsertest.Start(t)
	if err := chromedp.Do(br.Ctx, chromedp.Navigate(f.web.URL+"/builds/"+building.ID)); err != nil {
		t.Fatal(err)
	}
	text := `document.getElementById("progress-text").textContent`
	bar := `document.getElementById("progress-bar").value`
	if _, err := chromedp.Run(br.Ctx, chromedp.Poll[bool](text+`.includes("on average in 2 earlier build(s)") && `+bar+` >= 490 && `+bar+` <= 520`,
		chromedp.WithPollingTimeout(90*time.Second))); err != nil {
		got, _ := chromedp.Run(br.Ctx, chromedp.Evaluate[string](text))
		t.Fatalf("build stage: page shows %q, want the estimate from two builds at half way: %v", got, err)
	}
	if got, err := chromedp.Run(br.Ctx, chromedp.Evaluate[string](text)); err != nil || !regexp.MustCompile(`, about [45]h[0-9]+m[0-9]+s left$`).MatchString(got) {
		t.Errorf("build stage: %q, %v; want about five hours left", got, err)
	}

	// A transfer, from its start.
	srv := ftptest.Start(t, ftptest.Options{})
	moving := f.newBuild(t, func(b *tasks.Build) { b.Stage = tasks.StageTransfer })
	logPath := filepath.Join(t.TempDir(), "build.log")
	var pub *buildlog.Publisher
	l, err := buildlog.Create(logPath, buildlog.Options{Notify: func() { pub.Wake() }})
	if err != nil {
		t.Fatal(err)
	}
	pub = buildlog.NewPublisher(f.store, moving.ID, logPath, buildlog.PublisherOptions{})
	pub.Start(ctx)
	t.Cleanup(func() { l.Close(); pub.Stop() })
	l.Printf("stage transfer: started")
	if err := chromedp.Do(br.Ctx, chromedp.Navigate(f.web.URL+"/builds/"+moving.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(br.Ctx, chromedp.Poll[bool](`document.getElementById("live-status").textContent.startsWith("Following")`,
		chromedp.WithPollingTimeout(90*time.Second))); err != nil {
		t.Fatalf("transfer page never followed the log: %v", err)
	}
	src := filepath.Join(t.TempDir(), "Fedora-Live.iso")
	img := make([]byte, 4<<20)
	if _, err := rand.Read(img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, img, 0o644); err != nil {
		t.Fatal(err)
	}
	// The meter's clock moves 10 ms a chunk: reports every few chunks,
	// as a slow link makes them every few seconds.
	var clk atomic.Int64
	var last atomic.Pointer[tasks.Progress]
	rep := &progress.Reporter{
		Log:      l.Printf,
		Publish:  func(p tasks.Progress) { last.Store(&p) },
		Interval: 200 * time.Millisecond,
		Now:      func() time.Time { return time.Unix(0, clk.Add(int64(10*time.Millisecond))) },
	}
	st, err := staging.Open(ctx, "ftp://"+srv.Addr()+"/pub/staging", staging.Options{
		Logf: l.Printf, Progress: rep,
		Egress: egress.Open(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Put(ctx, moving.ID, []string{src}); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if p := last.Load(); p == nil || p.Done != int64(len(img)) {
		t.Fatalf("last report %+v, want all %d bytes", p, len(img))
	}
	// The page shows the last progress line the transfer logged.
	lines, _, err := f.store.TailLog(ctx, moving.ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	var want tasks.Progress
	for _, ln := range lines {
		if p, ok := tasks.ParseProgressLine(ln.Text); ok {
			want = p
		}
	}
	if want.Done == 0 {
		t.Fatalf("no progress line in the log: %v", lines)
	}
	pct := int(float64(want.Done) / float64(want.Total) * 100)
	if _, err := chromedp.Run(br.Ctx, chromedp.Poll[bool](text+`.includes("(Fedora-Live.iso)") && `+text+`.startsWith("`+strconv.Itoa(pct)+`% – ") && `+bar+` === `+strconv.Itoa(int(float64(want.Done)/float64(want.Total)*1000+0.5)),
		chromedp.WithPollingTimeout(90*time.Second))); err != nil {
		got, _ := chromedp.Run(br.Ctx, chromedp.Evaluate[string](text))
		t.Fatalf("transfer: page shows %q, want %d%% of Fedora-Live.iso: %v", got, pct, err)
	}
	path := br.Screenshot("build-progress")
	t.Logf("screenshot: %s", path)

	// A progress line whose item is markup.
	l.Printf("progress transfer: 1/2 bytes (50%%, 1.0 MB/s) <img src=x onerror=\"window.pwned=1\">")
	if _, err := chromedp.Run(br.Ctx, chromedp.Poll[bool](text+`.includes("<img src=x")`, chromedp.WithPollingTimeout(90*time.Second))); err != nil {
		t.Fatalf("markup item never shown as text: %v", err)
	}
	pwned, err := chromedp.Run(br.Ctx, chromedp.Evaluate[bool](`window.pwned !== undefined || document.querySelector("#progress img") !== null`))
	if err != nil || pwned {
		t.Errorf("markup in a progress line became live HTML (%v)", err)
	}
}
