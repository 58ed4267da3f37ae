package submission_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/tasks/submission"
	"github.com/fedora-fbs/fbs/testing/netnstest"
)

func bootSpec(repo, mirror, proxy string) tasks.Spec {
	return tasks.Spec{Type: tasks.TypeBoot, Arch: "x86_64", Release: "41", Staging: "file:///srv/fbs/out",
		Boot: &tasks.BootSpec{Product: "Fedora", Release: "41", Version: "41", Proxy: proxy,
			Repos: []tasks.Repo{{Name: "41", URL: repo, Mirror: mirror}}}}
}

func liveSpec() tasks.Spec {
	return tasks.Spec{Type: tasks.TypeLive, Arch: "x86_64", Release: "41", Staging: "file:///srv/fbs/out",
		Live: &tasks.LiveSpec{Label: "L", Title: "T", Product: "Fedora", ReleaseVer: "41", Config: "a.ks", Builder: tasks.BuilderLiveMedia}}
}

// TestPrepareOutbound submits, as the web app does, every kind of URL a
// request carries pointing at loopback canaries, link-local and private
// addresses and file://: each is refused with its field, by the policy,
// and allowed again by [security] where that is the point. It runs in a
// loopback-only network namespace.
func TestPrepareOutbound(t *testing.T) {
	if !netnstest.Isolate(t) {
		return
	}
	c := netnstest.NewCanary(t)
	canary := c.Addr
	staging := &tasks.StagingPolicy{Remote: true, FileRoot: "/srv/fbs"}
	web := submission.Config{Staging: staging, Egress: egress.New(egress.Config{})}
	allowLoopback := submission.Config{Staging: staging, FetchEgress: egress.Open(),
		Egress: egress.New(egress.Config{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})}
	local := submission.Config{LocalFiles: true, LocalKickstarts: true, Egress: egress.Open(), FetchEgress: egress.Open()}
	ksRepo := func(line string) map[string][]byte { return map[string][]byte{"a.ks": []byte(ks + line + "\n")} }
	upload := ksRepo("")
	for _, tc := range []struct {
		name  string
		cfg   submission.Config
		spec  tasks.Spec
		files map[string][]byte
		want  []string // field path of each error; nil: accepted
	}{
		{"staging at the metadata address", web, withStaging("ftp://169.254.169.254/x"), upload, []string{"staging"}},
		{"staging at a loopback canary", web, withStaging("ftp://" + canary + "/x"), upload, []string{"staging"}},
		{"staging at a bare loopback host", web, withStaging(canary), upload, []string{"staging"}},
		{"sftp staging on localhost", web, withStaging("sftp://u@localhost/x"), upload, []string{"staging"}},
		{"ftps staging on a private address", web, withStaging("ftps://10.1.2.3/x"), upload, []string{"staging"}},
		{"staging on IPv6 loopback", web, withStaging("sftp://u@[::1]/x"), upload, []string{"staging"}},
		{"staging at a v4-mapped loopback", web, withStaging("sftp://u@[::ffff:127.0.0.1]/x"), upload, []string{"staging"}},
		{"staging canary allowed by [security]", allowLoopback, withStaging("ftp://" + canary + "/x"), upload, nil},
		{"ISO from a loopback canary", web, ksisoSpec("http://"+canary+"/boot.iso", "a.ks"), upload, []string{"ksiso.iso"}},
		{"ISO from a unique-local address", web, ksisoSpec("http://[fd00::1]/boot.iso", "a.ks"), upload, []string{"ksiso.iso"}},
		{"ISO canary allowed by [security]", allowLoopback, ksisoSpec("http://"+canary+"/boot.iso", "a.ks"), upload, nil},
		{"boot repo file:///etc/", web, bootSpec("file:///etc/", "", ""), nil, []string{"boot.41_url"}},
		{"boot repo at a loopback canary", web, bootSpec("http://"+canary+"/", "", ""), nil, []string{"boot.41_url"}},
		{"boot mirror on a private address", web, bootSpec("", "http://192.168.0.1/mirrorlist", ""), nil, []string{"boot.41_mirror"}},
		{"boot proxy at a loopback canary", web, bootSpec("https://dl.fedoraproject.org/pub/", "", "http://"+canary), nil, []string{"boot.proxy"}},
		{"boot repo of an unknown scheme", web, bootSpec("gopher://dl.fedoraproject.org/", "", ""), nil, []string{"boot.41_url"}},
		{"public boot repo", web, bootSpec("https://dl.fedoraproject.org/pub/fedora/linux/releases/41/Everything/x86_64/os/", "", ""), nil, nil},
		{"boot repo file:// in a local build", local, bootSpec("file:///srv/repo/", "", "http://"+canary), nil, nil},
		{"live kickstart repo file:///etc", web, liveSpec(), ksRepo("repo --name=x --baseurl=file:///etc"), []string{"kickstart"}},
		{"live kickstart url at the metadata address", web, liveSpec(), ksRepo("url --url=http://169.254.169.254/latest"), []string{"kickstart"}},
		{"live kickstart repo at a canary", web, liveSpec(), ksRepo("repo --name=x --mirrorlist http://" + canary + "/"), []string{"kickstart"}},
		{"live kickstart repo canary allowed", allowLoopback, liveSpec(), ksRepo("repo --name=x --baseurl=http://" + canary + "/"), nil},
		{"ksiso kickstart repo runs on the installed machine", web, ksisoSpec("boot.iso", "a.ks"), ksRepo("repo --name=x --baseurl=file:///run/install/repo/x/"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := submission.New(tc.cfg).Prepare(context.Background(), submission.Request{Spec: tc.spec, Owner: "alice"}, tc.files)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Prepare: %v", err)
				}
				return
			}
			var got []string
			for _, f := range fields(t, err) {
				got = append(got, strings.TrimSuffix(f, " invalid"))
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("errors (-want +got):\n%s\n%v", d, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "refused by the outbound address policy") && !strings.Contains(msg, "file://") && !strings.Contains(msg, "scheme") {
				t.Errorf("error %q is not the policy's", msg)
			}
		})
	}
	if n := c.Hits(); n != 0 {
		t.Fatalf("the canary was reached %d times at submit", n)
	}
}

func withStaging(s string) tasks.Spec {
	sp := ksisoSpec("boot.iso", "a.ks")
	sp.Staging = s
	return sp
}
