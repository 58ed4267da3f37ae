package webapp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/webapp/apiclient"
)

// TestUnofferedRefusedEverywhere submits release 17 and arch i686, which the
// service does not offer, through each way in: every one refuses it with a
// field error naming the field as that way names it, and queues nothing.
func TestUnofferedRefusedEverywhere(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) { c.Arches = []string{"x86_64", "aarch64"} })
	hc := f.browser(t)
	csrf := csrfOf(t, f.do(t, hc, http.MethodGet, "/build", "", nil, nil).body)
	ks := readKS(t, "fedora-repo-rawhide.ks")
	for _, tc := range []struct {
		key, value, json, ini string
	}{
		{"arch", "i686", "spec.arch", "[DEFAULT] arch"},
		{"release", "17", "spec.release", "[DEFAULT] release"},
	} {
		s := f.ksisoSpec("k.ks")
		if tc.key == "arch" {
			s.Arch = tc.value
		} else {
			s.Release = tc.value
		}
		ini := fmt.Sprintf("[DEFAULT]\ntype=ksiso\narch=%s\nrelease=%s\nstaging=%s\n[ksiso]\niso=boot.iso\nconfig=k.ks\n", s.Arch, s.Release, f.staging)
		t.Run(tc.key+" API JSON", func(t *testing.T) {
			r := f.postJSON(t, "/api/v1/builds", apiclient.SubmitRequest{Spec: s, Kickstarts: map[string]string{"k.ks": ks}}, nil)
			if e := r.apiError(t); r.status != 422 || e.Field != tc.json || !strings.Contains(e.Message, "not offered") {
				t.Errorf("got %d %+v; want 422 naming %s", r.status, e, tc.json)
			}
		})
		t.Run(tc.key+" API spec file", func(t *testing.T) {
			ct, body := multipartBody(t, nil, map[string][][2]string{"spec": {{"s.conf", ini}}, "kickstart": {{"k.ks", ks}}})
			r := f.do(t, nil, http.MethodPost, "/api/v1/builds", ct, body, nil)
			if e := r.apiError(t); r.status != 422 || e.Field != tc.ini || !strings.Contains(e.Message, "not offered") {
				t.Errorf("got %d %+v; want 422 naming %s", r.status, e, tc.ini)
			}
		})
		t.Run(tc.key+" /rest", func(t *testing.T) {
			r := f.postJSON(t, "/rest", apiclient.RestRequest{Config: ini, KSFName: "k.ks", KS: &ks}, nil)
			if r.status != 422 || !strings.Contains(string(r.body), tc.ini) || !strings.Contains(string(r.body), "not offered") {
				t.Errorf("got %d %s; want 422 naming %s", r.status, r.body, tc.ini)
			}
		})
		t.Run(tc.key+" form", func(t *testing.T) {
			fields := f.formFields(csrf)
			fields[tc.key] = tc.value
			ct, body := multipartBody(t, fields, uploads(t))
			r := f.do(t, hc, http.MethodPost, "/build", ct, body, nil)
			m := regexp.MustCompile(`<p class="err" id="err-` + tc.key + `">([^<]*)</p>`).FindSubmatch(r.body)
			if r.status != 422 || m == nil || !strings.Contains(string(m[1]), "not offered") {
				t.Errorf("got %d, error beside %s %q; want 422 and \"not offered\"", r.status, tc.key, m)
			}
		})
	}
	// The form offers only the arches configured.
	page := f.do(t, hc, http.MethodGet, "/build", "", nil, nil)
	if strings.Contains(string(page.body), "<option>i686</option>") || !strings.Contains(string(page.body), "<option>aarch64</option>") {
		t.Errorf("form arches: want aarch64 and no i686:\n%.3000s", page.body)
	}
	if n, recs := f.queued(t); n != 0 || recs != 0 {
		t.Errorf("refused submissions left %d tasks and %d records", n, recs)
	}
}

// TestUnservedWarned checks what a submitter is told when no live worker
// can run the build: the API answers with a warning, and the form says why
// beside the choice of type, arch and release.
func TestUnservedWarned(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx := context.Background()
	lacks := "pungi not found in PATH: install it"
	w := &builds.WorkerInfo{ID: "w1/1", Host: "w1", Arch: "x86_64", Releases: []string{"41"}, Queues: []string{tasks.QueueName("x86_64", "41")},
		Capabilities: []tasks.Capability{
			{Kind: tasks.KindKSISO, Tools: []tasks.ToolVersion{{Name: "xorriso", Path: "/usr/bin/xorriso", Version: "xorriso 1.5.6"}}},
			{Kind: tasks.KindDVD, Missing: lacks},
		}}
	if err := f.c.Store().Heartbeat(ctx, w, time.Minute); err != nil {
		t.Fatal(err)
	}
	ks := readKS(t, "fedora-repo-rawhide.ks")
	submit := func(release string) []string {
		s := f.ksisoSpec("k.ks")
		s.Release = release
		r := f.postJSON(t, "/api/v1/builds", apiclient.SubmitRequest{Spec: s, Kickstarts: map[string]string{"k.ks": ks}}, nil)
		var got apiclient.SubmitResponse
		if r.status != 201 || json.Unmarshal(r.body, &got) != nil {
			t.Fatalf("submit for %s: %d %s", release, r.status, r.body)
		}
		return got.Warnings
	}
	if ws := submit("41"); len(ws) != 0 {
		t.Errorf("a build a live worker can run: warnings %q; want none", ws)
	}
	if ws := submit("rawhide"); len(ws) != 1 || !strings.Contains(ws[0], "no live worker serves x86_64 for Fedora rawhide") {
		t.Errorf("a build no worker serves: warnings %q", ws)
	}

	page := f.do(t, f.browser(t), http.MethodGet, "/build?type=dvd&arch=x86_64&release=41", "", nil, nil)
	m := regexp.MustCompile(`<p class="warn" id="unserved">([^<]*)</p>`).FindSubmatch(page.body)
	if m == nil || !strings.Contains(html.UnescapeString(string(m[1])), "w1: "+lacks) {
		t.Errorf("form for a DVD on x86_64/41: no note naming the missing tool:\n%.4000s", page.body)
	}
	contains(t, page.body, `data-key="ksiso x86_64 rawhide"`)
	if strings.Contains(string(page.body), `data-key="ksiso x86_64 41"`) {
		t.Errorf("form notes ksiso on x86_64/41 as unserved; the worker runs it")
	}
}
