package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/testing/kstest"
)

// The README's first build, a spin that includes Fedora's kickstarts: the
// operator syncs release 41's from the fedora-kickstarts branch archive
// (served here over loopback), lists them, and `fbs build --local` of the
// README's spec flattens `%include fedora-minimal-common.ks` with F41's
// syntax into the staged kickstart.
func TestREADMESpinExample(t *testing.T) {
	t.Parallel()
	fedora := kstest.FedoraDir(t)
	e := newEnv(t)
	cfg := e.config("local", "")
	url := kstest.Serve(t, kstest.Archive(t, fedora, "fedora-kickstarts-f41")) + "/fedora-kickstarts/archive/f41/fedora-kickstarts-f41.tar.gz"
	out, errs, code := e.run("ks", "sync", "--config", cfg, "--release", "41", "--from", url)
	if code != 0 || !strings.Contains(out, "release 41: ") {
		t.Fatalf("fbs ks sync: exit %d\n%s\n%s", code, out, errs)
	}
	out, errs, code = e.run("ks", "list", "--config", cfg, "--release", "41")
	if code != 0 || !strings.Contains(out, "fedora-live-base ") || !strings.Contains(out, "fbs-live-minimal ") {
		t.Fatalf("fbs ks list --release 41: exit %d\n%s\n%s", code, out, errs)
	}
	if out, _, _ := e.run("ks", "list", "--config", cfg, "--release", "42"); strings.Contains(out, "fedora-live-base") {
		t.Errorf("release 42 was not synced, yet lists Fedora's kickstarts:\n%s", out)
	}

	e.write(filepath.Join(e.ksDir, "my.ks"), "%include fedora-minimal-common.ks\nrootpw --lock\n")
	spec := filepath.Join(e.ksDir, "readme.conf")
	e.write(spec, "[DEFAULT]\ntype=ksiso\narch=x86_64\nrelease=41\nstaging=file://"+e.staging+
		"\n[ksiso]\niso="+e.iso+"\nconfig=my.ks\ncmdline=console=ttyS0\n")
	out, errs, code = e.run("build", "--config", cfg, "--local", spec)
	if code != 0 {
		t.Fatalf("fbs build --local of the README's spec: exit %d\n%s\n%s", code, out, errs)
	}
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	isos, _ := filepath.Glob(filepath.Join(e.staging, id, "*.iso"))
	if len(isos) != 1 {
		t.Errorf("staged ISOs: %v, want one", isos)
	}
	ks, err := os.ReadFile(filepath.Join(e.staging, id, "kickstart.ks"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\n#version=F41\n", "\nmicrodnf\n", "\n-@standard\n", "multi-user.target", "\nrootpw --lock"} {
		if !strings.Contains(string(ks), want) {
			t.Errorf("staged kickstart lacks %q:\n%s", want, ks)
		}
	}
}
