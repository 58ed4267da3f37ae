package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// pungi builds installation DVDs with pungi's classic command line, as the
// original fbs did.
type pungi struct{ runner *runner }

var _ Builder = (*pungi)(nil)

func (*pungi) Name() string    { return "pungi" }
func (*pungi) needs() []string { return []string{"pungi"} }

// Directories under WorkDir that pungi writes to.
const (
	pungiDest  = "pungi-dest"
	pungiCache = "pungi-cache"
	pungiWork  = "pungi-work"
)

// pungiStages maps the spec's stage= values to pungi flags.
func pungiStage(stage string) (string, error) {
	switch stage {
	case "", "all":
		return "--all-stages", nil
	case "-G", "-C", "-B", "-I":
		return stage, nil
	}
	return "", fmt.Errorf("pungi: unknown stage %q (want all, -G, -C, -B or -I)", stage)
}

// command returns pungi's command line for job.
func (*pungi) command(job *Job) ([]string, error) {
	d := job.Spec.DVD
	if d == nil {
		return nil, errors.New("pungi: spec has no [dvd] section")
	}
	stage, err := pungiStage(d.Stage)
	if err != nil {
		return nil, err
	}
	args := []string{"pungi",
		"--name", d.Name,
		"--ver", d.Version,
		"--flavor", d.Flavor,
		"--destdir", filepath.Join(job.WorkDir, pungiDest),
		"--cachedir", filepath.Join(job.WorkDir, pungiCache),
		"--workdirbase", filepath.Join(job.WorkDir, pungiWork),
	}
	if d.BugURL != "" {
		args = append(args, "--bugurl", d.BugURL)
	}
	if d.NoSource {
		args = append(args, "--nosource")
	}
	if d.SourceISOs {
		args = append(args, "--sourceisos")
	}
	if d.Force {
		args = append(args, "--force")
	}
	args = append(args, stage, "-c", job.Kickstart)
	return args, nil
}

// isoArch is the architecture name pungi uses in its output paths.
func isoArch(arch string) string {
	if arch == "i686" {
		return "i386"
	}
	return arch
}

// Build runs pungi and moves the files of its iso/ directory (DVD,
// netinstall ISO, CHECKSUM) into OutDir.
func (p *pungi) Build(ctx context.Context, job *Job) error {
	job, err := prepareJob(job, true)
	if err != nil {
		return fmt.Errorf("pungi: %w", err)
	}
	argv, err := p.command(job)
	if err != nil {
		return err
	}
	if err := p.runner.runTool(ctx, job, command{tool: "pungi", args: argv[1:]}); err != nil {
		return err
	}
	d := job.Spec.DVD
	isoDir := filepath.Join(job.WorkDir, pungiDest, d.Version, d.Flavor, isoArch(job.Spec.Arch), "iso")
	return moveFiles(isoDir, job.OutDir, ".iso")
}

// moveFiles moves the regular files of dir into out. At least one of them
// must end in want.
func moveFiles(dir, out, want string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("collect images: %w", err)
	}
	found := false
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(out, e.Name())); err != nil {
			return fmt.Errorf("collect images: %w", err)
		}
		found = found || strings.HasSuffix(e.Name(), want)
	}
	if !found {
		return fmt.Errorf("collect images: no %s file in %s", want, dir)
	}
	return nil
}
