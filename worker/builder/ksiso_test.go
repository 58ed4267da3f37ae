package builder

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/isomd5test"
	"github.com/fedora-fbs/fbs/testing/isotest"
	"github.com/fedora-fbs/fbs/testing/rpmtest"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// kickstartPath is a real Fedora kickstart from the shared test data.
const kickstartPath = "../../../shared/fedora-kickstarts/fedora-live-base.ks"

const ksVolID = "Fedora 41 x86_64"

func ksisoJob(t *testing.T, iso, cmdline string) *Job {
	spec := tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "41", Staging: "file:///s",
		KSISO: &tasks.KSISOSpec{ISO: filepath.Base(iso), Config: "fedora-live-base.ks", Cmdline: cmdline}}
	job := testJob(t, newRecorder(t, ""))
	job.Spec, job.ISO, job.Kickstart = spec, iso, kickstartPath
	return job
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "ksiso", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// kernelLines returns the lines of a boot menu that start a kernel.
func kernelLines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && (f[0] == "linux" || f[0] == "linuxefi" || f[0] == "append" && strings.Contains(l, "initrd=")) {
			out = append(out, l)
		}
	}
	return out
}

func TestKSISO(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		make func(testing.TB, string) string
	}{
		{"EFI image file", isotest.BootISO},
		{"appended EFI partition", func(t testing.TB, v string) string { return isotest.BootISOAppendedEFI(t, v, true) }},
		{"appended EFI partition only", func(t testing.TB, v string) string { return isotest.BootISOAppendedEFI(t, v, false) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkKSISO(t, tt.make(t, ksVolID))
		})
	}
}

func checkKSISO(t *testing.T, iso string) {
	before := isotest.Inspect(t, iso)
	const cmdline = `inst.text console=ttyS0,115200 inst.cmdline="x y"`
	job := ksisoJob(t, iso, cmdline)
	if err := Check(&job.Spec, nil); err != nil {
		t.Fatalf("Check: %v", err)
	}
	b, err := New(&job.Spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "mkksiso" {
		t.Errorf("Name() = %q, want mkksiso", b.Name())
	}
	if err := b.Build(context.Background(), job); err != nil {
		t.Fatalf("Build: %v", err)
	}
	entries, err := os.ReadDir(job.OutDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"boot-ks.iso"}, names); diff != "" {
		t.Fatalf("OutDir (-want +got):\n%s", diff)
	}
	after := isotest.Inspect(t, filepath.Join(job.OutDir, "boot-ks.iso"))

	ks, err := os.ReadFile(kickstartPath)
	if err != nil {
		t.Fatal(err)
	}
	if after.Files["ks.cfg"] != string(ks) {
		t.Errorf("ks.cfg on the ISO differs from the kickstart (%d bytes, want %d)", len(after.Files["ks.cfg"]), len(ks))
	}
	if after.VolumeID != ksVolID {
		t.Errorf("volume ID = %q, want %q", after.VolumeID, ksVolID)
	}
	if diff := cmp.Diff(before.BootImages(), after.BootImages()); diff != "" {
		t.Errorf("El Torito boot images (-want +got):\n%s", diff)
	}
	if len(after.BootImages()) != 2 {
		t.Errorf("boot images = %q, want BIOS and UEFI", after.BootImages())
	}
	if !after.HasMBR {
		t.Error("isohybrid MBR lost")
	}

	menus := map[string]string{"efiboot.img:EFI/BOOT/grub.cfg": after.EFIGrubCfg}
	for _, f := range isotest.ConfigFiles() {
		menus[f] = after.Files[f]
	}
	const wantArgs = ` inst.ks=hd:LABEL=Fedora\x2041\x20x86_64:/ks.cfg ` + cmdline
	for name, text := range menus {
		lines := kernelLines(text)
		if len(lines) != 3 {
			t.Errorf("%s: %d kernel lines, want 3:\n%s", name, len(lines), text)
		}
		for _, l := range lines {
			if !strings.HasSuffix(l, wantArgs) || strings.Count(l, "inst.ks=") != 1 {
				t.Errorf("%s: kernel line not patched: %q", name, l)
			}
		}
		golden(t, strings.NewReplacer("/", "_", ":", "_").Replace(name), text)
	}
	if !strings.Contains(after.Files["isolinux/isolinux.cfg"], "\n  localboot 0xffff\n") {
		t.Error("isolinux.cfg lost its local boot entry")
	}
}

