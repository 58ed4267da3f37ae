package webapp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/kickstarts"
	"github.com/fedora-fbs/fbs/testing/browsertest"
	"github.com/fedora-fbs/fbs/testing/kstest"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/webapp/apiclient"
)

// Each release offers its own standard kickstarts: Fedora's synced for
// release 41 are offered (listed, in the form, accepted) for 41 alone.
func TestStandardKickstartsPerRelease(t *testing.T) {
	t.Parallel()
	lib := kickstarts.Library{SyncDir: filepath.Join(t.TempDir(), "kickstarts")}
	if _, err := kickstarts.SyncRelease(context.Background(), lib, "41", kstest.FedoraDir(t), kickstarts.Options{}); err != nil {
		t.Fatal(err)
	}
	f := setup(t, func(c *webapp.Config) { c.Kickstarts = lib })
	list := func(query string) map[string][]string {
		t.Helper()
		r := f.get(t, "/api/v1/kickstarts"+query, nil)
		var body struct{ Kickstarts []apiclient.Kickstart }
		if err := json.Unmarshal(r.body, &body); err != nil || r.status != http.StatusOK {
			t.Fatalf("GET /api/v1/kickstarts%s: %d %s %v", query, r.status, r.body, err)
		}
		out := map[string][]string{}
		for _, k := range body.Kickstarts {
			out[k.Name] = k.Releases
		}
		return out
	}
	all := list("")
	if diff := cmp.Diff([]string{"41"}, all["fedora-live-base"]); diff != "" {
		t.Errorf("fedora-live-base releases (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"41", "rawhide"}, all["fbs-live-minimal"]); diff != "" {
		t.Errorf("fbs-live-minimal releases (-want +got):\n%s", diff)
	}
	if _, ok := list("?release=rawhide")["fedora-live-base"]; ok {
		t.Error("rawhide lists fedora-live-base, synced for 41 only")
	}
	if r := f.get(t, "/api/v1/kickstarts?release=17", nil); r.status != http.StatusUnprocessableEntity {
		t.Errorf("release 17: status %d, want 422", r.status)
	}

	spec := f.ksisoSpec("fedora-live-base")
	if r := f.postJSON(t, "/api/v1/builds", apiclient.SubmitRequest{Spec: spec}, nil); r.status != http.StatusCreated {
		t.Errorf("fedora-live-base for 41: %d %s", r.status, r.body)
	}
	spec.Release = "rawhide"
	if r := f.postJSON(t, "/api/v1/builds", apiclient.SubmitRequest{Spec: spec}, nil); r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "not a standard kickstart of release rawhide") {
		t.Errorf("fedora-live-base for rawhide: %d %s", r.status, r.body)
	}

	r := f.get(t, "/build", nil)
	if !strings.Contains(string(r.body), `value="fedora-live-base" data-releases="41 "`) || !strings.Contains(string(r.body), `value="fbs-live-minimal" data-releases="41 rawhide "`) {
		t.Errorf("the form's standard kickstarts do not say their releases:\n%s", r.body)
	}
}

// In the form, the standard kickstart list follows the chosen release.
func TestBrowserStandardKickstartsFollowRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	t.Parallel()
	b := browsertest.Start(t)
	lib := kickstarts.Library{SyncDir: filepath.Join(t.TempDir(), "kickstarts")}
	if _, err := kickstarts.SyncRelease(context.Background(), lib, "41", kstest.FedoraDir(t), kickstarts.Options{}); err != nil {
		t.Fatal(err)
	}
	f := setup(t, func(c *webapp.Config) { c.Kickstarts = lib })
	ctx, cancel := context.WithTimeout(b.Ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(f.ts.URL+"/build"), chromedp.WaitVisible(chromedp.ID("build-form"))); err != nil {
		t.Fatal(err)
	}
	// choose picks a release (firing the change event the form listens
	// to) and says what the list then offers and which is chosen.
	choose := func(release, pick string) (offered []string, chosen string) {
		t.Helper()
		js := `(function () {
			var f = document.getElementById('build-form'), r = f.elements['release'], s = f.elements['ks_standard'];
			r.value = ` + strconv.Quote(release) + `;
			r.dispatchEvent(new Event('change', {bubbles: true}));
			if (` + strconv.Quote(pick) + `) { s.value = ` + strconv.Quote(pick) + `; }
			var on = [];
			Array.prototype.forEach.call(s.options, function (o) { if (!o.hidden && !o.disabled) on.push(o.value); });
			return JSON.stringify({on: on, chosen: s.value});
		})()`
		out, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			On     []string
			Chosen string
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatal(err)
		}
		return v.On, v.Chosen
	}
	on41, chosen := choose("41", "fedora-live-base")
	if !slices.Contains(on41, "fedora-live-base") || chosen != "fedora-live-base" {
		t.Errorf("release 41 offers %v, chosen %q", on41, chosen)
	}
	onRawhide, chosen := choose("rawhide", "")
	if slices.Contains(onRawhide, "fedora-live-base") || !slices.Contains(onRawhide, "fbs-live-minimal") || chosen == "fedora-live-base" {
		t.Errorf("rawhide offers %v, chosen %q", onRawhide, chosen)
	}
}
