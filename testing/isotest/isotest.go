// Package isotest makes small but real hybrid boot ISOs for tests, laid out
// like Fedora's boot.iso (isolinux for BIOS, GRUB 2 menus, a FAT EFI boot
// image, both El Torito boot records and an isohybrid MBR), and reads back
// what tests check about an ISO.
//
// It needs xorriso, mtools, dosfstools, isolinux and syslinux-common. When
// they are missing the test is skipped, unless the CI environment variable is
// set: then it fails.
package isotest

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Debian paths of the isolinux boot loader files.
const (
	isolinuxBin = "/usr/lib/ISOLINUX/isolinux.bin"
	isohdpfxBin = "/usr/lib/ISOLINUX/isohdpfx.bin"
	ldlinuxC32  = "/usr/lib/syslinux/modules/bios/ldlinux.c32"
)

// aptInstall is the command that installs what isotest needs on Debian.
const aptInstall = "apt-get install -y xorriso mtools dosfstools isolinux syslinux-common"

// ConfigFiles returns the boot menu files BootISO writes and Inspect reads
// (ISO paths without the leading slash).
func ConfigFiles() []string {
	return []string{"isolinux/isolinux.cfg", "EFI/BOOT/grub.cfg", "boot/grub2/grub.cfg"}
}

// AllConfigFiles returns ConfigFiles and the other configuration files
// mkksiso edits, which BootISOAllConfigs writes too: GRUB's EFI/BOOT/BOOT.conf
// and boot/grub/grub.cfg, and the s390x parameter files.
func AllConfigFiles() []string {
	return append(ConfigFiles(), "EFI/BOOT/BOOT.conf", "boot/grub/grub.cfg", "images/generic.prm", "images/cdboot.prm")
}

// GenericPrm is the images/generic.prm BootISOAllConfigs writes: an s390x
// parameter file, one kernel command line over several lines.
func GenericPrm() string {
	return "ro ramdisk_size=40000 cio_ignore=all,!condev\nquiet\n"
}

// CdbootPrm is the images/cdboot.prm BootISOAllConfigs writes for volid.
func CdbootPrm(volid string) string {
	return "ro ramdisk_size=40000 cio_ignore=all,!condev\ninst.stage2=hd:LABEL=" + EscapeLabel(volid) + "\nquiet\n"
}

