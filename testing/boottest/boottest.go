// Package boottest makes a bootable test ISO laid out like Fedora's boot.iso
// and boots ISOs in QEMU, to prove that an edited ISO still boots and that
// its kernel gets the arguments the boot menus were given.
//
// The ISO carries the machine's own Linux kernel (Debian's linux-image-amd64)
// and a tiny initrd built here (busybox-static and a shell script) standing
// in for the installer: it prints /proc/cmdline, finds the volume named by
// inst.ks=hd:LABEL=...:/path by its ISO 9660 label as Anaconda would, prints
// the kickstart's first line and powers off. BIOS boots through isolinux;
// UEFI boots through OVMF and a GRUB EFI image made by grub-mkstandalone,
// kept in images/efiboot.img as Fedora's ISOs have it. QEMU runs with
// software emulation (TCG), no network and the serial console only.
//
// The ISO is cached under os.UserCacheDir()/fbs-test/boottest, keyed by a
// hash of everything it is made from, so only the first run pays for it.
//
// It needs root (the kernel image under /boot is readable only by root on
// Debian; without root the test is skipped) and the packages
// deploy/setup.sh installs (when one is missing the test is skipped, unless
// the CI environment variable is set: then it fails). KVM is not needed.
package boottest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/testing/isotest"
)

// Debian paths of the boot loader files; Fedora's are tried after them.
var (
	isolinuxBins = []string{"/usr/lib/ISOLINUX/isolinux.bin", "/usr/share/syslinux/isolinux.bin"}
	isohdpfxBins = []string{"/usr/lib/ISOLINUX/isohdpfx.bin", "/usr/share/syslinux/isohdpfx.bin"}
	syslinuxMods = []string{"/usr/lib/syslinux/modules/bios", "/usr/share/syslinux"}
	busyboxBins  = []string{"/bin/busybox", "/usr/bin/busybox", "/usr/sbin/busybox"}
	// ovmfPairs are OVMF firmware code and variable store templates.
	ovmfPairs = [][2]string{
		{"/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"},
		{"/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"},
		{"/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd"},
	}
)

// isolinuxModules are the syslinux modules isolinux.cfg's vesamenu needs.
var isolinuxModules = []string{"ldlinux.c32", "vesamenu.c32", "libcom32.c32", "libutil.c32"}

// aptInstall is the command that installs what boottest needs on Debian.
const aptInstall = "apt-get install -y qemu-system-x86 ovmf grub-efi-amd64-bin grub-common busybox-static linux-image-amd64 xorriso mtools dosfstools isolinux syslinux-common"

// Mode is how QEMU boots the ISO: with which firmware, and from which
// medium.
type Mode string

const (
	// BIOSCD boots the ISO as a CD with a BIOS: its BIOS El Torito record,
	// isolinux, which reads isolinux/isolinux.cfg.
	BIOSCD Mode = "bios-cd"
	// UEFICD boots the ISO as a CD with OVMF: its UEFI El Torito record,
	// images/efiboot.img, whose GRUB reads EFI/BOOT/grub.cfg from the ISO:
	// GRUB's $cmdpath is (cd0)/EFI/BOOT, the whole CD, not the boot image.
	// (OVMF boots the El Torito record even when the ISO is attached as a
	// disk, so the grub.cfg inside images/efiboot.img is not booted here.)
	UEFICD Mode = "uefi-cd"
)

// Entry marks: every kernel line of the test ISO carries fbs.entry=NAME
// naming its menu entry and the file it is in, so a test can tell which
// entry of which menu booted. The marked entries are the menus' defaults.
const (
	// EntryIsolinux marks isolinux/isolinux.cfg's default entry.
	EntryIsolinux = "fbs.entry=isolinux-check"
	// EntryISOGrub marks the default entry of EFI/BOOT/grub.cfg on the
	// ISO. The copy inside images/efiboot.img is marked
	// fbs.entry=efiboot-check instead.
	EntryISOGrub = "fbs.entry=iso-check"
)

// missing returns the tools and files boottest needs that are not there.
func missing() []string {
	var out []string
	for _, tool := range []string{"qemu-system-x86_64", "xorriso", "mkfs.fat", "mmd", "mcopy"} {
		if _, err := exec.LookPath(tool); err != nil {
			out = append(out, tool)
		}
	}
	if mkstandalone() == "" {
		out = append(out, "grub-mkstandalone (grub-common)")
	}
	if _, err := os.Stat("/usr/lib/grub/x86_64-efi/linux.mod"); err != nil {
		out = append(out, "/usr/lib/grub/x86_64-efi (grub-efi-amd64-bin)")
	}
	for _, set := range [][]string{isolinuxBins, isohdpfxBins, busyboxBins} {
		if first(set) == "" {
			out = append(out, set[0])
		}
	}
	if mods := first(syslinuxMods); mods == "" {
		out = append(out, syslinuxMods[0])
	}
	if _, _, ok := ovmf(); !ok {
		out = append(out, ovmfPairs[0][0]+" (ovmf)")
	}
	if k, _, err := kernel(); err != nil {
		out = append(out, k+" ("+err.Error()+")")
	}
	return out
}

