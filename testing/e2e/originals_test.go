package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/testing/kojitest"
	"github.com/fedora-fbs/fbs/testing/kstest"
	"github.com/fedora-fbs/fbs/testing/loraxtest"
	"github.com/fedora-fbs/fbs/testing/rpmtest"
)

// originalSpec reads one of the original service's spec files and rewrites
// the lines named in set (key -> value), so that no test dials or resolves
// the original's hosts.
func originalSpec(t *testing.T, name string, set map[string]string) string {
	t.Helper()
	orig, err := os.ReadFile(filepath.Join("../../../shared/original-specs", name))
	if err != nil {
		t.Fatal(err)
	}
	spec := string(orig)
	for key, value := range set {
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `=.*$`)
		if !re.MatchString(spec) {
			t.Fatalf("%s has no %s= line", name, key)
		}
		spec = re.ReplaceAllString(spec, key+"="+value)
	}
	for _, host := range []string{"fedoraproject.org", "fedorahosted", "koji", "10.0.0."} {
		for _, line := range strings.Split(spec, "\n") {
			if strings.Contains(line, host) && !strings.HasPrefix(line, "#") {
				t.Fatalf("the test's %s still names %s: %s", name, host, line)
			}
		}
	}
	return spec
}

// staged checks that build id staged each of files (relative to its
// directory) and returns the paths of the staged files matching glob.
func staged(t *testing.T, root, id, glob string, files ...string) []string {
	t.Helper()
	for _, f := range files {
		if st, err := os.Stat(filepath.Join(root, id, filepath.FromSlash(f))); err != nil || st.Size() == 0 {
			t.Errorf("build %s staged no %s (%v)", id, f, err)
		}
	}
	found, _ := filepath.Glob(filepath.Join(root, id, glob))
	return found
}

// TestBuildLocalOriginalBoot builds the original service's
// boot_imagebuild.conf with `fbs build --local`, only its staging and its
// release repository (17_url, 17_mirror) adjusted for the test machine:
// lorax is the stand-in of testing/loraxtest, which refuses options lorax
// does not document, the repository is on loopback and the Koji hub that
// serves its nvr= build (wget) is testing/kojitest.
func TestBuildLocalOriginalBoot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hub := kojitest.New(t)
	hub.AddBuild(t, 1, rpmtest.Build(t, rpmtest.Spec{Name: "wget", Version: "1.13.4", Release: "4.fc17", Arch: "x86_64",
		Packages: []rpmtest.Package{{Name: "wget"}}})...)
	repo := releaseRepo(t, "x86_64")
	spec := originalSpec(t, "boot_imagebuild.conf", map[string]string{
		"staging":   "file://" + e.staging,
		"17_url":    repo,
		"17_mirror": repo + "/metalink?repo=fedora-17&arch=x86_64",
	})
	specPath := filepath.Join(e.ksDir, "boot_imagebuild.conf")
	e.write(specPath, spec)
	e.moreConf = "[koji]\nhub_url = " + hub.URL + "\npackages_url = " + hub.PackagesURL + "\n" +
		"[tools]\nlorax = " + loraxtest.Script(t) + "\n"
	cfg := e.config("local", "")
	out, errs, code := e.run("build", "--config", cfg, "--local", specPath)
	if code != 0 {
		t.Fatalf("fbs build --local the original boot spec: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"outdir", "workdir"} {
		if !strings.Contains(out+errs, want) {
			t.Errorf("output lacks a warning for the ignored key %q:\n%s\n%s", want, out, errs)
		}
	}
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	isos := staged(t, e.staging, id, "*.iso", "build.log", "CHECKSUM", "logs/lorax.log")
	if len(isos) != 1 {
		t.Fatalf("staged ISOs %v, want one\n%s\n%s", isos, out, errs)
	}
	if filepath.Base(isos[0]) != "boot.iso" {
		t.Errorf("staged ISO %s, want boot.iso", isos[0])
	}
	// lorax ran with the loopback release repository and the side
	// repository of the Koji build as its sources.
	log, _ := os.ReadFile(filepath.Join(e.staging, id, "build.log"))
	for _, want := range []string{"lorax -p fedora -v 17 -r 17 -s " + repo + " -s file://", "/side-repo --buildarch x86_64 ",
		"side repo: 1 RPMs, 0.0 MB, from Koji builds wget-1.13.4-4.fc17"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("build.log lacks %q:\n%s", want, log)
		}
	}
}

// TestBuildLocalOriginalLive builds the original service's
// live_imagebuild.conf (i686, rawhide) with `fbs build --local`, only its
// staging and kickstart adjusted for the test machine: its config, a
// fedorahosted URL of fedora-live-mini.ks, becomes a kickstart in the
// test's kickstart directory that includes Fedora's fedora-live-base.ks,
// resolved as a standard kickstart from [kickstarts] dir (the
// fedora-kickstarts snapshot). livemedia-creator is the stand-in of
// testing/loraxtest, which refuses options livemedia-creator does not
// document.
func TestBuildLocalOriginalLive(t *testing.T) {
	t.Parallel()
	fedora := kstest.FedoraDir(t)
	e := newEnv(t)
	e.write(filepath.Join(e.ksDir, "fedora-live-mini.ks"), "%include fedora-live-base.ks\n%packages\nfbs-hello\n%end\n")
	spec := originalSpec(t, "live_imagebuild.conf", map[string]string{
		"staging": "file://" + e.staging,
		"config":  "fedora-live-mini.ks",
	})
	specPath := filepath.Join(e.ksDir, "live_imagebuild.conf")
	e.write(specPath, spec)
	e.moreConf = "[kickstarts]\ndir = " + fedora + "\n" +
		"[tools]\nlivemedia-creator = " + loraxtest.LiveMediaCreator(t, loraxtest.Succeed) + "\n"
	cfg := e.config("local", "")
	out, errs, code := e.run("build", "--config", cfg, "--local", specPath)
	if code != 0 {
		t.Fatalf("fbs build --local the original live spec: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"tmpdir", "cachedir", "logfile"} {
		if !strings.Contains(out+errs, want) {
			t.Errorf("output lacks a warning for the ignored key %q:\n%s\n%s", want, out, errs)
		}
	}
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	isos := staged(t, e.staging, id, "*.iso", "build.log", "CHECKSUM", "kickstart.ks",
		"logs/livemedia.log", "logs/program.log", "logs/anaconda/packaging.log")
	if len(isos) != 1 {
		t.Fatalf("staged ISOs %v, want one\n%s\n%s", isos, out, errs)
	}
	ks, err := os.ReadFile(filepath.Join(e.staging, id, "kickstart.ks"))
	if err != nil {
		t.Fatal(err)
	}
	// fedora-live-base.ks's own lines, flattened with the development
	// syntax of rawhide.
	for _, want := range []string{"#version=DEVEL", "cat > /etc/rc.d/init.d/livesys << EOF", "\nfbs-hello\n"} {
		if !strings.Contains(string(ks), want) {
			t.Errorf("staged kickstart lacks %q:\n%s", want, ks)
		}
	}
}