// requireTools skips (or, under CI, fails) t when a needed tool is missing.
func requireTools(t testing.TB) {
	t.Helper()
	var missing []string
	for _, tool := range []string{"xorriso", "mkfs.fat", "mmd", "mcopy"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	for _, f := range []string{isolinuxBin, isohdpfxBin, ldlinuxC32} {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("isotest needs %s: %s", strings.Join(missing, ", "), aptInstall)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// EscapeLabel escapes a volume ID for hd:LABEL= the way Fedora's tools do
// (udev's escaping), for test boot menus.
func EscapeLabel(label string) string {
	const blacklist = " !\"$%&'()*,/;<>?[\\]^`{|}~"
	var b strings.Builder
	for i := 0; i < len(label); i++ {
		if c := label[i]; c < 32 || strings.IndexByte(blacklist, c) >= 0 {
			fmt.Fprintf(&b, `\x%02x`, c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// IsolinuxCfg is the isolinux.cfg BootISO writes for volid: three kernel
// entries (one with an inst.ks= that a kickstart injector must replace) and a
// local boot entry without a kernel.
func IsolinuxCfg(volid string) string {
	l := EscapeLabel(volid)
	return `default vesamenu.c32
timeout 600
menu title Test boot menu

label linux
  menu label ^Install
  kernel vmlinuz
  append initrd=initrd.img inst.stage2=hd:LABEL=` + l + ` quiet

label check
  menu label Test this ^media & install
  menu default
  kernel vmlinuz
  append initrd=initrd.img inst.stage2=hd:LABEL=` + l + ` rd.live.check inst.ks=hd:LABEL=old:/old.ks quiet

label basic
  menu label Install using ^basic graphics mode
  kernel vmlinuz
  append initrd=initrd.img inst.stage2=hd:LABEL=` + l + ` nomodeset quiet

label local
  menu label Boot from ^local drive
  localboot 0xffff
`
}

// GrubCfg is the GRUB 2 menu BootISO writes for volid; linux is "linuxefi"
// for EFI/BOOT/grub.cfg and "linux" for boot/grub2/grub.cfg.
func GrubCfg(volid, linux string) string {
	l := EscapeLabel(volid)
	initrd := strings.Replace(linux, "linux", "initrd", 1)
	return `set default="1"
set timeout=60
search --no-floppy --set=root -l '` + volid + `'

menuentry 'Install' --class fedora --class gnu-linux {
	` + linux + ` /images/pxeboot/vmlinuz inst.stage2=hd:LABEL=` + l + ` quiet
	` + initrd + ` /images/pxeboot/initrd.img
}
menuentry 'Test this media & install' --class fedora --class gnu-linux {
	` + linux + ` /images/pxeboot/vmlinuz inst.stage2=hd:LABEL=` + l + ` rd.live.check quiet
	` + initrd + ` /images/pxeboot/initrd.img
}
submenu 'Troubleshooting -->' {
	menuentry 'Install in basic graphics mode' --class fedora --class gnu-linux {
		` + linux + ` /images/pxeboot/vmlinuz inst.stage2=hd:LABEL=` + l + ` nomodeset quiet
		` + initrd + ` /images/pxeboot/initrd.img
	}
}
`
}

// run runs a command and fails t with its output if it fails.
func run(t testing.TB, env []string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), append([]string{"LANG=C", "LC_ALL=C", "MTOOLS_SKIP_CHECK=1"}, env...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(b))
}

// BootISO builds a small hybrid boot ISO with volume ID volid in
// t.TempDir() and returns its path. It has isolinux (IsolinuxCfg),
// EFI/BOOT/grub.cfg and boot/grub2/grub.cfg (GrubCfg), a FAT
// images/efiboot.img holding EFI/BOOT/grub.cfg, BIOS and UEFI El Torito boot
// records, and an isohybrid MBR.
func BootISO(t testing.TB, volid string) string {
	t.Helper()
	return bootISO(t, volid, false, true, false)
}

// BootISOAllConfigs is BootISO with every configuration file mkksiso edits
// (AllConfigFiles): also EFI/BOOT/BOOT.conf (GrubCfg with linuxefi, as on
// Fedora's ISOs, and inside images/efiboot.img too), boot/grub/grub.cfg
// (GrubCfg with linux), images/generic.prm (GenericPrm) and
// images/cdboot.prm (CdbootPrm).
func BootISOAllConfigs(t testing.TB, volid string) string {
	t.Helper()
	return bootISO(t, volid, false, true, true)
}

// BootISOAppendedEFI is BootISO laid out like Fedora's boot ISOs since
// Fedora 37: the EFI boot image is also appended to the ISO as GPT partition
// 2, and the UEFI El Torito record boots that partition. With inTree the
// image is also the file images/efiboot.img, as on Fedora's ISOs.
func BootISOAppendedEFI(t testing.TB, volid string, inTree bool) string {
	t.Helper()
	return bootISO(t, volid, true, inTree, false)
}

func bootISO(t testing.TB, volid string, appendEFI, inTree, all bool) string {
	t.Helper()
	requireTools(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	copyFile(t, isolinuxBin, filepath.Join(tree, "isolinux", "isolinux.bin"))
	copyFile(t, ldlinuxC32, filepath.Join(tree, "isolinux", "ldlinux.c32"))
	writeFile(t, filepath.Join(tree, "isolinux", "vmlinuz"), "not a kernel\n")
	writeFile(t, filepath.Join(tree, "isolinux", "initrd.img"), "not an initrd\n")
	writeFile(t, filepath.Join(tree, "images", "pxeboot", "vmlinuz"), "not a kernel\n")
	writeFile(t, filepath.Join(tree, "images", "pxeboot", "initrd.img"), "not an initrd\n")
	writeFile(t, filepath.Join(tree, "isolinux", "isolinux.cfg"), IsolinuxCfg(volid))
	efiCfg := GrubCfg(volid, "linuxefi")
	writeFile(t, filepath.Join(tree, "EFI", "BOOT", "grub.cfg"), efiCfg)
	writeFile(t, filepath.Join(tree, "boot", "grub2", "grub.cfg"), GrubCfg(volid, "linux"))
	if all {
		writeFile(t, filepath.Join(tree, "EFI", "BOOT", "BOOT.conf"), efiCfg)
		writeFile(t, filepath.Join(tree, "boot", "grub", "grub.cfg"), GrubCfg(volid, "linux"))
		writeFile(t, filepath.Join(tree, "images", "generic.prm"), GenericPrm())
		writeFile(t, filepath.Join(tree, "images", "cdboot.prm"), CdbootPrm(volid))
	}

	img := filepath.Join(tree, "images", "efiboot.img")
	run(t, nil, "mkfs.fat", "-C", "-n", "ANACONDA", img, "2048")
	run(t, nil, "mmd", "-i", img, "::/EFI", "::/EFI/BOOT")
	run(t, nil, "mcopy", "-i", img, filepath.Join(tree, "EFI", "BOOT", "grub.cfg"), "::/EFI/BOOT/grub.cfg")
	if all {
		run(t, nil, "mcopy", "-i", img, filepath.Join(tree, "EFI", "BOOT", "BOOT.conf"), "::/EFI/BOOT/BOOT.conf")
	}

	iso := filepath.Join(dir, "boot.iso")
	args := []string{"-as", "mkisofs", "-o", iso, "-V", volid, "-J", "-R",
		"-isohybrid-mbr", isohdpfxBin,
		"-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
		"-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
		"-eltorito-alt-boot"}
	if appendEFI {
		if !inTree {
			outside := filepath.Join(dir, "efiboot.img")
			if err := os.Rename(img, outside); err != nil {
				t.Fatal(err)
			}
			img = outside
		}
		args = append(args, "-e", "--interval:appended_partition_2:all::", "-no-emul-boot", "-isohybrid-gpt-basdat",
			"-append_partition", "2", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", img)
	} else {
		args = append(args, "-e", "images/efiboot.img", "-no-emul-boot", "-isohybrid-gpt-basdat")
	}
	run(t, nil, "xorriso", append(args, tree)...)
	return iso
}

// Info is what Inspect finds in an ISO.
type Info struct {
	// VolumeID is the primary volume descriptor's volume ID.
	VolumeID string
	// Files maps ISO paths (no leading slash) of the AllConfigFiles and
	// ks.cfg that exist to their content.
	Files map[string]string
	// BootRecords are xorriso's -report_el_torito plain lines.
	BootRecords []string
	// HasMBR reports an isohybrid MBR: the 0x55AA signature and xorriso
	// seeing an isohybrid system area.
	HasMBR bool
	// EFIGrubCfg is EFI/BOOT/grub.cfg inside the image the UEFI El Torito
	// record boots ("" when there is no such record).
	EFIGrubCfg string
	// EFIBootConf is EFI/BOOT/BOOT.conf inside that image ("" when there
	// is none).
	EFIBootConf string
	// Paths are the ISO paths (no leading slash) of every regular file,
	// sorted.
	Paths []string
}

// Inspect reads iso with xorriso (and mtools for the EFI boot image).
func Inspect(t testing.TB, iso string) Info {
	t.Helper()
	requireTools(t)
	info := Info{Files: map[string]string{}}
	for _, line := range strings.Split(string(run(t, nil, "xorriso", "-indev", iso, "-pvd_info")), "\n") {
		if v, ok := strings.CutPrefix(line, "Volume Id    : "); ok {
			info.VolumeID = v
		}
	}

	present := map[string]bool{}
	for _, line := range strings.Split(string(run(t, nil, "xorriso", "-indev", iso, "-find", "/", "-type", "f")), "\n") {
		if p, ok := strings.CutPrefix(line, "'/"); ok {
			p = strings.TrimSuffix(p, "'")
			present[p] = true
			info.Paths = append(info.Paths, p)
		}
	}
	sort.Strings(info.Paths)
	dir := t.TempDir()
	args := []string{"-osirrox", "on", "-indev", iso}
	var wanted []string
	for _, f := range append(AllConfigFiles(), "ks.cfg") {
		if present[f] {
			wanted = append(wanted, f)
			args = append(args, "-extract", "/"+f, filepath.Join(dir, "files", f))
		}
	}
	if len(wanted) > 0 {
		run(t, nil, "xorriso", args...)
	}
	for _, f := range wanted {
		b, err := os.ReadFile(filepath.Join(dir, "files", f))
		if err != nil {
			t.Fatal(err)
		}
		info.Files[f] = string(b)
	}

	report := string(run(t, nil, "xorriso", "-indev", iso, "-report_el_torito", "plain", "-report_system_area", "plain"))
	isohybrid := false
	for _, line := range strings.Split(report, "\n") {
		switch {
		case strings.HasPrefix(line, "El Torito"):
			info.BootRecords = append(info.BootRecords, line)
		case strings.HasPrefix(line, "System area summary:"):
			isohybrid = strings.Contains(line, "isohybrid")
		}
	}
	f, err := os.Open(iso)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sig := make([]byte, 2)
	if _, err := f.ReadAt(sig, 510); err != nil {
		t.Fatal(err)
	}
	info.HasMBR = isohybrid && sig[0] == 0x55 && sig[1] == 0xAA

	boot := filepath.Join(dir, "boot")
	if err := os.Mkdir(boot, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, nil, "xorriso", "-osirrox", "on", "-indev", iso, "-extract_boot_images", boot+"/")
	uefi, err := filepath.Glob(filepath.Join(boot, "eltorito_img*_uefi.img"))
	if err != nil {
		t.Fatal(err)
	}
	if len(uefi) > 0 {
		info.EFIGrubCfg = string(run(t, nil, "mcopy", "-n", "-i", uefi[0], "::/EFI/BOOT/grub.cfg", "-"))
		if strings.Contains(string(run(t, nil, "mdir", "-b", "-i", uefi[0], "::/EFI/BOOT")), "BOOT.conf") {
			info.EFIBootConf = string(run(t, nil, "mcopy", "-n", "-i", uefi[0], "::/EFI/BOOT/BOOT.conf", "-"))
		}
	}
	return info
}

// BootImages summarises BootRecords as one "PLATFORM PATH" entry per El
// Torito boot image, in catalog order, e.g. "BIOS /isolinux/isolinux.bin";
// PATH is "-" for an image that is not a file in the ISO.
func (i Info) BootImages() []string {
	var order []string
	platform, path := map[string]string{}, map[string]string{}
	for _, r := range i.BootRecords {
		f := strings.Fields(r)
		if len(f) < 7 {
			continue
		}
		switch {
		case strings.HasPrefix(r, "El Torito boot img :"):
			order = append(order, f[5])
			platform[f[5]] = f[6]
		case strings.HasPrefix(r, "El Torito img path :"):
			path[f[5]] = f[6]
		}
	}
	out := make([]string, len(order))
	for k, n := range order {
		p := path[n]
		if p == "" {
			p = "-"
		}
		out[k] = platform[n] + " " + p
	}
	return out
}

// Extract copies the directory isoDir (an ISO path without the leading
// slash) out of iso with xorriso into a new temporary directory and returns
// the local copy's path.
func Extract(t testing.TB, iso, isoDir string) string {
	t.Helper()
	requireTools(t)
	dir := filepath.Join(t.TempDir(), filepath.Base(isoDir))
	run(t, nil, "xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/"+isoDir, dir)
	// Directories come out read-only, as on the ISO; the test's clean-up
	// (and tools such as dnf that write beside what they read) need them
	// writable.
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return os.Chmod(p, 0o755)
	})
	if err != nil {
		t.Fatalf("isotest: make %s writable: %v", dir, err)
	}
	return dir
}
