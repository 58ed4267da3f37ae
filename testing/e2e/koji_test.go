package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/testing/isotest"
	"github.com/fedora-fbs/fbs/testing/kojitest"
	"github.com/fedora-fbs/fbs/testing/rpmtest"
)

// TestKSISOWithKojiSideRepo builds a kickstart ISO with extra packages from
// a Koji hub on loopback: the worker resolves the NVR and build ID, makes a
// side repository with createrepo_c and puts it on the ISO as /fbs-side,
// and the kickstart on the ISO names it where the installer will see it. A
// second build reuses the RPM cache.
func TestKSISOWithKojiSideRepo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hub := kojitest.New(t)
	hub.AddBuild(t, 41, rpmtest.Build(t, rpmtest.Spec{Name: "fbs-tool", Version: "1.2", Release: "1.fc41", Packages: []rpmtest.Package{
		{Name: "fbs-tool", Payload: 256 << 10},
		{Name: "fbs-tool-debuginfo"},
	}})...)
	hub.AddBuild(t, 42, rpmtest.Build(t, rpmtest.Spec{Name: "fbs-docs", Version: "2", Release: "1.fc41", Packages: []rpmtest.Package{
		{Name: "fbs-docs-html", NoArch: true},
	}})...)
	e.moreConf = "[koji]\nhub_url = " + hub.URL + "\npackages_url = " + hub.PackagesURL + "\n"
	e.specExtra = "nvr=fbs-tool-1.2-1.fc41\nbid=42"
	e.worker("host1")
	cfg := e.config("client", "")
	out, errs, code := e.run("submit", "--config", cfg, "--wait", e.spec("k.conf", "x86_64", "boot.iso"))
	if code != 0 {
		t.Fatalf("build with extra packages: %s\n%s", errs, out)
	}
	id := strings.SplitN(out, "\n", 2)[0]
	for _, want := range []string{"stage side repo: done", "side repo: ready"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	checkStaged(t, e, id)
	iso, _ := filepath.Glob(filepath.Join(e.staging, id, "*.iso"))
	info := isotest.Inspect(t, iso[0])
	// The kickstart names the repository where the installer sees the ISO,
	// not the worker's build directory, gone by the time the ISO installs.
	ks := info.Files["ks.cfg"]
	if !strings.Contains(ks, "\nrepo --name=fbs-side --baseurl=file:///run/install/repo/fbs-side/\n") {
		t.Errorf("ks.cfg on the ISO does not name the side repository on the ISO:\n%s", ks)
	}
	// The ISO carries the repository: metadata and exactly the RPMs.
	var onISO []string
	for _, p := range info.Paths {
		if strings.HasPrefix(p, "fbs-side/") && (strings.HasSuffix(p, ".rpm") || p == "fbs-side/repodata/repomd.xml") {
			onISO = append(onISO, p)
		}
	}
	want := []string{"fbs-side/fbs-docs-html-2-1.fc41.noarch.rpm", "fbs-side/fbs-tool-1.2-1.fc41.x86_64.rpm", "fbs-side/repodata/repomd.xml"}
	if diff := cmp.Diff(want, onISO); diff != "" {
		t.Errorf("side repository on the ISO (-want +got):\n%s", diff)
	}
	pkgs := []string{"fbs-docs-html-2-1.fc41.noarch", "fbs-tool-1.2-1.fc41.x86_64"}
	if diff := cmp.Diff(pkgs, rpmtest.RepoQuery(t, isotest.Extract(t, iso[0], "fbs-side"))); diff != "" {
		t.Errorf("dnf repoquery of the ISO's /fbs-side (-want +got):\n%s", diff)
	}
	if hub.Gets("fbs-tool-debuginfo-1.2-1.fc41.x86_64.rpm") != 0 {
		t.Error("debuginfo RPM was downloaded")
	}
	gets := hub.TotalGets()
	if _, errs, code := e.run("submit", "--config", cfg, "--wait", e.spec("k2.conf", "x86_64", "boot.iso")); code != 0 {
		t.Fatalf("second build: %s", errs)
	}
	if n := hub.TotalGets(); n != gets {
		t.Errorf("second build downloaded %d RPMs again; the cache should serve them", n-gets)
	}

	// An unknown NVR fails in the side repo stage, before any image is built.
	e.specExtra = "nvr=fbs-nothing-9-9.fc41"
	out, _, code = e.run("submit", "--config", cfg, "--wait", e.spec("bad.conf", "x86_64", "boot.iso"))
	if code == 0 || !strings.Contains(out, "stage side repo: failed") || strings.Contains(out, "stage build: started") {
		t.Errorf("unknown NVR: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "fbs-nothing-9-9.fc41") {
		t.Errorf("the failure does not name the NVR:\n%s", out)
	}
}
