package builder

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/isotest"
)

// filesDir makes a worker iso_dir with an updates image, a directory and a
// file for [ksiso] updates and add.
func filesDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"updates.img":                 "not an updates image\n",
		"root.tar.xz":                 "not a tarball\n",
		"extra-repo/repodata/x.xml":   "<repomd/>\n",
		"extra-repo/pkg-1-1.noarch.x": "rpm\n",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestKSISOOptions builds a kickstart ISO with every mkksiso option from
// an ISO holding every boot configuration mkksiso edits, and checks what
// xorriso reads back: the new volume ID, the added files, and each
// configuration against its golden file.
func TestKSISOOptions(t *testing.T) {
	t.Parallel()
	iso := isotest.BootISOAllConfigs(t, ksVolID)
	job := ksisoJob(t, iso, "console=ttyS0,115200n8")
	job.FilesDir = filesDir(t)
	k := job.Spec.KSISO
	k.RmArgs, k.Updates, k.Add, k.VolID = "quiet rd.live.check", "updates.img", []string{"extra-repo", "root.tar.xz"}, "Fedora-KS-41"
	k.Replace = []tasks.Replace{{From: "Install", To: "Deploy"}, {From: "cio_ignore=all,!condev", To: "cio_ignore=all"}}
	if err := job.Spec.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if err := (&ksiso{runner: newRunner(nil)}).Build(context.Background(), job); err != nil {
		t.Fatalf("Build: %v", err)
	}
	after := isotest.Inspect(t, filepath.Join(job.OutDir, "boot-ks.iso"))
	if after.VolumeID != "Fedora-KS-41" {
		t.Errorf("volume ID = %q, want Fedora-KS-41", after.VolumeID)
	}
	var added []string
	for _, p := range after.Paths {
		if strings.HasPrefix(p, "extra-repo/") || p == "updates.img" || p == "root.tar.xz" {
			added = append(added, p)
		}
	}
	want := []string{"extra-repo/pkg-1-1.noarch.x", "extra-repo/repodata/x.xml", "root.tar.xz", "updates.img"}
	if diff := cmp.Diff(want, added); diff != "" {
		t.Errorf("added files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"BIOS /isolinux/isolinux.bin", "UEFI /images/efiboot.img"}, after.BootImages()); diff != "" {
		t.Errorf("El Torito boot images (-want +got):\n%s", diff)
	}
	menus := map[string]string{"efiboot.img:EFI/BOOT/grub.cfg": after.EFIGrubCfg, "efiboot.img:EFI/BOOT/BOOT.conf": after.EFIBootConf}
	for _, f := range isotest.AllConfigFiles() {
		menus[f] = after.Files[f]
	}
	const args = `inst.ks=hd:LABEL=Fedora-KS-41:/ks.cfg inst.updates=hd:LABEL=Fedora-KS-41:/updates.img console=ttyS0,115200n8`
	for name, text := range menus {
		if text == "" {
			t.Errorf("%s: missing", name)
			continue
		}
		if strings.Contains(text, "Fedora 41") || strings.Contains(text, `Fedora\x2041`) || strings.Contains(text, "quiet") ||
			strings.Contains(text, "rd.live.check") || strings.Contains(text, "Install") {
			t.Errorf("%s: old label, a removed argument or a replaced word is left:\n%s", name, text)
		}
		if strings.HasSuffix(name, ".prm") {
			if got := strings.Join(strings.Fields(text), " "); !strings.HasSuffix(got, " "+args) {
				t.Errorf("%s: parameters %q do not end with %q", name, got, args)
			}
		} else {
			for _, l := range kernelLines(text) {
				if !strings.HasSuffix(l, " "+args) {
					t.Errorf("%s: kernel line %q does not end with %q", name, l, args)
				}
			}
		}
		golden(t, "options_"+strings.NewReplacer("/", "_", ":", "_").Replace(name), text)
	}
}

// TestKSISOOptionsRefused checks the builder's own refusals: whatever came
// through the queue, a bad option, a missing file or a name already on the
// ISO stops the build before any ISO is written.
func TestKSISOOptionsRefused(t *testing.T) {
	t.Parallel()
	iso := isotest.BootISO(t, ksVolID)
	files := filesDir(t)
	for _, tt := range []struct {
		name string
		set  func(*tasks.KSISOSpec)
		want string
	}{
		{"replace entry", func(k *tasks.KSISOSpec) {
			k.Replace = []tasks.Replace{{From: "quiet", To: "quiet\n}\nmenuentry 'evil' {"}}
		}, "ksiso.replace"},
		{"volid", func(k *tasks.KSISOSpec) { k.VolID = "a'b" }, "ksiso.volid"},
		{"rm_args", func(k *tasks.KSISOSpec) { k.RmArgs = "quiet;x" }, "ksiso.rm_args"},
		{"updates path", func(k *tasks.KSISOSpec) { k.Updates = "../" + filepath.Base(files) + "/updates.img" }, "ksiso.updates"},
		{"add missing", func(k *tasks.KSISOSpec) { k.Add = []string{"nothing"} }, `add: "nothing" in the worker's iso_dir`},
		{"add on the ISO", func(k *tasks.KSISOSpec) { k.Add = []string{"images"} }, `"images" is already at the root`},
		{"updates is a directory", func(k *tasks.KSISOSpec) { k.Updates = "extra-repo" }, "not a regular file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.name == "add on the ISO" {
				if err := os.MkdirAll(filepath.Join(files, "images"), 0o755); err != nil && !os.IsExist(err) {
					t.Fatal(err)
				}
			}
			job := ksisoJob(t, iso, "")
			job.FilesDir = files
			tt.set(job.Spec.KSISO)
			err := (&ksiso{runner: newRunner(nil)}).Build(context.Background(), job)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build = %v, want an error containing %q", err, tt.want)
			}
			if ents, _ := os.ReadDir(job.OutDir); len(ents) != 0 {
				t.Errorf("Build wrote %d files", len(ents))
			}
		})
	}
}

