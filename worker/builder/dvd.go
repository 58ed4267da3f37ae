package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// dvd builds installation DVDs the way a current Fedora worker can, since
// pungi 4 no longer ships pungi's classic command line: lorax makes the
// boot tree, dnf downloads the kickstart's %packages with their
// dependencies from the release's repositories, createrepo_c indexes them
// with a comps file, fbs writes .treeinfo and .discinfo, xorriso makes the
// ISO with the boot tree's El Torito records and implantisomd5 implants
// its checksum. doc/internals.md ("DVD builds") tells the whole story.
type dvd struct{ runner *runner }

var _ Builder = (*dvd)(nil)

func (*dvd) Name() string { return "lorax+dnf" }
func (*dvd) needs() []string {
	return []string{"lorax", "dnf", "createrepo_c", "xorriso", "implantisomd5"}
}

// Directories and files under WorkDir that a DVD build writes.
const (
	dvdTree  = "dvd-tree"  // lorax's output directory, then the DVD's tree
	dvdCache = "dnf-cache" // dnf's metadata cache
	dvdRoot  = "dnf-root"  // dnf's (empty) install root
	dvdComps = "comps.xml" // the DVD's comps file
)

// volIDMax is the longest ISO 9660 volume ID.
const volIDMax = 32

var volIDBad = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// dvdVolID is the DVD's volume ID, NAME-FLAVOR-VERSION-ARCH cut to 32
// characters; lorax writes it into the boot menus (inst.stage2=hd:LABEL=)
// and xorriso gives the ISO the same one.
func dvdVolID(job *Job) string {
	d := job.Spec.DVD
	id := volIDBad.ReplaceAllString(strings.Join([]string{d.Name, d.Flavor, d.Version, isoArch(job.Spec.Arch)}, "-"), "-")
	if len(id) > volIDMax {
		id = id[:volIDMax]
	}
	return id
}

// isoArch is the architecture name Fedora uses in file names and in
// $basearch.
func isoArch(arch string) string {
	if arch == "i686" {
		return "i386"
	}
	return arch
}

// dvdISOName is the ISO's file name, as pungi named it: NAME-VERSION-ARCH-DVD.iso.
func dvdISOName(job *Job) string {
	d := job.Spec.DVD
	return volIDBad.ReplaceAllString(fmt.Sprintf("%s-%s-%s-DVD", d.Name, d.Version, isoArch(job.Spec.Arch)), "-") + ".iso"
}

// repos returns the repositories the DVD's packages come from: the
// release's, then the side repository, each with the ID dnf knows it by.
func (*dvd) repos(job *Job) ([]dnfRepo, error) {
	var out []dnfRepo
	for i, r := range job.Repos {
		if r.URL == "" {
			return nil, fmt.Errorf("release repository %s has no base URL (dnf --repofrompath needs one)", r.Name)
		}
		out = append(out, dnfRepo{id: fmt.Sprintf("release%d", i+1), url: r.URL})
	}
	for i, u := range job.SideRepos {
		out = append(out, dnfRepo{id: fmt.Sprintf("side%d", i+1), url: u})
	}
	if len(job.Repos) == 0 {
		return nil, errors.New("no release repositories for this release: see [dvd] repos in the worker's configuration")
	}
	return out, nil
}

// dnfRepo is one repository as dnf gets it.
type dnfRepo struct{ id, url string }

// command returns lorax's command line for the DVD's boot tree.
func (b *dvd) command(job *Job) ([]string, error) {
	d := job.Spec.DVD
	if d == nil {
		return nil, errors.New("dvd: spec has no [dvd] section")
	}
	repos, err := b.repos(job)
	if err != nil {
		return nil, err
	}
	args := []string{"lorax", "-p", d.Name, "-v", d.Version, "-r", d.Version, "-t", d.Flavor}
	if d.BugURL != "" {
		args = append(args, "-b", d.BugURL)
	}
	for _, r := range repos {
		args = append(args, "-s", r.url)
	}
	args = append(args,
		"--buildarch", job.Spec.Arch,
		"--volid", dvdVolID(job),
		"--nomacboot",
		"--tmp", job.WorkDir,
		"--logfile", filepath.Join(job.WorkDir, "lorax.log"),
		filepath.Join(job.WorkDir, dvdTree))
	return args, nil
}

// dnfArgs are the options of every dnf run: its own install root and
// cache, no system repositories or configuration, only the build's
// repositories, the build's release and architecture.
func (b *dvd) dnfArgs(job *Job) ([]string, error) {
	repos, err := b.repos(job)
	if err != nil {
		return nil, err
	}
	args := []string{
		"--installroot=" + filepath.Join(job.WorkDir, dvdRoot),
		"--releasever=" + job.Spec.Release,
		"--forcearch=" + job.Spec.Arch,
		"--setopt=reposdir=/dev/null",
		"--setopt=cachedir=" + filepath.Join(job.WorkDir, dvdCache),
		"--nogpgcheck",
	}
	for _, r := range repos {
		args = append(args, "--repofrompath="+r.id+","+r.url, "--repo="+r.id)
	}
	return args, nil
}

// downloadCommand returns dnf's command line that downloads want, with
// every dependency, into the tree's Packages directory.
func (b *dvd) downloadCommand(job *Job, want, exclude []string) ([]string, error) {
	common, err := b.dnfArgs(job)
	if err != nil {
		return nil, err
	}
	args := append([]string{"dnf", "-y"}, common...)
	for _, x := range exclude {
		args = append(args, "--exclude="+x)
	}
	args = append(args, "download", "--resolve", "--alldeps",
		"--destdir", filepath.Join(job.WorkDir, dvdTree, "Packages"))
	return append(args, want...), nil
}

