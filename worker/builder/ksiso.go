package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/fedora-fbs/fbs/worker/isomd5"
)

// ksiso injects a kickstart into a boot ISO, like lorax's mkksiso but with
// only xorriso and mtools, so it works on any distribution: ks.cfg goes to
// the ISO root and every kernel line of the boot menus (isolinux, GRUB 2 on
// the ISO and GRUB 2 inside the EFI boot image, the s390x parameter files)
// gets inst.ks= pointing at it. The El Torito boot records and the hybrid
// MBR are replayed from the input, and so is the volume ID unless [ksiso]
// volid changes it; mkksiso's other options are in ksopts.go.
// Like mkksiso (which runs implantisomd5), it implants the MD5 of the media
// check, itself (worker/isomd5).
type ksiso struct{ runner *runner }

var _ Builder = (*ksiso)(nil)

func (*ksiso) Name() string    { return "mkksiso" }
func (*ksiso) needs() []string { return []string{"xorriso", "mcopy", "mdir"} }

// bootConfig is a boot menu file that ksiso edits.
type bootConfig struct {
	// path is the file's path in the ISO (or in the EFI image), without
	// the leading slash.
	path string
	// cmds are the words that start a kernel line.
	cmds []string
	// needInitrd makes only lines with initrd= kernel lines (isolinux's
	// append also serves non-Linux entries).
	needInitrd bool
	// prm marks an s390x parameter file: the whole file is one kernel
	// command line (kernelEdit.prm).
	prm bool
}

var (
	isolinuxCmds = []string{"append", "APPEND", "Append"}
	grubCmds     = []string{"linux", "linuxefi"}
)

// isoConfigs are the boot menus ksiso edits on the ISO itself, as mkksiso.
func isoConfigs() []bootConfig {
	return []bootConfig{
		{path: "isolinux/isolinux.cfg", cmds: isolinuxCmds, needInitrd: true},
		{path: "EFI/BOOT/grub.cfg", cmds: grubCmds},
		{path: "EFI/BOOT/BOOT.conf", cmds: grubCmds},
		{path: "boot/grub2/grub.cfg", cmds: grubCmds},
		{path: "boot/grub/grub.cfg", cmds: grubCmds},
		{path: "images/generic.prm", prm: true},
		{path: "images/cdboot.prm", prm: true},
	}
}

// sideRepoISODir is the directory at the ISO root that holds the side
// repository (Job.SideRepoDir).
const sideRepoISODir = "fbs-side"

// SideRepoISOURL is the base URL under which Anaconda sees the side
// repository ksiso puts on the ISO, on a machine booted from that ISO: the
// boot media (inst.stage2=hd:LABEL=...) is mounted at /run/install/repo, so
// the ISO's /fbs-side is file:///run/install/repo/fbs-side/. This is how
// lorax's mkksiso adds repositories (--add DIR, then in the kickstart
// "repo --name=extra-repo --baseurl=file:///run/install/repo/extra-repo/";
// weldr/lorax docs/mkksiso.rst, "Adding package repos to a boot.iso").
const SideRepoISOURL = "file:///run/install/repo/" + sideRepoISODir + "/"

// efiBootImage is the FAT image the UEFI El Torito record boots.
const efiBootImage = "images/efiboot.img"

// efiGPTType is the GPT type GUID of an EFI system partition.
const efiGPTType = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"

// isoDetails is what ksiso learns about the input ISO.
type isoDetails struct {
	volID string
	// files holds the ISO paths (no leading slash) of the regular files
	// ksiso may edit.
	files map[string]bool
	// appendedEFI is set when the EFI boot image is also appended to the
	// ISO as partition 2 (Fedora's layout since 37), which must then be
	// replaced too.
	appendedEFI bool
	// hasSideRepo is set when the ISO already has a /fbs-side directory
	// (it was made by ksiso with extra packages), which a new side
	// repository replaces rather than merges with.
	hasSideRepo bool
	// top holds the lower-cased names at the ISO root that hold files.
	top map[string]bool
}

// outputName is the file name of the kickstart ISO made from iso.
func outputName(iso string) string {
	base := filepath.Base(iso)
	if ext := filepath.Ext(base); strings.EqualFold(ext, ".iso") {
		base = strings.TrimSuffix(base, ext)
	}
	return base + "-ks.iso"
}