func TestRelabelSearch(t *testing.T) {
	t.Parallel()
	r := &relabel{from: "Fedora 41", to: "KS-41"}
	for _, tt := range []struct{ in, want string }{
		{"search --no-floppy --set=root -l 'Fedora 41'", "search --no-floppy --set=root -l 'KS-41'"},
		{"\tsearch --label \"Fedora 41\" --set root", "\tsearch --label 'KS-41' --set root"},
		{"search --label='Fedora 41'", "search --label='KS-41'"},
		{"search -l 'Other'", "search -l 'Other'"},
		{"search -f /images/pxeboot/vmlinuz", "search -f /images/pxeboot/vmlinuz"},
		{"menuentry 'Fedora 41' {", "menuentry 'Fedora 41' {"},
		{"search -l 'Fedora 41'x", "search -l 'Fedora 41'x"},
	} {
		if got := r.search(tt.in); got != tt.want {
			t.Errorf("search(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestKernelEditPrm(t *testing.T) {
	t.Parallel()
	e, err := ksEdit("Fedora 41", &tasks.KSISOSpec{RmArgs: "quiet", VolID: "KS", Cmdline: `inst.cmdline="a b" console=ttyS0`})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.prm("ro ramdisk_size=40000 cio_ignore=all,!condev\n  inst.stage2=hd:LABEL=Fedora\\x2041\nquiet\n\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "ro ramdisk_size=40000 cio_ignore=all,!condev inst.stage2=hd:LABEL=KS\ninst.ks=hd:LABEL=KS:/ks.cfg inst.cmdline=\"a b\" console=ttyS0\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("prm (-want +got):\n%s", diff)
	}
	for _, l := range strings.Split(got, "\n") {
		if len(l) > 80 {
			t.Errorf("line of %d columns: %q", len(l), l)
		}
	}
}

// FuzzKSOptionsEdit checks that the edits of mkksiso's options never add a
// line to a boot menu (so never a boot entry) and that a parameter file
// comes out as lines of at most 80 columns unless one argument is longer.
func FuzzKSOptionsEdit(f *testing.F) {
	f.Add("search --no-floppy --set=root -l 'Fedora 41'\n\tlinux /vmlinuz inst.stage2=hd:LABEL=Fedora\\x2041 quiet\n", "quiet", "Install", "Deploy")
	f.Add("ro ramdisk_size=40000 cio_ignore=all,!condev\nquiet\n", "quiet console", "ro", "rw")
	f.Fuzz(func(t *testing.T, text, rm, from, to string) {
		k := &tasks.KSISOSpec{RmArgs: rm, VolID: "KS-1", Replace: []tasks.Replace{{From: from, To: to}}}
		e, err := ksEdit("Fedora 41", k)
		if err != nil {
			return
		}
		if r := e.relabel.search(text); strings.Count(r, "\n") != strings.Count(text, "\n") {
			t.Fatalf("search(%q) = %q: lines added", text, r)
		}
		out, _, err := e.config(text, grubCmds, false)
		if err == nil && strings.Count(out, "\n") != strings.Count(text, "\n") {
			t.Fatalf("config(%q) = %q: lines added", text, out)
		}
		prm, err := e.prm(text)
		if err != nil {
			return
		}
		for _, l := range strings.Split(strings.TrimSuffix(prm, "\n"), "\n") {
			if len(l) > 80 && strings.Contains(strings.TrimSpace(l), " ") && !strings.Contains(l, `"`) {
				t.Fatalf("prm line of %d columns: %q", len(l), l)
			}
		}
	})
}

// TestKSISOCommandOptions checks the xorriso command line of mkksiso's
// options against xorriso's documented commands: -volid before the files,
// then -map LOCAL /NAME for the updates image and each added file, as
// mkksiso's own command (lorax's src/pylorax/cmdline/mkksiso.py).
func TestKSISOCommandOptions(t *testing.T) {
	t.Parallel()
	job := &Job{ISO: "/w/boot.iso", OutDir: "/w/out", Kickstart: "/w/ks.cfg",
		Spec: tasks.Spec{KSISO: &tasks.KSISOSpec{VolID: "KS-1"}}}
	files := []ksFile{{local: "/isos/updates.img", name: "updates.img"}, {local: "/isos/repo", name: "repo"}}
	got := (&ksiso{}).command(job, isoDetails{volID: "OLD"}, map[string]string{"EFI/BOOT/grub.cfg": "/t/grub.cfg", "images/cdboot.prm": "/t/cdboot.prm"}, "", files)
	want := []string{"xorriso", "-indev", "/w/boot.iso", "-outdev", "stdio:/dev/fd/3", "-compliance", "no_emul_toc", "-boot_image", "any", "replay",
		"-volid", "KS-1", "-map", "/w/ks.cfg", "/ks.cfg", "-map", "/isos/updates.img", "/updates.img", "-map", "/isos/repo", "/repo",
		"-update", "/t/grub.cfg", "/EFI/BOOT/grub.cfg", "-update", "/t/cdboot.prm", "/images/cdboot.prm"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("command (-want +got):\n%s", diff)
	}
	job.Spec.KSISO.VolID = "OLD"
	if got := (&ksiso{}).command(job, isoDetails{volID: "OLD"}, nil, "", nil); slices.Contains(got, "-volid") {
		t.Errorf("command with the same volume ID sets it: %q", got)
	}
}