func TestKSISOBadInput(t *testing.T) {
	t.Parallel()
	iso := isotest.BootISO(t, ksVolID)
	dir := t.TempDir()

	junk := filepath.Join(dir, "junk.iso")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not an iso\n", 10000)), 0o644); err != nil {
		t.Fatal(err)
	}
	err := (&ksiso{runner: newRunner(nil)}).Build(context.Background(), ksisoJob(t, junk, ""))
	if err == nil || !strings.Contains(err.Error(), junk+" is not an ISO 9660 image") {
		t.Errorf("Build(junk) = %v, want an error naming the file", err)
	}

	// A truncated ISO has a volume descriptor but no directory tree:
	// xorriso itself fails.
	b, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	trunc := filepath.Join(dir, "truncated.iso")
	if err := os.WriteFile(trunc, b[:40*2048], 0o644); err != nil {
		t.Fatal(err)
	}
	err = (&ksiso{runner: newRunner(nil)}).Build(context.Background(), ksisoJob(t, trunc, ""))
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Tool != "xorriso" || len(ee.Tail) == 0 {
		t.Errorf("Build(truncated) = %#v, want an *ExitError from xorriso with a tail", err)
	}

	err = (&ksiso{runner: newRunner(nil)}).Build(context.Background(), ksisoJob(t, iso, `inst.ks=http://example/ks`))
	if err == nil || !strings.Contains(err.Error(), "sets inst.ks") {
		t.Errorf("Build with inst.ks in cmdline = %v, want a refusal", err)
	}
}

// sideRepo makes a yum repository of one real RPM named name with
// createrepo_c and returns its directory.
func sideRepo(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath("createrepo_c"); err != nil {
		t.Fatalf("createrepo_c not found (install Debian package createrepo-c): %v", err)
	}
	dir := t.TempDir()
	for _, p := range rpmtest.Build(t, rpmtest.Spec{Name: name, Version: "1", Release: "1", Packages: []rpmtest.Package{{Name: name}}}) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("createrepo_c", "--quiet", "--no-database", dir).CombinedOutput(); err != nil {
		t.Fatalf("createrepo_c: %v\n%s", err, out)
	}
	return dir
}

// TestKSISOSideRepo puts a side repository onto the kickstart ISO as
// /fbs-side, where the installer finds it (SideRepoISOURL), and makes a
// kickstart ISO again from that ISO with another repository, which must
// replace the first rather than merge with it.
func TestKSISOSideRepo(t *testing.T) {
	t.Parallel()
	iso := isotest.BootISO(t, ksVolID)
	for i, name := range []string{"fbs-first", "fbs-second"} {
		job := ksisoJob(t, iso, "")
		job.SideRepoDir = sideRepo(t, name)
		if err := (&ksiso{runner: newRunner(nil)}).Build(context.Background(), job); err != nil {
			t.Fatalf("build %d: %v", i+1, err)
		}
		iso = filepath.Join(job.OutDir, outputName(iso))
		var got []string
		for _, p := range isotest.Inspect(t, iso).Paths {
			if strings.HasPrefix(p, "fbs-side/") && !strings.HasPrefix(p, "fbs-side/repodata/") || p == "fbs-side/repodata/repomd.xml" {
				got = append(got, p)
			}
		}
		want := []string{"fbs-side/" + name + "-1-1.x86_64.rpm", "fbs-side/repodata/repomd.xml"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("build %d: /fbs-side on the ISO (-want +got):\n%s", i+1, diff)
		}
		if diff := cmp.Diff([]string{name + "-1-1.x86_64"}, rpmtest.RepoQuery(t, isotest.Extract(t, iso, "fbs-side"))); diff != "" {
			t.Errorf("build %d: dnf repoquery of /fbs-side (-want +got):\n%s", i+1, diff)
		}
	}
	if SideRepoISOURL != "file:///run/install/repo/fbs-side/" {
		t.Errorf("SideRepoISOURL = %q, not where Anaconda mounts the ISO's /fbs-side", SideRepoISOURL)
	}
}

func TestKSISOSideRepoWithoutMetadata(t *testing.T) {
	t.Parallel()
	job := ksisoJob(t, isotest.BootISO(t, ksVolID), "")
	job.SideRepoDir = t.TempDir()
	err := (&ksiso{runner: newRunner(nil)}).Build(context.Background(), job)
	if err == nil || !strings.Contains(err.Error(), "side repository "+job.SideRepoDir) {
		t.Errorf("Build with a side repository lacking repodata: err = %v, want one naming it", err)
	}
}

// menuEntries counts the entries of a boot menu: grub's menuentry blocks
// and isolinux's labels.
func menuEntries(text string) int {
	n := 0
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && (f[0] == "menuentry" || strings.EqualFold(f[0], "label")) {
			n++
		}
	}
	return n
}