// command returns the xorriso command line that writes the kickstart ISO,
// given what was learnt about the input and the edited files (ISO path ->
// local file). The image goes to file descriptor 3 (see write); with
// -compliance no_emul_toc xorriso writes it from the first byte to the last
// in order, as xorrisofs does (Fedora's ISOs are made so), instead of
// starting 64 KiB in and going back to write a table of emulated sessions
// at the start, as it does for a regular file: the same image then comes
// out through a pipe, 64 KiB smaller.
func (*ksiso) command(job *Job, d isoDetails, updated map[string]string, efiImage string, files []ksFile) []string {
	args := []string{"xorriso", "-indev", job.ISO, "-outdev", "stdio:" + fd3Path, "-compliance", "no_emul_toc",
		"-boot_image", "any", "replay"}
	if k := job.Spec.KSISO; k != nil && k.VolID != "" && k.VolID != d.volID {
		args = append(args, "-volid", k.VolID)
	}
	if d.appendedEFI && efiImage != "" {
		args = append(args, "-append_partition", "2", efiGPTType, efiImage)
	}
	args = append(args, "-map", job.Kickstart, "/ks.cfg")
	for _, f := range files {
		args = append(args, "-map", f.local, "/"+f.name)
	}
	if job.SideRepoDir != "" {
		if d.hasSideRepo {
			args = append(args, "-rm_r", "/"+sideRepoISODir, "--")
		}
		args = append(args, "-map", job.SideRepoDir, "/"+sideRepoISODir)
	}
	for _, c := range append(isoConfigs(), bootConfig{path: efiBootImage}) {
		if local, ok := updated[c.path]; ok {
			args = append(args, "-update", local, "/"+c.path)
		}
	}
	return args
}

// Build writes OutDir/<input name>-ks.iso.
func (k *ksiso) Build(ctx context.Context, job *Job) error {
	job, err := prepareJob(job, true)
	if err != nil {
		return fmt.Errorf("mkksiso: %w", err)
	}
	if job.ISO == "" {
		return errors.New("mkksiso: job has no boot ISO")
	}
	if err := checkISO9660(job.ISO); err != nil {
		return fmt.Errorf("mkksiso: %w", err)
	}
	if _, err := os.Stat(job.Kickstart); err != nil {
		return fmt.Errorf("mkksiso: kickstart: %w", err)
	}
	if job.SideRepoDir != "" {
		if _, err := os.Stat(filepath.Join(job.SideRepoDir, "repodata", "repomd.xml")); err != nil {
			return fmt.Errorf("mkksiso: side repository %s: %w", job.SideRepoDir, err)
		}
		job.logf("mkksiso: side repository %s goes onto the ISO as /%s (%s at install time)", job.SideRepoDir, sideRepoISODir, SideRepoISOURL)
	}
	d, err := k.inspect(ctx, job)
	if err != nil {
		return err
	}
	job.logf("mkksiso: %s has volume ID %q", job.ISO, d.volID)
	edit, err := ksEdit(d.volID, job.Spec.KSISO)
	if err != nil {
		return fmt.Errorf("mkksiso: %w", err)
	}
	var files []ksFile
	if job.Spec.KSISO != nil {
		if files, err = ksFiles(job.FilesDir, job.Spec.KSISO, d.top); err != nil {
			return fmt.Errorf("mkksiso: %w", err)
		}
	}
	for _, f := range files {
		job.logf("mkksiso: %s goes onto the ISO as /%s", f.local, f.name)
	}

	tmp := filepath.Join(job.WorkDir, "mkksiso")
	var extract []string
	for _, c := range append(isoConfigs(), bootConfig{path: efiBootImage}) {
		if d.files[c.path] {
			extract = append(extract, c.path)
		}
	}
	if len(extract) == 0 {
		return fmt.Errorf("mkksiso: %s has no boot configuration (isolinux/isolinux.cfg, EFI/BOOT/grub.cfg, boot/grub2/grub.cfg)", job.ISO)
	}
	if err := k.extract(ctx, job, tmp, extract); err != nil {
		return err
	}
	updated := map[string]string{}
	for _, c := range isoConfigs() {
		if !d.files[c.path] {
			continue
		}
		local := filepath.Join(tmp, filepath.FromSlash(c.path))
		if err := editFile(local, c, edit, job); err != nil {
			return fmt.Errorf("mkksiso: %s in %s: %w", c.path, job.ISO, err)
		}
		updated[c.path] = local
	}
	efiImage := ""
	switch {
	case d.files[efiBootImage]:
		efiImage = filepath.Join(tmp, filepath.FromSlash(efiBootImage))
	case d.appendedEFI:
		if efiImage, err = k.extractAppendedEFI(ctx, job, tmp); err != nil {
			return err
		}
	default:
		job.logf("mkksiso: %s has no EFI boot image; UEFI boot uses the GRUB configuration on the ISO", job.ISO)
	}
	if efiImage != "" {
		if err := k.editEFIImage(ctx, job, efiImage, edit); err != nil {
			return err
		}
	}
	if d.files[efiBootImage] {
		updated[efiBootImage] = efiImage
	}

	return k.write(ctx, job, k.command(job, d, updated, efiImage, files))
}

