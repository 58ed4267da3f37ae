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

// TestSubmitRefusesNumericHosts: host names that libcurl, inet_aton and
// browsers read as loopback addresses (decimal, hex, octal, short IPv4
// forms; non-ASCII digits IDNA maps to ASCII), and IPv6 addresses that
// embed one, are refused at submit, though Go would resolve them as names
// (and, in a namespace without DNS, fail to). Loopback-only namespace.
func TestSubmitRefusesNumericHosts(t *testing.T) {
	if !netnstest.Isolate(t) {
		return
	}
	c := netnstest.NewCanary(t)
	_, port, _ := strings.Cut(c.Addr, ":")
	f := setup(t, func(cfg *webapp.Config) { cfg.Egress = egress.New(egress.Config{}) })
	ks := map[string]string{"k.ks": "lang C\nkeyboard us\ntimezone UTC\n"}
	for _, host := range []string{"2130706433", "0x7f.1", "0x7f000001", "017700000001", "127.1", "0177.0.0.1",
		"127.000.000.001", "①②⑦.0.0.1", "１２７.０.０.１", "[::127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]"} {
		for field, set := range map[string]func(*tasks.Spec){
			"spec.staging": func(sp *tasks.Spec) { sp.Staging = "ftp://" + host + ":" + port + "/x" },
			"bare":         func(sp *tasks.Spec) { sp.Staging = host + ":" + port },
			"spec.ksiso.iso": func(sp *tasks.Spec) {
				sp.KSISO.ISO = "http://" + host + ":" + port + "/boot.iso"
			},
		} {
			sp := f.ksisoSpec("k.ks")
			set(&sp)
			r := f.postJSON(t, "/api/v1/builds", apiclient.SubmitRequest{Spec: sp, Kickstarts: ks}, nil)
			if r.status != 422 || !strings.Contains(string(r.body), "refused by the outbound address policy") &&
				!strings.Contains(string(r.body), "nor a bare FTP host name") {
				t.Errorf("%s with host %s: status %d: %s", field, host, r.status, r.body)
			}
		}
	}
	// dnf reads a base URL as a list and replaces $variables in it.
	live := tasks.Spec{Type: tasks.TypeLive, Arch: "x86_64", Release: "41", Staging: f.staging,
		Live: &tasks.LiveSpec{Label: "L", Title: "T", Product: "Fedora", ReleaseVer: "41", Config: "k.ks", Builder: tasks.BuilderLiveCD}}
	for _, line := range []string{
		"repo --name=x --baseurl=https://mirror.example/,http://" + c.Addr + "/",
		"repo --name=x --baseurl=\"https://mirror.example/ http://" + c.Addr + "/\"",
		"url --url=http://127.0.0.1$releasever:" + port + "/",
	} {
		ks := map[string]string{"k.ks": "lang C\nkeyboard us\ntimezone UTC\n" + line + "\n"}
		r := f.postJSON(t, "/api/v1/builds", apiclient.SubmitRequest{Spec: live, Kickstarts: ks}, nil)
		if r.status != 422 || !strings.Contains(string(r.body), "refused by the outbound address policy") {
			t.Errorf("kickstart line %q: status %d: %s", line, r.status, r.body)
		}
	}
	if n, recs := f.queued(t); n != 0 || recs != 0 {
		t.Errorf("refused submissions left %d tasks and %d records", n, recs)
	}
	if n := c.Hits(); n != 0 {
		t.Fatalf("the canary was reached %d times", n)
	}
}
