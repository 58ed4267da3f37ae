package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// liveMedia builds live ISOs with livemedia-creator, running anaconda
// directly on the worker (--no-virt).
type liveMedia struct{ runner *runner }

var _ Builder = (*liveMedia)(nil)

func (*liveMedia) Name() string    { return "livemedia-creator" }
func (*liveMedia) needs() []string { return []string{"livemedia-creator"} }

// lmcResult is the directory, under WorkDir, livemedia-creator creates itself
// (it refuses one that exists).
const lmcResult = "lmc-result"

// maxVolID is the longest ISO 9660 volume ID.
const maxVolID = 32

// command returns livemedia-creator's command line for job.
// livemedia-creator has no title option: the boot menus show the project.
func (*liveMedia) command(job *Job) ([]string, error) {
	l := job.Spec.Live
	if l == nil {
		return nil, errors.New("livemedia-creator: spec has no [live] section")
	}
	if err := checkLabel(l.Label); err != nil {
		return nil, fmt.Errorf("livemedia-creator: %w", err)
	}
	args := []string{"livemedia-creator",
		"--make-iso", "--no-virt", "--iso-only",
		"--iso-name", isoFileName(l.Label),
		"--ks", job.Kickstart,
	}
	if l.Product != "" {
		args = append(args, "--project", l.Product)
	}
	if l.ReleaseVer != "" {
		args = append(args, "--releasever", l.ReleaseVer)
	}
	args = append(args,
		"--volid", l.Label,
		"--resultdir", filepath.Join(job.WorkDir, lmcResult),
		"--tmp", job.WorkDir,
		"--logfile", filepath.Join(job.WorkDir, "livemedia.log"))
	return args, nil
}

// Build runs livemedia-creator and moves the ISO into OutDir.
func (b *liveMedia) Build(ctx context.Context, job *Job) error {
	job, err := prepareJob(job, true)
	if err != nil {
		return fmt.Errorf("livemedia-creator: %w", err)
	}
	argv, err := b.command(job)
	if err != nil {
		return err
	}
	if err := b.runner.runTool(ctx, job, command{tool: "livemedia-creator", args: argv[1:]}); err != nil {
		return err
	}
	name := isoFileName(job.Spec.Live.Label)
	if err := os.Rename(filepath.Join(job.WorkDir, lmcResult, name), filepath.Join(job.OutDir, name)); err != nil {
		return fmt.Errorf("livemedia-creator: collect live ISO: %w", err)
	}
	return nil
}

// liveCD builds live ISOs with livecd-creator, as the original fbs did.
type liveCD struct{ runner *runner }

var _ Builder = (*liveCD)(nil)

func (*liveCD) Name() string    { return "livecd-creator" }
func (*liveCD) needs() []string { return []string{"livecd-creator"} }

// command returns livecd-creator's command line for job.
func (*liveCD) command(job *Job) ([]string, error) {
	l := job.Spec.Live
	if l == nil {
		return nil, errors.New("livecd-creator: spec has no [live] section")
	}
	if err := checkLabel(l.Label); err != nil {
		return nil, fmt.Errorf("livecd-creator: %w", err)
	}
	args := []string{"livecd-creator",
		"--config", job.Kickstart,
		"--fslabel", l.Label,
	}
	if l.Title != "" {
		args = append(args, "--title", l.Title)
	}
	if l.Product != "" {
		args = append(args, "--product", l.Product)
	}
	if l.ReleaseVer != "" {
		args = append(args, "--releasever", l.ReleaseVer)
	}
	args = append(args,
		"--tmpdir", filepath.Join(job.WorkDir, "tmp"),
		"--cache", filepath.Join(job.WorkDir, "cache"),
		"--logfile", filepath.Join(job.WorkDir, "livecd-creator.log"))
	return args, nil
}

// Build runs livecd-creator and moves the ISO (LABEL.iso, written to the
// working directory) into OutDir.
func (b *liveCD) Build(ctx context.Context, job *Job) error {
	job, err := prepareJob(job, true)
	if err != nil {
		return fmt.Errorf("livecd-creator: %w", err)
	}
	argv, err := b.command(job)
	if err != nil {
		return err
	}
	for _, d := range []string{"tmp", "cache"} {
		if err := os.MkdirAll(filepath.Join(job.WorkDir, d), 0o755); err != nil {
			return fmt.Errorf("livecd-creator: %w", err)
		}
	}
	if err := b.runner.runTool(ctx, job, command{tool: "livecd-creator", args: argv[1:]}); err != nil {
		return err
	}
	name := job.Spec.Live.Label + ".iso"
	if err := os.Rename(filepath.Join(job.WorkDir, name), filepath.Join(job.OutDir, name)); err != nil {
		return fmt.Errorf("livecd-creator: collect live ISO: %w", err)
	}
	return nil
}

// checkLabel verifies a live image label, which becomes the volume ID and
// the ISO's file name.
func checkLabel(label string) error {
	switch {
	case label == "":
		return errors.New("[live] label is empty")
	case len(label) > maxVolID:
		return fmt.Errorf("[live] label %q is longer than %d characters (an ISO volume ID)", label, maxVolID)
	case strings.ContainsAny(label, "/\x00") || label == "." || label == "..":
		return fmt.Errorf("[live] label %q cannot name a file", label)
	}
	return nil
}

// isoFileName turns a label into a safe ISO file name.
func isoFileName(label string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r) {
			return r
		}
		return '-'
	}, label) + ".iso"
}
