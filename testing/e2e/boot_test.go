package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/testing/boottest"
	"github.com/fedora-fbs/fbs/testing/isomd5test"
)

// bootVolID is the volume ID of the ISO TestKSISOBoots boots, in the shape
// of Fedora's.
const bootVolID = "Fedora-E-dvd-x86_64-41"

// bootCmdline is the spec's cmdline= in TestKSISOBoots: arguments fbs adds
// to every kernel line.
const bootCmdline = "inst.text fbs.added=yes"

// bootRmArgs is the spec's rm_args= in TestKSISOBoots: arguments fbs
// removes from every kernel line. The default entries ("Test this media &
// install") have it.
const bootRmArgs = "rd.live.check"

// TestKSISOBoots builds a kickstart ISO with `fbs build --local` from a
// bootable ISO in Fedora's layout (a real kernel and a stand-in installer,
// see testing/boottest) and boots the staged result in QEMU twice: BIOS
// (isolinux.cfg) and UEFI through the GRUB EFI image in images/efiboot.img
// (which reads the ISO's EFI/BOOT/grub.cfg). Each time
// the default menu entry must have booted with inst.ks= pointing at the
// injected kickstart (the old inst.ks= gone), the spec's rm_args removed
// and its cmdline added, and
// the stand-in installer must have found the volume by its label and read
// the kickstart's first line.
func TestKSISOBoots(t *testing.T) {
	t.Parallel()
	input := boottest.ISO(t, bootVolID)
	e := newEnv(t)
	iso := filepath.Join(e.isoDir, "Fedora-Everything-netinst-x86_64-41.iso")
	b, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}
	e.write(iso, string(b))
	spec := filepath.Join(e.ksDir, "boot.conf")
	e.write(spec, `[DEFAULT]
type=ksiso
arch=x86_64
release=41
staging=file://`+e.staging+`
email=tester@example.org
[ksiso]
iso=`+iso+`
config=main.ks
cmdline=`+bootCmdline+`
rm_args=`+bootRmArgs+`
`)
	out, errs, code := e.run("build", "--config", e.config("local", ""), "--local", spec)
	if code != 0 {
		t.Fatalf("fbs build --local: exit %d\n%s\n%s", code, out, errs)
	}
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	staged := filepath.Join(e.staging, id, "Fedora-Everything-netinst-x86_64-41-ks.iso")
	ks, err := os.ReadFile(filepath.Join(e.staging, id, "kickstart.ks"))
	if err != nil {
		t.Fatal(err)
	}
	ksFirst, _, _ := strings.Cut(string(ks), "\n")
	// "Test this media & install" (rd.live.check) runs checkisomd5 on
	// the staged ISO: its implanted MD5 must hold.
	if ok, out := isomd5test.Check(t, staged); !ok {
		t.Errorf("checkisomd5 fails the staged kickstart ISO:\n%s", out)
	}

	for _, tt := range []struct {
		mode  boottest.Mode
		entry string
	}{
		{boottest.BIOSCD, boottest.EntryIsolinux},
		{boottest.UEFICD, boottest.EntryISOGrub},
	} {
		t.Run(string(tt.mode), func(t *testing.T) {
			t.Parallel()
			r := boottest.Boot(t, staged, tt.mode)
			t.Logf("%s: booted and powered off in %s", tt.mode, r.Elapsed.Round(100_000_000))
			args := map[string]int{}
			for _, a := range r.Args() {
				args[a]++
			}
			wantKS := "inst.ks=hd:LABEL=" + bootVolID + ":/ks.cfg"
			// The default entry of the menu this mode reads, with the
			// kickstart and the spec's arguments added.
			want := append([]string{tt.entry, "inst.stage2=hd:LABEL=" + bootVolID, "console=ttyS0,115200", wantKS}, strings.Fields(bootCmdline)...)
			for _, a := range want {
				if args[a] != 1 {
					t.Errorf("kernel argument %q appears %d times, want once; /proc/cmdline: %s", a, args[a], r.Cmdline)
				}
			}
			removed := map[string]bool{}
			for _, name := range strings.Fields(bootRmArgs) {
				removed[name] = true
			}
			for a := range args {
				name, _, _ := strings.Cut(a, "=")
				if removed[name] {
					t.Errorf("kernel argument %q is in rm_args but was not removed; /proc/cmdline: %s", a, r.Cmdline)
				}
				if name == "inst.ks" && a != wantKS {
					t.Errorf("kernel argument %q left beside %q; /proc/cmdline: %s", a, wantKS, r.Cmdline)
				}
			}
			if r.Label != bootVolID {
				t.Errorf("inst.ks= names label %q, want %q", r.Label, bootVolID)
			}
			if r.KSFirstLine != ksFirst {
				t.Errorf("the installer read %q from the kickstart on %s, want %q (first line of the staged kickstart.ks)", r.KSFirstLine, r.Device, ksFirst)
			}
		})
	}
}
