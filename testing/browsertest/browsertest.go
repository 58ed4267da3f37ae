// Package browsertest starts a real headless Chromium for tests, driven with
// chromedp, and saves screenshots as test artifacts.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"
)

// Browser is a headless Chromium owned by one test.
type Browser struct {
	// Ctx is the chromedp context of the browser's first tab: pass it to
	// chromedp.Run. It ends at cleanup.
	Ctx context.Context
	tb  testing.TB
}

// Start runs Debian's chromium (apt-get install chromium) headless with a
// temporary profile and stops it when the test ends. Without chromium the
// test is skipped, unless the environment variable CI is set: then it
// fails, so CI never silently skips the browser tests.
func Start(tb testing.TB) *Browser {
	tb.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		if _, ci := os.LookupEnv("CI"); ci {
			tb.Fatal("chromium not found: install it with \"apt-get install chromium\"")
		}
		tb.Skip("chromium not found (apt-get install chromium); skipping the browser test")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// Tests reach loopback only: every host, name or IP literal,
		// but localhost, 127.0.0.1 and ::1 resolves to nothing, so a
		// page that regresses into sending the browser elsewhere (a
		// hostile redirect) fails without dialing out.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]"),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(tb.Logf))
	tb.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// Start the browser now, so a broken install fails here, clearly.
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("start chromium %s: %v", bin, err)
	}
	return &Browser{Ctx: ctx, tb: tb}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Screenshot saves a PNG (quality 100 makes chromedp produce PNG, not JPEG) of the whole page under the test's temporary
// directory and, when FBS_ARTIFACTS is set, copies it there too (as
// <test name>-<name>.png) for CI to keep. It returns the first path.
func (b *Browser) Screenshot(name string) string {
	b.tb.Helper()
	png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.tb.Fatalf("screenshot %s: %v", name, err)
	}
	file := unsafeName.ReplaceAllString(b.tb.Name()+"-"+name, "_") + ".png"
	path := filepath.Join(b.tb.TempDir(), file)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.tb.Fatalf("save screenshot: %v", err)
	}
	if dir := os.Getenv("FBS_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.tb.Fatalf("save screenshot to FBS_ARTIFACTS: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), png, 0o644); err != nil {
			b.tb.Fatalf("save screenshot to FBS_ARTIFACTS: %v", err)
		}
	}
	return path
}