// write runs the xorriso command argv, which writes the image to file
// descriptor 3, stores the image in OutDir and implants the MD5 that
// Anaconda's media check verifies (as implantisomd5 --force would), computed
// from the bytes as they come through the pipe: the implant costs one
// 512-byte write instead of a second read of the whole image, and the MD5
// runs on the other core while xorriso writes. Force, because xorriso may
// copy the input's application-use area (an earlier checksum, which no
// longer holds) and the new image must carry its own.
func (k *ksiso) write(ctx context.Context, job *Job, argv []string) error {
	out := filepath.Join(job.OutDir, outputName(job.ISO))
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("mkksiso: %w", err)
	}
	job.logf("mkksiso: xorriso writes the image through a pipe into %s", out)
	summer := isomd5.Options{Force: true}.NewSummer()
	err = k.runner.runTool(ctx, job, command{tool: "xorriso", args: argv[1:], env: []string{"LANG=C", "LC_ALL=C"},
		fd3: io.MultiWriter(f, summer)})
	var sums isomd5.Sums
	if err == nil {
		if sums, err = summer.Sums(); err != nil {
			err = fmt.Errorf("mkksiso: media-check MD5 of %s: %w", out, err)
		}
	}
	if err == nil {
		if _, err = f.WriteAt(sums.AppData[:], isomd5.PVDOffset+isomd5.AppDataOffset); err != nil {
			err = fmt.Errorf("mkksiso: implant the media-check MD5 in %s: %w", out, err)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("mkksiso: %w", cerr)
	}
	if err != nil {
		os.Remove(out)
		return err
	}
	job.logf("mkksiso: implanted the media-check MD5 %s (fragment sums %s), as implantisomd5 does", sums.MD5, sums.FragmentSums)
	return nil
}

// checkISO9660 verifies that path holds an ISO 9660 image: xorriso would
// quietly treat anything else as blank media.
func checkISO9660(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open boot ISO: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open boot ISO: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("boot ISO %s is not a regular file", path)
	}
	// The primary volume descriptor is at sector 16 (byte 32768):
	// type 1, then "CD001".
	magic := make([]byte, 6)
	if _, err := f.ReadAt(magic, 16*2048); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read boot ISO %s: %w", path, err)
	}
	if !bytes.Equal(magic, []byte("\x01CD001")) {
		return fmt.Errorf("%s is not an ISO 9660 image (no primary volume descriptor at byte 32768)", path)
	}
	return nil
}

// inspect asks xorriso for the volume ID, the boot layout and the files.
func (k *ksiso) inspect(ctx context.Context, job *Job) (isoDetails, error) {
	d := isoDetails{files: map[string]bool{}, top: map[string]bool{}}
	wanted := map[string]bool{efiBootImage: true}
	for _, c := range isoConfigs() {
		wanted[c.path] = true
	}
	haveVolID := false
	collect := func(line string) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "Volume Id    : "):
			d.volID = strings.TrimPrefix(line, "Volume Id    : ")
			haveVolID = true
		case strings.HasPrefix(line, "-append_partition 2 "):
			d.appendedEFI = true
		case strings.HasPrefix(line, "'/") && strings.HasSuffix(line, "'"):
			p := strings.TrimSuffix(strings.TrimPrefix(line, "'/"), "'")
			if wanted[p] {
				d.files[p] = true
			}
			top, _, _ := strings.Cut(p, "/")
			d.top[strings.ToLower(top)] = true
			if strings.HasPrefix(p, sideRepoISODir+"/") {
				d.hasSideRepo = true
			}
		}
	}
	args := []string{"-indev", job.ISO, "-pvd_info", "-report_el_torito", "as_mkisofs", "-find", "/", "-type", "f"}
	if err := k.runner.runTool(ctx, job, command{tool: "xorriso", args: args, env: []string{"LANG=C", "LC_ALL=C"}, stdout: collect}); err != nil {
		return d, err
	}
	if !haveVolID || d.volID == "" {
		return d, fmt.Errorf("mkksiso: %s has no volume ID", job.ISO)
	}
	return d, nil
}