// Build makes the DVD's tree and ISO and leaves the ISO in OutDir.
func (b *dvd) Build(ctx context.Context, job *Job) error {
	job, err := prepareJob(job, true)
	if err != nil {
		return fmt.Errorf("dvd: %w", err)
	}
	text, err := os.ReadFile(job.Kickstart)
	if err != nil {
		return fmt.Errorf("dvd: read kickstart: %w", err)
	}
	pk, err := parsePackages(string(text))
	if err != nil {
		return fmt.Errorf("dvd: kickstart %s: %w", filepath.Base(job.Kickstart), err)
	}
	argv, err := b.command(job)
	if err != nil {
		return err
	}
	if err := b.runner.runTool(ctx, job, command{tool: "lorax", args: argv[1:]}); err != nil {
		return err
	}
	tree := filepath.Join(job.WorkDir, dvdTree)

	// dnf fetches the repositories' metadata (comps included) first, so
	// the kickstart's groups can be read from its cache.
	common, err := b.dnfArgs(job)
	if err != nil {
		return err
	}
	if err := b.runner.runTool(ctx, job, command{tool: "dnf", args: append(append([]string{"-y"}, common...), "makecache")}); err != nil {
		return err
	}
	release, err := cachedComps(filepath.Join(job.WorkDir, dvdCache))
	if err != nil {
		return fmt.Errorf("dvd: %w", err)
	}
	groups, err := release.pick(pk.groups)
	if err != nil {
		return fmt.Errorf("dvd: kickstart %s: %w", filepath.Base(job.Kickstart), err)
	}
	want := slices.Clone(pk.names)
	for _, g := range groups {
		want = append(want, g.install()...)
	}
	want = dedupe(want, pk.excluded)
	if len(want) == 0 {
		return fmt.Errorf("dvd: kickstart %s: %%packages names no package to put on the DVD", filepath.Base(job.Kickstart))
	}
	argv, err = b.downloadCommand(job, want, pk.excluded)
	if err != nil {
		return err
	}
	if err := b.runner.runTool(ctx, job, command{tool: "dnf", args: argv[1:]}); err != nil {
		return err
	}
	onDVD, err := packageNames(filepath.Join(tree, "Packages"))
	if err != nil {
		return fmt.Errorf("dvd: %w", err)
	}
	compsPath := filepath.Join(job.WorkDir, dvdComps)
	if err := writeDVDComps(compsPath, job.Spec.DVD, groups, pk.names, onDVD); err != nil {
		return fmt.Errorf("dvd: %w", err)
	}
	if err := b.runner.runTool(ctx, job, command{tool: "createrepo_c", args: []string{"-q", "-g", compsPath, tree}}); err != nil {
		return err
	}
	if err := writeTreeinfo(ctx, tree, job); err != nil {
		return fmt.Errorf("dvd: %w", err)
	}
	if err := writeDiscinfo(tree, job); err != nil {
		return fmt.Errorf("dvd: %w", err)
	}
	iso := filepath.Join(job.OutDir, dvdISOName(job))
	argv, err = xorrisoDVD(tree, iso, dvdVolID(job))
	if err != nil {
		return fmt.Errorf("dvd: %w", err)
	}
	if err := b.runner.runTool(ctx, job, command{tool: "xorriso", args: argv[1:]}); err != nil {
		return err
	}
	return b.runner.runTool(ctx, job, command{tool: "implantisomd5", args: []string{iso}})
}

// dedupe returns names without repeats and without the excluded ones, in
// their first order.
func dedupe(names, excluded []string) []string {
	seen := map[string]bool{}
	for _, x := range excluded {
		seen[x] = true
	}
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// xorrisoDVD returns xorriso's command line that makes iso of tree, with
// El Torito records for the boot files lorax left: BIOS boot through
// GRUB 2's images/eltorito.img (current lorax) or isolinux (older lorax),
// and UEFI boot through images/efiboot.img, as lorax's own templates and
// mkksiso do.
func xorrisoDVD(tree, iso, volID string) ([]string, error) {
	exists := func(rel string) bool {
		fi, err := os.Stat(filepath.Join(tree, rel))
		return err == nil && fi.Mode().IsRegular()
	}
	args := []string{"xorriso", "-as", "mkisofs", "-o", iso, "-V", volID, "-R", "-J", "-joliet-long"}
	boot := false
	switch {
	case exists("images/eltorito.img"):
		args = append(args, "-b", "images/eltorito.img", "-c", "boot.cat",
			"-no-emul-boot", "-boot-load-size", "4", "-boot-info-table")
		boot = true
	case exists("isolinux/isolinux.bin"):
		args = append(args, "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
			"-no-emul-boot", "-boot-load-size", "4", "-boot-info-table")
		boot = true
	}
	if exists("images/efiboot.img") {
		if boot {
			args = append(args, "-eltorito-alt-boot")
		}
		args = append(args, "-e", "images/efiboot.img", "-no-emul-boot", "-isohybrid-gpt-basdat")
		boot = true
	}
	if !boot {
		return nil, fmt.Errorf("lorax left no boot image in %s (want images/eltorito.img, isolinux/isolinux.bin or images/efiboot.img)", tree)
	}
	return append(args, tree), nil
}
