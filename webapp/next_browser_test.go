package webapp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fedora-fbs/fbs/testing/browsertest"
	"github.com/fedora-fbs/fbs/testing/oidctest"
	"github.com/fedora-fbs/fbs/webapp"
)

// TestBrowserNextStaysOnSite signs in through /login?next= with hostile
// return paths in headless Chromium, with a real OIDC provider and in local
// mode, and checks where the browser ends: on the site, never on the
// loopback canary the paths point at (nor at a name, which the browser
// cannot resolve in tests).
func TestBrowserNextStaysOnSite(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	t.Parallel()
	var visits atomic.Int32
	canary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		visits.Add(1)
		w.Write([]byte("canary"))
	}))
	t.Cleanup(canary.Close)
	other := strings.TrimPrefix(canary.URL, "http://") // 127.0.0.1:port, another origin

	idp := oidctest.Start(t)
	modes := map[string]*fixture{
		"oidc": setup(t, func(c *webapp.Config) {
			c.OIDC = webapp.OIDC{Issuer: idp.Issuer, ClientID: idp.ClientID, ClientSecret: idp.ClientSecret}
		}),
		"local": setup(t, nil),
	}
	hostile := []string{
		"/\t/" + other + "/tab",
		"/\t/evil.example",
		"/\n/" + other + "/newline",
		"//" + other + "/slashes",
		"/\\" + other + "/backslash",
		"\\\\" + other + "/backslashes",
		"/\\\t" + other + "/mixed",
		"http://" + other + "/absolute",
		"/%2F%2F" + other + "/escaped",
		"/%5C" + other + "/escaped-backslash",
		"/%09/" + other + "/escaped-tab", // a path on the site: %09 stays escaped
	}
	b := browsertest.Start(t)
	for mode, f := range modes {
		for _, next := range append(hostile, "/builds") {
			ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
			// A navigation that fails (to a name, which does not
			// resolve in tests) ends on Chromium's error page: not
			// the site either.
			_ = chromedp.Do(ctx, chromedp.Navigate(f.ts.URL+"/login?next="+url.QueryEscape(next)))
			landed, err := chromedp.Run(ctx, chromedp.Location())
			cancel()
			if err != nil {
				t.Fatalf("%s, next %q: %v", mode, next, err)
			}
			want := f.ts.URL + "/"
			if next == "/builds" {
				want = f.ts.URL + "/builds"
			}
			if !strings.HasPrefix(landed, want) {
				t.Errorf("%s, next %q: the browser ended on %s, want %s...", mode, next, landed, want)
			}
		}
	}
	if n := visits.Load(); n != 0 {
		t.Errorf("the canary was visited %d times", n)
	}
}