// TestKSISOCmdline builds kickstart ISOs with legitimate and hostile
// kernel command lines: a legitimate one lands on every kernel line and
// adds no menu entry; a hostile one (a new line, NUL, grub or isolinux
// syntax) is refused by the builder itself, whatever came through the
// queue, and no ISO is written.
func TestKSISOCmdline(t *testing.T) {
	t.Parallel()
	iso := isotest.BootISO(t, ksVolID)
	before := isotest.Inspect(t, iso)
	menus := func(i isotest.Info) map[string]string {
		m := map[string]string{"efiboot.img:EFI/BOOT/grub.cfg": i.EFIGrubCfg}
		for _, f := range isotest.ConfigFiles() {
			m[f] = i.Files[f]
		}
		return m
	}
	entries := map[string]int{}
	for name, text := range menus(before) {
		entries[name] = menuEntries(text)
	}
	t.Run("legitimate", func(t *testing.T) {
		t.Parallel()
		for _, cmdline := range []string{`console=ttyS0,115200 inst.text ip=dhcp rd.live.check`, `inst.cmdline="x y" quiet`} {
			job := ksisoJob(t, iso, cmdline)
			if err := (&ksiso{runner: newRunner(nil)}).Build(context.Background(), job); err != nil {
				t.Fatalf("Build(%q): %v", cmdline, err)
			}
			for name, text := range menus(isotest.Inspect(t, filepath.Join(job.OutDir, "boot-ks.iso"))) {
				if got := menuEntries(text); got != entries[name] {
					t.Errorf("%q: %s has %d menu entries, want %d", cmdline, name, got, entries[name])
				}
				for _, l := range kernelLines(text) {
					if !strings.HasSuffix(l, " "+cmdline) {
						t.Errorf("%q: %s: kernel line %q does not end with it", cmdline, name, l)
					}
				}
			}
		}
	})
	for _, cmdline := range []string{
		"quiet\nmenuentry 'evil' {\n  linux /evil\n}",
		"quiet\r\nlabel evil\n  kernel /evil",
		"quiet\x00rest",
		"quiet\tinst.text\vx",
		`quiet; linux /evil`,
		`quiet } menuentry evil { linux /evil`,
		`quiet $root`,
		`quiet ${prefix}/x`,
		`quiet "unbalanced`,
		`quiet 'single'`,
		`quiet \" x`,
		`quiet # comment`,
		`quiet | x & y`,
		"quiet \u00e9",
		strings.Repeat("a", tasks.MaxCmdline+1),
	} {
		t.Run("hostile", func(t *testing.T) {
			t.Parallel()
			job := ksisoJob(t, iso, cmdline)
			err := (&ksiso{runner: newRunner(nil)}).Build(context.Background(), job)
			if err == nil || !strings.Contains(err.Error(), "[ksiso] cmdline") {
				t.Errorf("Build(%q) = %v, want a refusal of the cmdline", cmdline, err)
			}
			if ents, _ := os.ReadDir(job.OutDir); len(ents) != 0 {
				t.Errorf("Build(%q) wrote %d files", cmdline, len(ents))
			}
			if err := tasks.CheckKernelCmdline(cmdline); err == nil {
				t.Errorf("CheckKernelCmdline(%q) accepted it", cmdline)
			}
		})
	}
}

// TestKSISOMediaCheck builds kickstart ISOs from boot ISOs of both layouts
// (padded with random data, since checkisomd5 needs more than a few
// hundred KiB) and checks the implanted MD5: the real checkisomd5 passes
// the image, and the real implantisomd5 --force on a copy writes the very
// same bytes.
func TestKSISOMediaCheck(t *testing.T) {
	t.Parallel()
	isomd5test.RequireTools(t)
	for _, tc := range []struct {
		name string
		iso  func(testing.TB, string) string
	}{
		{"efiboot-in-tree", isotest.BootISO},
		{"appended-efi", func(t testing.TB, v string) string { return isotest.BootISOAppendedEFI(t, v, true) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			padded := filepath.Join(dir, "padded.iso")
			pad := isotest.DataISO(t, 3<<20+777, 9) // any file of random bytes will do
			out, err := exec.Command("xorriso", "-indev", tc.iso(t, ksVolID), "-outdev", padded,
				"-boot_image", "any", "replay", "-map", pad, "/pad.img").CombinedOutput()
			if err != nil {
				t.Fatalf("pad the boot ISO: %v\n%s", err, out)
			}
			job := ksisoJob(t, padded, "")
			if err := (&ksiso{runner: newRunner(nil)}).Build(context.Background(), job); err != nil {
				t.Fatalf("Build: %v", err)
			}
			got := filepath.Join(job.OutDir, "padded-ks.iso")
			if ok, out := isomd5test.Check(t, got); !ok {
				t.Fatalf("checkisomd5 fails the kickstart ISO:\n%s", out)
			}
			b, err := os.ReadFile(got)
			if err != nil {
				t.Fatal(err)
			}
			ref := filepath.Join(dir, "ref.iso")
			if err := os.WriteFile(ref, b, 0o644); err != nil {
				t.Fatal(err)
			}
			isomd5test.Implant(t, ref, "--force")
			want, err := os.ReadFile(ref)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want, b) {
				t.Fatal("implantisomd5 --force changes the kickstart ISO: the implanted MD5 is not implantisomd5's")
			}
			if info := isotest.Inspect(t, got); len(info.BootImages()) != 2 || !info.HasMBR {
				t.Errorf("boot records of the kickstart ISO: %q, MBR %v; want BIOS and UEFI and an MBR", info.BootImages(), info.HasMBR)
			}
		})
	}
}