// require skips (or, under CI, fails) t when boottest cannot run.
func require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		// Even under CI: the tests' other helpers run as any user.
		t.Skip("boottest needs root: the kernel image under /boot is readable only by root; run the test as root")
	}
	if m := missing(); len(m) > 0 {
		msg := fmt.Sprintf("boottest needs %s: %s", strings.Join(m, ", "), aptInstall)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// first returns the first of paths that exists, or "".
func first(paths []string) string {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// mkstandalone returns GRUB's grub-mkstandalone (Debian's name) or
// grub2-mkstandalone (Fedora's), or "".
func mkstandalone() string {
	for _, name := range []string{"grub-mkstandalone", "grub2-mkstandalone"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// ovmf returns OVMF's code and variable store templates.
func ovmf() (code, vars string, ok bool) {
	for _, p := range ovmfPairs {
		if first(p[:1]) != "" && first(p[1:]) != "" {
			return p[0], p[1], true
		}
	}
	return "", "", false
}

// kernel returns the newest kernel image under /boot and its modules
// directory.
func kernel() (image, modDir string, err error) {
	found, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(found) == 0 {
		return "/boot/vmlinuz-*", "", fmt.Errorf("no kernel image (linux-image-amd64)")
	}
	sort.Strings(found)
	image = found[len(found)-1]
	modDir = filepath.Join("/lib/modules", strings.TrimPrefix(filepath.Base(image), "vmlinuz-"))
	if _, err := os.Stat(filepath.Join(modDir, "modules.dep")); err != nil {
		return image, "", fmt.Errorf("no modules.dep for %s", image)
	}
	f, err := os.Open(image)
	if err != nil {
		return image, "", err
	}
	f.Close()
	return image, modDir, nil
}

// IsolinuxCfg is the test ISO's isolinux.cfg, in the shape of Fedora's: a
// vesamenu with "Test this media & install" as the default entry, here with
// a one-second timeout and the console on the serial port. The default
// entry has an inst.ks= that a kickstart injector must replace.
func IsolinuxCfg(volID string) string {
	l := isotest.EscapeLabel(volID)
	return `serial 0 115200
default vesamenu.c32
timeout 10
menu title Test boot menu

label linux
  menu label ^Install
  kernel vmlinuz
  append initrd=initrd.img inst.stage2=hd:LABEL=` + l + ` console=ttyS0,115200 quiet fbs.entry=isolinux-install

label check
  menu label Test this ^media & install
  menu default
  kernel vmlinuz
  append initrd=initrd.img inst.stage2=hd:LABEL=` + l + ` rd.live.check inst.ks=hd:LABEL=old:/old.ks console=ttyS0,115200 quiet ` + EntryIsolinux + `

label local
  menu label Boot from ^local drive
  localboot 0xffff
`
}

// GrubCfg is the test ISO's GRUB 2 menu, in the shape of Fedora's
// EFI/BOOT/grub.cfg: "Test this media & install" (entry 1) is the default,
// and a Troubleshooting submenu; here with a one-second timeout, and an
// inst.ks= in the default entry that a kickstart injector must replace. where
// names the file (e.g. "efiboot" or "iso") in the entries' fbs.entry marks.
func GrubCfg(volID, where string) string {
	l := isotest.EscapeLabel(volID)
	entry := func(name, args string) string {
		return "\tlinux /images/pxeboot/vmlinuz inst.stage2=hd:LABEL=" + l + " " + args +
			" console=ttyS0,115200 quiet fbs.entry=" + where + "-" + name + "\n" +
			"\tinitrd /images/pxeboot/initrd.img\n"
	}
	return `set default="1"
function load_video {
  insmod all_video
}
load_video
set gfxpayload=keep
insmod gzio
insmod part_gpt
insmod ext2
insmod chain
set timeout=1
search --no-floppy --set=root -l '` + volID + `'

menuentry 'Install' --class fedora --class gnu-linux --class gnu --class os {
` + entry("install", "") + `}
menuentry 'Test this media & install' --class fedora --class gnu-linux --class gnu --class os {
` + entry("check", "rd.live.check inst.ks=hd:LABEL=old:/old.ks") + `}
submenu 'Troubleshooting -->' {
	menuentry 'Install in basic graphics mode' --class fedora --class gnu-linux --class gnu --class os {
	` + entry("basic", "nomodeset") + `	}
}
`
}

// embeddedGrubCfg is the configuration built into the GRUB EFI image: like
// Fedora's grubx64.efi it reads grub.cfg from EFI/BOOT of the device it was
// loaded from (for a CD, the CD).
const embeddedGrubCfg = `configfile $cmdpath/grub.cfg
`

// run runs a command, failing with its output.
func run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LANG=C", "LC_ALL=C", "MTOOLS_SKIP_CHECK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// inputsKey hashes what the ISO is made from: the configuration texts and
// each input file's path, size and modification time.
func inputsKey(volID string, files []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "v1\x00%s\x00%s\x00%s\x00%s\x00%s\x00", volID, initScript, IsolinuxCfg(volID), GrubCfg(volID, "x"), embeddedGrubCfg)
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			fmt.Fprintf(h, "%s\x00missing\x00", f)
			continue
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00", f, fi.Size(), fi.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// ISO returns the path of a bootable hybrid ISO with volume ID volID, laid
// out like Fedora's boot.iso: isolinux/ (isolinux.bin, vmlinuz, initrd.img,
// IsolinuxCfg), images/pxeboot/ (vmlinuz, initrd.img), EFI/BOOT/
// (BOOTX64.EFI and GrubCfg), images/efiboot.img (a FAT image with the same
// EFI/BOOT), a BIOS and a UEFI El Torito record and an isohybrid MBR. The
// file is shared between tests and runs: do not change it.
func ISO(t testing.TB, volID string) string {
	t.Helper()
	require(t)
	image, modDir, _ := kernel()
	busybox := first(busyboxBins)
	mods := first(syslinuxMods)
	inputs := []string{image, filepath.Join(modDir, "modules.dep"), busybox, first(isolinuxBins), first(isohdpfxBins),
		"/usr/lib/grub/x86_64-efi/linux.mod"}
	for _, m := range isolinuxModules {
		inputs = append(inputs, filepath.Join(mods, m))
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "fbs-test", "boottest")
	iso := filepath.Join(dir, inputsKey(volID, inputs)+".iso")
	if _, err := os.Stat(iso); err == nil {
		return iso
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	work, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(work)
	if err := makeISO(work, volID, image, modDir, busybox, mods); err != nil {
		t.Fatalf("boottest: make the boot ISO: %v", err)
	}
	// A rename, so that parallel tests never see half an ISO.
	if err := os.Rename(filepath.Join(work, "boot.iso"), iso); err != nil {
		t.Fatal(err)
	}
	return iso
}

// makeISO builds boot.iso in work.
func makeISO(work, volID, image, modDir, busybox, mods string) error {
	tree := filepath.Join(work, "tree")
	initrd := filepath.Join(work, "initrd.img")
	if err := makeInitrd(initrd, busybox, modDir, cdModules); err != nil {
		return fmt.Errorf("initrd: %w", err)
	}
	efi := filepath.Join(work, "BOOTX64.EFI")
	if err := os.WriteFile(filepath.Join(work, "embedded.cfg"), []byte(embeddedGrubCfg), 0o644); err != nil {
		return err
	}
	if err := run(mkstandalone(), "-O", "x86_64-efi", "-o", efi,
		"--install-modules=linux normal configfile search search_label search_fs_file iso9660 fat part_gpt part_msdos gzio all_video echo test chain ext2 efi_gop efi_uga video_bochs video_cirrus",
		"boot/grub/grub.cfg="+filepath.Join(work, "embedded.cfg")); err != nil {
		return err
	}
	copies := map[string]string{
		"isolinux/isolinux.bin":     first(isolinuxBins),
		"isolinux/vmlinuz":          image,
		"isolinux/initrd.img":       initrd,
		"images/pxeboot/vmlinuz":    image,
		"images/pxeboot/initrd.img": initrd,
		"EFI/BOOT/BOOTX64.EFI":      efi,
	}
	for _, m := range isolinuxModules {
		copies["isolinux/"+m] = filepath.Join(mods, m)
	}
	for to, from := range copies {
		if err := copyFile(from, filepath.Join(tree, filepath.FromSlash(to))); err != nil {
			return err
		}
	}
	texts := map[string]string{
		"isolinux/isolinux.cfg": IsolinuxCfg(volID),
		"EFI/BOOT/grub.cfg":     GrubCfg(volID, "iso"),
	}
	for to, text := range texts {
		if err := writeFile(filepath.Join(tree, filepath.FromSlash(to)), []byte(text)); err != nil {
			return err
		}
	}
	// The EFI boot image: the GRUB EFI image and its grub.cfg, sized to
	// fit (in KiB, with room for FAT's tables).
	efiCfg := filepath.Join(work, "efiboot-grub.cfg")
	if err := writeFile(efiCfg, []byte(GrubCfg(volID, "efiboot"))); err != nil {
		return err
	}
	fi, err := os.Stat(efi)
	if err != nil {
		return err
	}
	img := filepath.Join(tree, "images", "efiboot.img")
	size := fi.Size()/1024 + 1024
	if err := run("mkfs.fat", "-C", "-n", "ANACONDA", img, fmt.Sprint(size)); err != nil {
		return err
	}
	if err := run("mmd", "-i", img, "::/EFI", "::/EFI/BOOT"); err != nil {
		return err
	}
	if err := run("mcopy", "-i", img, efi, "::/EFI/BOOT/BOOTX64.EFI"); err != nil {
		return err
	}
	if err := run("mcopy", "-i", img, efiCfg, "::/EFI/BOOT/grub.cfg"); err != nil {
		return err
	}
	return run("xorriso", "-as", "mkisofs", "-o", filepath.Join(work, "boot.iso"), "-V", volID, "-J", "-R",
		"-isohybrid-mbr", first(isohdpfxBins),
		"-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
		"-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
		"-eltorito-alt-boot", "-e", "images/efiboot.img", "-no-emul-boot", "-isohybrid-gpt-basdat",
		tree)
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Result is what the stand-in installer reported on the serial console.
type Result struct {
	// Log is the whole serial console log.
	Log string
	// Cmdline is the kernel command line, as /proc/cmdline had it.
	Cmdline string
	// Label is the volume label inst.ks= named, unescaped.
	Label string
	// Device is the block device whose ISO 9660 label matched.
	Device string
	// KSFirstLine is the first line of the kickstart read from it.
	KSFirstLine string
	// Error is what the stand-in installer failed at, if it did.
	Error string
	// Elapsed is how long QEMU ran.
	Elapsed time.Duration
}

// Args returns the kernel command line's words.
func (r Result) Args() []string { return strings.Fields(r.Cmdline) }

// bootTimeout bounds one boot; QEMU is killed after it.
const bootTimeout = 4 * time.Minute

// Boot boots iso in QEMU (software emulation, 512 MiB, no network, serial
// console only) the way mode says and returns what the stand-in installer
// reported.
// It fails t when QEMU fails or runs past its timeout, or the installer
// reports no kickstart line.
func Boot(t testing.TB, iso string, mode Mode) Result {
	t.Helper()
	require(t)
	dir := t.TempDir()
	serial := filepath.Join(dir, "serial.log")
	args := []string{"-machine", "pc", "-accel", "tcg", "-m", "512", "-smp", "1",
		"-display", "none", "-vga", "std", "-monitor", "none", "-serial", "file:" + serial,
		"-nic", "none", "-no-reboot"}
	args = append(args, "-drive", "file="+iso+",media=cdrom,readonly=on,format=raw,if=ide,index=2", "-boot", "d")
	if mode == UEFICD {
		code, vars, _ := ovmf()
		varsCopy := filepath.Join(dir, "OVMF_VARS.fd")
		if err := copyFile(vars, varsCopy); err != nil {
			t.Fatal(err)
		}
		args = append(args,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+code,
			"-drive", "if=pflash,format=raw,unit=1,file="+varsCopy)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bootTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	start := time.Now()
	err := cmd.Run()
	r := Result{Elapsed: time.Since(start)}
	b, _ := os.ReadFile(serial)
	r.Log = string(b)
	if ctx.Err() != nil {
		t.Fatalf("boottest: %s boot of %s did not power off within %s; serial log:\n%s", mode, iso, bootTimeout, tail(r.Log))
	}
	if err != nil {
		t.Fatalf("boottest: qemu-system-x86_64 %s: %v\n%s\nserial log:\n%s", strings.Join(args, " "), err, stderr.Bytes(), tail(r.Log))
	}
	for _, line := range strings.Split(r.Log, "\n") {
		line = strings.TrimRight(line, "\r")
		for mark, field := range map[string]*string{markCmdline: &r.Cmdline, markLabel: &r.Label, markDevice: &r.Device, markKS: &r.KSFirstLine, markError: &r.Error} {
			if i := strings.Index(line, mark); i >= 0 {
				*field = line[i+len(mark):]
			}
		}
	}
	if r.Error != "" || r.KSFirstLine == "" {
		t.Fatalf("boottest: %s boot of %s: the stand-in installer did not read the kickstart (error: %q); serial log:\n%s", mode, iso, r.Error, tail(r.Log))
	}
	return r
}

// tail returns the end of a serial log, for failure messages.
func tail(log string) string {
	const max = 6000
	if len(log) > max {
		return "..." + log[len(log)-max:]
	}
	return log
}
