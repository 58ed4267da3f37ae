package monitor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/browsertest"
)

// TestBrowserFollowsLog opens a running build's page in a real headless
// Chromium, checks that lines appended afterwards appear, that nothing in
// the log ran as script, and saves a screenshot.
func TestBrowserFollowsLog(t *testing.T) {
	t.Parallel()
	f := setup(t, monitor.Config{PageLines: 200})
	b := f.newBuild(t, func(b *tasks.Build) {
		b.Stages = []tasks.StageTiming{
			{Stage: tasks.StageFetch, Started: b.Started, Duration: 2 * time.Second},
			{Stage: tasks.StageFlatten, Started: b.Started.Add(2 * time.Second), Duration: time.Second},
		}
	})
	text := func(n int) string {
		switch n % 10 {
		case 3:
			return fmt.Sprintf("2026-11-22T05:00:45.626Z out | line %d <img src=x onerror=\"window.pwned=1\"><script>window.pwned=2</script>", n)
		case 5:
			return fmt.Sprintf("2026-11-22T05:00:45.626Z out | line %d \x1b[1;32mOK\x1b[0m \x1b[31mwarning in red\x1b[0m", n)
		case 7:
			return fmt.Sprintf("2026-11-22T05:00:45.626Z out | line %d %s", n, "a-very-long-line-that-must-wrap-"+fmt.Sprint(make([]int, 60)))
		}
		return fmt.Sprintf("2026-11-22T05:00:45.626Z fbs | line %d stage build: running", n)
	}
	if err := f.store.HoldLease(context.Background(), b.ID, "builder1/7", time.Hour); err != nil {
		t.Fatal(err)
	}
	f.appendLines(t, b.ID, 1, 20, text)

	br := browsertest.Start(t)
	if err := chromedp.Do(br.Ctx, chromedp.Navigate(f.web.URL+"/builds/"+b.ID)); err != nil {
		t.Fatal(err)
	}
	lastLine := func() string {
		return `(() => { const l = document.querySelector("#log .l:last-child"); return l ? l.getAttribute("data-n") : ""; })()`
	}
	if _, err := chromedp.Run(br.Ctx, chromedp.Poll[bool](lastLine()+` === "20" && document.getElementById("live-status").textContent.startsWith("Following")`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("page never showed line 20 and the live state: %v", err)
	}
	// New lines arrive while the page is open.
	f.appendLines(t, b.ID, 21, 45, text)
	if _, err := chromedp.Run(br.Ctx, chromedp.Poll[bool](lastLine()+` === "45"`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("page never showed line 45: %v", err)
	}
	n, err := chromedp.Run(br.Ctx, chromedp.Evaluate[int](`document.querySelectorAll("#log .l").length`))
	if err != nil {
		t.Fatal(err)
	}
	if n != 45 {
		t.Errorf("page shows %d lines, want 45 (each once)", n)
	}
	pwned, err := chromedp.Run(br.Ctx, chromedp.Evaluate[bool](`window.pwned !== undefined || document.querySelector("#log img, #log script") !== null`))
	if err != nil {
		t.Fatal(err)
	}
	if pwned {
		t.Error("markup in a log line became live HTML")
	}
	red, err := chromedp.Run(br.Ctx, chromedp.Evaluate[string](`document.querySelector('#log .l[data-n="35"] .a1').textContent`))
	if err != nil || red != "warning in red" {
		t.Errorf("ANSI red on a live line: %q, %v", red, err)
	}
	path := br.Screenshot("build-page")
	t.Logf("screenshot: %s", path)
}
