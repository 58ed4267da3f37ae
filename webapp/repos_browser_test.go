package webapp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/browsertest"
)

// TestBrowserFormRepos: in headless Chromium, changing the release or arch
// fills in that release's standard repositories, and never overwrites
// repositories the user edited.
func TestBrowserFormRepos(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	t.Parallel()
	f := setup(t, nil)
	b := browsertest.Start(t)
	lines := func(release, arch string) string {
		var s strings.Builder
		for _, r := range tasks.StandardRepos(release, arch) {
			s.WriteString(r.Name + " " + r.URL + " " + r.Mirror + "\n")
		}
		return s.String()
	}
	// choose sets a select as a user does: the value, then a change event.
	choose := func(ctx context.Context, id, value string) {
		t.Helper()
		js := `(function () { var e = document.getElementById('` + id + `'); e.value = '` + value + `';
			return e.dispatchEvent(new Event('change', {bubbles: true})); })()`
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil {
			t.Fatalf("choose %s %s: %v", id, value, err)
		}
	}
	repos := func(ctx context.Context) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("boot_repos")))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ctx, cancel := context.WithTimeout(b.Ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(f.ts.URL+"/build?type=boot"), chromedp.WaitVisible(chromedp.ID("boot_repos"))); err != nil {
		t.Fatal(err)
	}
	first := repos(ctx)
	choose(ctx, "release", "rawhide")
	afterRelease := repos(ctx)
	choose(ctx, "arch", "aarch64")
	afterArch := repos(ctx)
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("boot_repos"), "mine https://repo.example.org/x/\n")); err != nil {
		t.Fatal(err)
	}
	choose(ctx, "release", "41")
	edited := repos(ctx)
	for _, c := range []struct{ when, got, want string }{
		{"at first", first, lines("41", "x86_64")},
		{"after choosing rawhide", afterRelease, lines("rawhide", "x86_64")},
		{"after choosing aarch64", afterArch, lines("rawhide", "aarch64")},
		{"after an edit and another release", edited, "mine https://repo.example.org/x/\n"},
	} {
		if c.got != c.want {
			t.Errorf("%s: repositories\n%q\nwant\n%q", c.when, c.got, c.want)
		}
	}
	b.Screenshot("form-repos")
}
