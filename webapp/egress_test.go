package webapp_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/testing/netnstest"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/webapp/apiclient"
)

// TestSubmitRefusesOutbound submits through the API, on the default
// outbound-address policy, builds whose URLs point at a loopback canary,
// the metadata address and file://, and a kernel command line that would
// add a boot menu entry: each is refused with its field, nothing is
// queued, and the canary is never reached. It runs in a loopback-only
// network namespace.
func TestSubmitRefusesOutbound(t *testing.T) {
	if !netnstest.Isolate(t) {
		return
	}
	c := netnstest.NewCanary(t)
	canary := c.Addr
	f := setup(t, func(cfg *webapp.Config) { cfg.Egress = egress.New(egress.Config{}) })
	ks := map[string]string{"k.ks": "lang C\nkeyboard us\ntimezone UTC\nrepo --name=etc --baseurl=file:///etc\n"}

	ksiso := f.ksisoSpec("k.ks")
	ksiso.Staging = "ftp://" + canary + "/x"
	ksiso.KSISO.ISO = "http://169.254.169.254/latest/boot.iso"
	ksiso.KSISO.Cmdline = "quiet\nmenuentry 'evil' {\n  linux /evil\n}"
	bare := f.ksisoSpec("k.ks")
	bare.Staging = canary
	boot := tasks.Spec{Type: tasks.TypeBoot, Arch: "x86_64", Release: "41", Staging: f.staging,
		Boot: &tasks.BootSpec{Product: "Fedora", Release: "41", Version: "41", Proxy: "http://" + canary,
			Repos: []tasks.Repo{{Name: "41", URL: "file:///etc/"}}}}
	live := tasks.Spec{Type: tasks.TypeLive, Arch: "x86_64", Release: "41", Staging: f.staging,
		Live: &tasks.LiveSpec{Label: "L", Title: "T", Product: "Fedora", ReleaseVer: "41", Config: "k.ks", Builder: tasks.BuilderLiveMedia}}
	for _, tc := range []struct {
		name string
		req  apiclient.SubmitRequest
		want []string
	}{
		{"ksiso", apiclient.SubmitRequest{Spec: ksiso, Kickstarts: ks}, []string{"spec.staging", "spec.ksiso.cmdline", "spec.ksiso.iso"}},
		{"bare host staging", apiclient.SubmitRequest{Spec: bare, Kickstarts: ks}, []string{"spec.staging"}},
		{"boot", apiclient.SubmitRequest{Spec: boot}, []string{"spec.boot.repos", "spec.boot.proxy"}},
		{"live kickstart repo", apiclient.SubmitRequest{Spec: live, Kickstarts: ks}, []string{"spec.<type>.config"}},
	} {
		r := f.postJSON(t, "/api/v1/builds", tc.req, nil)
		var body struct {
			webapp.Error
			Details []webapp.Error `json:"details"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatalf("%s: %v: %s", tc.name, err, r.body)
		}
		var fields []string
		for _, d := range body.Details {
			fields = append(fields, d.Field)
			if !strings.Contains(d.Message, "refused by the outbound address policy") && !strings.Contains(d.Message, "file://") &&
				!strings.Contains(d.Message, "kernel command line") {
				t.Errorf("%s: %s: message %q", tc.name, d.Field, d.Message)
			}
		}
		if len(fields) == 0 {
			fields = []string{body.Field}
		}
		if diff := cmp.Diff(tc.want, fields); diff != "" || r.status != 422 {
			t.Errorf("%s: status %d, fields (-want +got):\n%s\n%s", tc.name, r.status, diff, r.body)
		}
	}
	if n, recs := f.queued(t); n != 0 || recs != 0 {
		t.Errorf("refused submissions left %d tasks and %d records", n, recs)
	}
	if n := c.Hits(); n != 0 {
		t.Fatalf("the canary was reached %d times", n)
	}
}