// extract copies files (ISO paths) out of the ISO into dir and makes them
// writable.
func (k *ksiso) extract(ctx context.Context, job *Job, dir string, files []string) error {
	args := []string{"-osirrox", "on", "-indev", job.ISO}
	for _, f := range files {
		args = append(args, "-extract", "/"+f, filepath.Join(dir, filepath.FromSlash(f)))
	}
	if err := k.runner.runTool(ctx, job, command{tool: "xorriso", args: args, env: []string{"LANG=C", "LC_ALL=C"}}); err != nil {
		return err
	}
	for _, f := range files {
		if err := os.Chmod(filepath.Join(dir, filepath.FromSlash(f)), 0o644); err != nil {
			return fmt.Errorf("mkksiso: extract %s: %w", f, err)
		}
	}
	return nil
}

// extractAppendedEFI copies the EFI boot image appended to the ISO as
// partition 2 (and not present as a file) into dir.
func (k *ksiso) extractAppendedEFI(ctx context.Context, job *Job, dir string) (string, error) {
	boot := filepath.Join(dir, "boot-images")
	if err := os.MkdirAll(boot, 0o755); err != nil {
		return "", fmt.Errorf("mkksiso: %w", err)
	}
	args := []string{"-osirrox", "on", "-indev", job.ISO, "-extract_boot_images", boot + "/"}
	if err := k.runner.runTool(ctx, job, command{tool: "xorriso", args: args, env: []string{"LANG=C", "LC_ALL=C"}}); err != nil {
		return "", err
	}
	found, err := filepath.Glob(filepath.Join(boot, "*part2_efi.img"))
	if err != nil || len(found) == 0 {
		return "", fmt.Errorf("mkksiso: %s: no EFI boot image in appended partition 2", job.ISO)
	}
	if err := os.Chmod(found[0], 0o644); err != nil {
		return "", fmt.Errorf("mkksiso: %w", err)
	}
	return found[0], nil
}

// editFile edits the kernel lines of one boot configuration file.
func editFile(local string, c bootConfig, edit kernelEdit, job *Job) error {
	b, err := os.ReadFile(local)
	if err != nil {
		return err
	}
	var text string
	if c.prm {
		if text, err = edit.prm(string(b)); err != nil {
			return err
		}
		job.logf("mkksiso: %s: parameter file rewritten", c.path)
		return os.WriteFile(local, []byte(text), 0o644)
	}
	text, n, err := edit.config(string(b), c.cmds, c.needInitrd)
	if err != nil {
		return err
	}
	job.logf("mkksiso: %s: %d lines changed", c.path, n)
	return os.WriteFile(local, []byte(text), 0o644)
}

// editEFIImage edits the GRUB configuration inside the FAT EFI boot image
// with mtools.
func (k *ksiso) editEFIImage(ctx context.Context, job *Job, img string, edit kernelEdit) error {
	env := []string{"MTOOLS_SKIP_CHECK=1", "LANG=C", "LC_ALL=C"}
	present := map[string]string{} // lower-case name -> name as stored
	list := func(line string) {
		name := path.Base(strings.TrimSpace(line))
		present[strings.ToLower(name)] = name
	}
	if err := k.runner.runTool(ctx, job, command{tool: "mdir", args: []string{"-b", "-i", img, "::/EFI/BOOT"}, env: env, stdout: list}); err != nil {
		return fmt.Errorf("mkksiso: list EFI/BOOT in %s: %w", efiBootImage, err)
	}
	dir := filepath.Join(filepath.Dir(img), "efiboot")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mkksiso: %w", err)
	}
	edited := 0
	for _, want := range []string{"grub.cfg", "BOOT.conf"} {
		name, ok := present[strings.ToLower(want)]
		if !ok {
			continue
		}
		inImage := "::/EFI/BOOT/" + name
		local := filepath.Join(dir, name)
		if err := k.runner.runTool(ctx, job, command{tool: "mcopy", args: []string{"-n", "-i", img, inImage, local}, env: env}); err != nil {
			return fmt.Errorf("mkksiso: read %s from %s: %w", inImage, efiBootImage, err)
		}
		c := bootConfig{path: efiBootImage + ":/EFI/BOOT/" + name, cmds: grubCmds}
		if err := editFile(local, c, edit, job); err != nil {
			return fmt.Errorf("mkksiso: %s: %w", c.path, err)
		}
		if err := k.runner.runTool(ctx, job, command{tool: "mcopy", args: []string{"-o", "-i", img, local, inImage}, env: env}); err != nil {
			return fmt.Errorf("mkksiso: write %s into %s: %w", inImage, efiBootImage, err)
		}
		edited++
	}
	if edited == 0 {
		return fmt.Errorf("mkksiso: %s in %s has no EFI/BOOT/grub.cfg", efiBootImage, job.ISO)
	}
	return nil
}
