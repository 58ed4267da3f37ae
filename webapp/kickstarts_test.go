package webapp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/kickstarts"
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
