package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fedora-fbs/fbs/tasks"
)

// lorax builds boot ISOs.
type lorax struct{ runner *runner }

var _ Builder = (*lorax)(nil)

func (*lorax) Name() string    { return "lorax" }
func (*lorax) needs() []string { return []string{"lorax"} }

// loraxResult is the directory, under WorkDir, that lorax creates itself (it
// refuses one that exists).
const loraxResult = "lorax-result"

// command returns lorax's command line for job.
func (*lorax) command(job *Job) ([]string, error) {
	b := job.Spec.Boot
	if b == nil {
		return nil, errors.New("lorax: spec has no [boot] section")
	}
	args := []string{"lorax", "-p", b.Product, "-v", b.Version, "-r", b.Release}
	sources := 0
	for _, r := range bootRepos(b) {
		switch {
		case r.URL != "":
			args = append(args, "-s", r.URL)
			sources++
		case r.Mirror != "":
			args = append(args, "--mirrorlist", r.Mirror)
		}
	}
	for _, u := range job.SideRepos {
		args = append(args, "-s", u)
		sources++
	}
	if sources == 0 {
		return nil, errors.New("lorax: the [boot] section names no repository base URL (lorax needs at least one; mirror lists alone are not enough)")
	}
	if b.Proxy != "" {
		args = append(args, "--proxy", b.Proxy)
	}
	args = append(args,
		"--buildarch", job.Spec.Arch,
		"--tmp", job.WorkDir,
		"--logfile", filepath.Join(job.WorkDir, "lorax.log"),
		filepath.Join(job.WorkDir, loraxResult))
	return args, nil
}

// bootRepos returns the repositories of b that lorax uses: all of them, but
// the updates and updates-testing ones only when the spec asks for them.
func bootRepos(b *tasks.BootSpec) []tasks.Repo {
	var out []tasks.Repo
	for _, r := range b.Repos {
		switch {
		case strings.HasSuffix(r.Name, "-updates-testing"):
			if !b.UpdatesTesting {
				continue
			}
		case strings.HasSuffix(r.Name, "-updates"):
			if !b.Updates {
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// Build runs lorax and moves images/boot.iso into OutDir.
func (l *lorax) Build(ctx context.Context, job *Job) error {
	job, err := prepareJob(job, false)
	if err != nil {
		return fmt.Errorf("lorax: %w", err)
	}
	argv, err := l.command(job)
	if err != nil {
		return err
	}
	if err := l.runner.runTool(ctx, job, command{tool: "lorax", args: argv[1:]}); err != nil {
		return err
	}
	src := filepath.Join(job.WorkDir, loraxResult, "images", "boot.iso")
	dst := filepath.Join(job.OutDir, "boot.iso")
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("lorax: collect boot ISO: %w", err)
	}
	return nil
}
