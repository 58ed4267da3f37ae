package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/testing/isotest"
	"github.com/fedora-fbs/fbs/testing/kojitest"
	"github.com/fedora-fbs/fbs/testing/loraxtest"
	"github.com/fedora-fbs/fbs/testing/rpmtest"
)

// releaseRepo makes a yum repository with comps of real RPMs for arch and
// serves it on loopback, standing in for a release's repository.
func releaseRepo(t *testing.T, arch string) string {
	t.Helper()
	rpms := rpmtest.Build(t, rpmtest.Spec{Name: "fbs-hello", Version: "1.0", Release: "1.fc17", Arch: arch,
		Packages: []rpmtest.Package{{Name: "fbs-hello", Requires: []string{"fbs-lib"}}, {Name: "fbs-lib"}, {Name: "fbs-base"}, {Name: "fbs-unused"}}})
	return rpmtest.Serve(t, rpmtest.Repo(t, rpms, `<?xml version="1.0" encoding="UTF-8"?>
<comps><group><id>core</id><name>Core</name><description>Core</description><default>true</default><uservisible>false</uservisible>
<packagelist><packagereq type="mandatory">fbs-base</packagereq></packagelist></group></comps>
`))
}

// TestBuildLocalOriginalDVD builds the original service's
// dvd_imagebuild.conf with `fbs build --local`, only its staging and
// kickstart URL adjusted for the test machine: lorax is the stand-in of
// testing/loraxtest, the release repository and the Koji hub that serves
// its nvr= build are on loopback, and everything else (dnf, createrepo_c,
// xorriso, implantisomd5) runs for real. The staged ISO is installable: its
// tree has the packages, repodata with comps, .treeinfo and .discinfo, and
// its implanted MD5 checks.
func TestBuildLocalOriginalDVD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	orig, err := os.ReadFile("../../../shared/original-specs/dvd_imagebuild.conf")
	if err != nil {
		t.Fatal(err)
	}
	hub := kojitest.New(t)
	hub.AddBuild(t, 1, rpmtest.Build(t, rpmtest.Spec{Name: "python", Version: "2.7.3", Release: "7.1.fc17", Arch: "i686",
		Packages: []rpmtest.Package{{Name: "python"}}})...)
	repo := releaseRepo(t, "i686")
	e.write(filepath.Join(e.ksDir, "fedora-install-fedora.ks"), "lang en_US.UTF-8\n%packages\n@core\nfbs-hello\npython\n%end\n")
	spec := regexp.MustCompile(`(?m)^staging=.*$`).ReplaceAllString(string(orig), "staging=file://"+e.staging)
	spec = regexp.MustCompile(`(?m)^config=.*$`).ReplaceAllString(spec, "config=fedora-install-fedora.ks")
	specPath := filepath.Join(e.ksDir, "dvd_imagebuild.conf")
	e.write(specPath, spec)
	e.moreConf = "[koji]\nhub_url = " + hub.URL + "\npackages_url = " + hub.PackagesURL + "\n" +
		"[dvd]\nrepos = " + repo + "\n" +
		"[tools]\nlorax = " + loraxtest.Script(t) + "\n"
	cfg := e.config("local", "")
	out, errs, code := e.run("build", "--config", cfg, "--local", specPath)
	if code != 0 {
		t.Fatalf("fbs build --local the original DVD spec: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"force=1 no longer applies"} {
		if !strings.Contains(out+errs, want) {
			t.Errorf("output lacks the warning %q:\n%s\n%s", want, out, errs)
		}
	}
	isos, _ := filepath.Glob(filepath.Join(e.staging, "*", "fedora-17-i386-DVD.iso"))
	if len(isos) != 1 {
		t.Fatalf("staged DVDs %v, want one fedora-17-i386-DVD.iso\n%s", isos, out)
	}
	if out, err := exec.Command("checkisomd5", isos[0]).CombinedOutput(); err != nil {
		t.Errorf("checkisomd5: %v\n%s", err, out)
	}
	tree := isotest.Extract(t, isos[0], "")
	want := []string{"fbs-base-1.0-1.fc17.i686", "fbs-hello-1.0-1.fc17.i686", "fbs-lib-1.0-1.fc17.i686", "python-2.7.3-7.1.fc17.i686"}
	if diff := cmp.Diff(want, rpmtest.RepoQuery(t, tree)); diff != "" {
		t.Errorf("packages on the DVD (-want +got):\n%s", diff)
	}
	for _, f := range []string{".treeinfo", ".discinfo", "images/install.img", "isolinux/isolinux.bin", "EFI/BOOT/grub.cfg"} {
		if _, err := os.Stat(filepath.Join(tree, f)); err != nil {
			t.Errorf("DVD tree lacks %s: %v", f, err)
		}
	}
	ti, _ := os.ReadFile(filepath.Join(tree, ".treeinfo"))
	for _, want := range []string{"[variant-Desktop]", "packages = Packages", "[images-i386]", "mainimage = images/install.img"} {
		if !strings.Contains(string(ti), want) {
			t.Errorf(".treeinfo lacks %q:\n%s", want, ti)
		}
	}
}
