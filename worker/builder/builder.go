package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"

	"github.com/fedora-fbs/fbs/tasks"
)

// Job is one build as a builder sees it. Every path in it was chosen by the
// worker, never by the request.
type Job struct {
	// ID is the build ID.
	ID string
	// Spec is the validated build spec.
	Spec tasks.Spec
	// Kickstart is the path of the flattened kickstart file; empty for boot
	// builds.
	Kickstart string
	// ISO is, for ksiso builds, the local path of the boot ISO (already
	// resolved by isocache).
	ISO string
	// WorkDir is a scratch directory owned by this build; it exists and is
	// empty. Tools run with it as their working directory.
	WorkDir string
	// OutDir is where the images must end up, directly inside; it exists
	// and is empty.
	OutDir string
	// SideRepos are extra repository base URLs (file:///...). lorax (and
	// dnf, for DVDs) gets them as sources; the other tools find them in the
	// kickstart already.
	SideRepos []string
	// Repos are, for DVD builds, the release's package repositories
	// (the worker's [dvd] repos, $releasever and $basearch expanded).
	Repos []tasks.Repo
	// SideRepoDir is the local directory of the side repository of extra
	// packages, for ksiso only: it goes onto the ISO as /fbs-side, which
	// the kickstart names as SideRepoISOURL, because the ISO installs
	// machines long after the build and far from the worker. The other
	// builders consume the repository during the build, in place.
	SideRepoDir string
	// FilesDir is the worker's directory of files a request may name
	// (iso_dir): [ksiso] add and updates are names in it.
	FilesDir string
	// Output receives the tool's stdout and stderr, one complete line per
	// Write, each ending in "\n". Only one goroutine writes to it at a time.
	Output io.Writer
	// Logf records the builder's own notes in the build log, such as the
	// exact command line it runs. May be nil.
	Logf func(format string, args ...any)
}

func (j *Job) logf(format string, args ...any) {
	if j.Logf != nil {
		j.Logf(format, args...)
	}
}

// output is where tool lines go: Job.Output, or nowhere when it is nil.
func (j *Job) output() io.Writer {
	if j.Output == nil {
		return io.Discard
	}
	return j.Output
}

// Builder makes the images of one image type.
type Builder interface {
	// Name is the tool the builder runs: "lorax", "lorax+dnf" (DVDs),
	// "livemedia-creator", "livecd-creator" or "mkksiso".
	Name() string
	// Build runs the build described by job and leaves the images in
	// job.OutDir. It returns an error wrapping ctx.Err() when ctx ends
	// first, a *ToolError when a tool is missing, and an *ExitError when a
	// tool fails.
	Build(ctx context.Context, job *Job) error
}

// Tools maps a tool name to the binary to run ("xorriso" ->
// "/usr/bin/xorriso"); tools without an entry are looked up in PATH.
type Tools map[string]string

// path returns the binary to run for tool, or a *ToolError.
func (t Tools) path(tool string) (string, error) {
	fedora, debian := toolPackages(tool)
	if p := t[tool]; p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", &ToolError{Tool: tool, Fedora: fedora, Debian: debian, Path: p}
		}
		return p, nil
	}
	p, err := exec.LookPath(tool)
	if err != nil {
		return "", &ToolError{Tool: tool, Fedora: fedora, Debian: debian}
	}
	return p, nil
}

// toolPackages names the Fedora and Debian packages that provide tool; debian
// is "" when Debian has none.
func toolPackages(tool string) (fedora, debian string) {
	switch tool {
	case "lorax":
		return "lorax", ""
	case "pungi":
		return "pungi", ""
	case "dnf":
		return "dnf", "dnf-plugins-core"
	case "createrepo_c":
		return "createrepo_c", "createrepo-c"
	case "implantisomd5", "checkisomd5":
		return "isomd5sum", "isomd5sum"
	case "livemedia-creator":
		return "lorax-lmc-novirt", ""
	case "livecd-creator":
		return "livecd-tools", ""
	case "xorriso":
		return "xorriso", "xorriso"
	case "mcopy", "mdir":
		return "mtools", "mtools"
	}
	return tool, tool
}

// New returns the builder for spec.Type (and, for live images,
// spec.Live.Builder). Tools are looked up when the builder runs; use Check to
// find missing ones early.
func New(spec *tasks.Spec, tools Tools) (Builder, error) {
	r := newRunner(tools)
	switch spec.Type {
	case tasks.TypeBoot:
		if spec.Boot == nil {
			return nil, errors.New("new builder: boot spec has no [boot] section")
		}
		return &lorax{runner: r}, nil
	case tasks.TypeDVD:
		if spec.DVD == nil {
			return nil, errors.New("new builder: dvd spec has no [dvd] section")
		}
		return &dvd{runner: r}, nil
	case tasks.TypeLive:
		if spec.Live == nil {
			return nil, errors.New("new builder: live spec has no [live] section")
		}
		switch spec.Live.Builder {
		case tasks.BuilderLiveMedia, "":
			return &liveMedia{runner: r}, nil
		case tasks.BuilderLiveCD:
			return &liveCD{runner: r}, nil
		}
		return nil, fmt.Errorf("new builder: unknown live builder %q (want %s or %s)",
			spec.Live.Builder, tasks.BuilderLiveMedia, tasks.BuilderLiveCD)
	case tasks.TypeKSISO:
		if spec.KSISO == nil {
			return nil, errors.New("new builder: ksiso spec has no [ksiso] section")
		}
		return &ksiso{runner: r}, nil
	}
	return nil, fmt.Errorf("new builder: unknown image type %q", spec.Type)
}

// needer is what every builder implements for Check.
type needer interface {
	// needs lists the tools the builder runs.
	needs() []string
}

// Check returns a *ToolError for the first tool the builder of spec needs that
// is missing, so a worker can refuse the build early or log it at start.
func Check(spec *tasks.Spec, tools Tools) error {
	b, err := New(spec, tools)
	if err != nil {
		return err
	}
	for _, tool := range b.(needer).needs() {
		if _, err := tools.path(tool); err != nil {
			return err
		}
	}
	return nil
}

// prepareJob verifies the paths every builder relies on and returns a copy of
// job with them made absolute, since tools run in WorkDir.
func prepareJob(job *Job, needKickstart bool) (*Job, error) {
	switch {
	case job.WorkDir == "":
		return nil, errors.New("job has no work directory")
	case job.OutDir == "":
		return nil, errors.New("job has no output directory")
	case needKickstart && job.Kickstart == "":
		return nil, fmt.Errorf("job of type %s has no kickstart", job.Spec.Type)
	}
	j := *job
	for _, p := range []*string{&j.WorkDir, &j.OutDir, &j.Kickstart, &j.ISO, &j.SideRepoDir} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, fmt.Errorf("job path %s: %w", *p, err)
		}
		*p = abs
	}
	return &j, nil
}
