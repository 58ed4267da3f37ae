// Package pipeline runs one build from start to finish on the machine it is
// called on: fetch what the build needs, check the flattened kickstart, build
// the images with the right tool, checksum them, and stage images, CHECKSUM,
// kickstart and log. The queue worker and `fbs build --local` both run
// builds through it; neither knows how a stage works.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing/fstest"
	"time"

	"github.com/fedora-fbs/fbs/kickstarts"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/tasks/submission"
	"github.com/fedora-fbs/fbs/worker/builder"
	"github.com/fedora-fbs/fbs/worker/buildlog"
	"github.com/fedora-fbs/fbs/worker/isocache"
	"github.com/fedora-fbs/fbs/worker/progress"
	"github.com/fedora-fbs/fbs/worker/sha256sum"
	"github.com/fedora-fbs/fbs/worker/siderepo"
	"github.com/fedora-fbs/fbs/worker/staging"
	"golang.org/x/sys/unix"
)

// Config is what a pipeline needs from the worker's configuration.
type Config struct {
	// DataDir is the worker's data dir; builds live in DataDir/builds/<id>.
	DataDir string
	// ISODir holds boot ISOs that ksiso specs may name.
	ISODir string
	// Tools overrides the binaries of the build tools.
	Tools builder.Tools
	// Staging configures transfers; Remote is set from Local.
	Staging staging.Options
	// Local is true when the submitter is this machine's own user
	// (`fbs build --local`, `fbs serve` in local mode): only then may a spec
	// name local files such as a boot ISO path.
	Local bool
	// Egress is the outbound-address policy ([security]) of every
	// connection a build makes for its request: the ISO download, the
	// staging transfer (Staging.Egress is set from it) and, checked just
	// before the tool runs, the URLs lorax, dnf and livemedia-creator
	// connect to by themselves. Nil is the default policy (tasks/egress);
	// `fbs build --local` gives egress.Open().
	Egress *egress.Policy
	// Kickstarts is where the worker's standard kickstarts are: a kickstart
	// re-flattened here may include them (the operator's files, never the
	// request's).
	Kickstarts kickstarts.Library
	// KeepBuilds is how many builds' images the worker keeps after they
	// were staged and verified (default 0: removed at once).
	KeepBuilds int
	// DVDRepos returns the base URLs of a release's repositories on an
	// arch, which DVD builds download their packages from ([dvd] repos,
	// conf.DVD.RepoURLs); nil means none, and DVD builds fail.
	DVDRepos func(release, arch string) []string
	// SideRepos builds the side repository of extra packages (nvr=, bid=);
	// nil means this worker cannot, and such builds fail in that stage.
	SideRepos SideRepos
	// Logger receives service log lines (default slog.Default()).
	Logger *slog.Logger
	// ProgressInterval is how often the stages that move bytes report
	// their progress; 0 means progress.Interval (2 s). Tests shorten it.
	ProgressInterval time.Duration
}

// SideRepos makes a yum repository in dir of the RPMs of the given Koji
// NVRs and build IDs for arch, and returns its directory.
type SideRepos interface {
	Build(ctx context.Context, dir, arch string, nvrs, buildIDs []string, rep *progress.Reporter) (string, error)
}

var _ SideRepos = (*siderepo.Resolver)(nil)

// SideRepoName is the name of the side repository in kickstarts.
const SideRepoName = "fbs-side"

// Pipeline runs builds. It is safe for concurrent use by several builds.
type Pipeline struct {
	cfg Config
}

// New returns a pipeline; it creates the data dir if needed.
func New(cfg Config) (*Pipeline, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("pipeline: no data dir")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Staging.Remote = !cfg.Local
	cfg.Staging.Egress = cfg.Egress
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "builds"), 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	return &Pipeline{cfg: cfg}, nil
}

// Check returns a *builder.ToolError when this host lacks a tool the
// builder of spec runs: such a build is not this host's to take.
func (p *Pipeline) Check(spec *tasks.Spec) error {
	return builder.Check(spec, p.cfg.Tools)
}

// Capabilities lists the build kinds this host can run, with the tools
// and versions it found, or the tool it lacks.
func (p *Pipeline) Capabilities(ctx context.Context) []tasks.Capability {
	return builder.Capabilities(ctx, p.cfg.Tools)
}

// DataDir is the worker's data dir, where builds run and images are
// written.
func (p *Pipeline) DataDir() string { return p.cfg.DataDir }

// BuildDir is where build id keeps its log, scratch and images on this host.
func (p *Pipeline) BuildDir(id string) string {
	return filepath.Join(p.cfg.DataDir, "builds", id)
}

// LogPath is the log file of build id on this host.
func (p *Pipeline) LogPath(id string) string {
	return filepath.Join(p.BuildDir(id), "build.log")
}

// Observer hears of a build's stages as they start and end, and of how far
// the stages that move bytes are (the boot ISO download, the side
// repository, the transfer) every few seconds, to keep the build record
// current. Nil fields are not called; Progress must not block.
type Observer struct {
	Stage    func(t tasks.StageTiming, done bool)
	Progress func(p tasks.Progress)
}

// Result is what a build produced, successful or not.
type Result struct {
	// Artifacts are the staged files (images, CHECKSUM, kickstart, log).
	Artifacts []tasks.Artifact
	// Staged is the staging URL of the build's directory.
	Staged string
	// Stages are the timings of the stages that ran.
	Stages []tasks.StageTiming
	// Failed is the stage that failed, if any.
	Failed tasks.Stage
	// Tail holds the tool's last output lines when the build stage failed.
	Tail []string
	// Logs are the tool's own logs as staged under <id>/logs/ (Name is the
	// path inside logs/).
	Logs []tasks.Artifact
	// ToolError is where the tool's own logs show its error, when the build
	// stage failed.
	ToolError *tasks.LogExcerpt
	// Built is true when the images were made and checksummed: a failed
	// transfer can then be retried without building again.
	Built bool
	// OutDir is where the images are on this host until they are staged.
	OutDir string
}

// StageError is a failure of one stage.
type StageError struct {
	Stage tasks.Stage
	Err   error
}

func (e *StageError) Error() string { return fmt.Sprintf("%s: %v", e.Stage, e.Err) }
func (e *StageError) Unwrap() error { return e.Err }

// Run runs the build of payload, writing to log (created by the caller at
// LogPath). It returns the result and, if the build failed or was stopped,
// the error (a *StageError wrapping ctx's error when ctx ended). Even then
// the log and the kickstart are staged when possible.
func (p *Pipeline) Run(ctx context.Context, pl *tasks.Payload, log *buildlog.Log, observe Observer) (*Result, error) {
	r := p.newExecution(pl, log, observe)
	// A build handed back by a draining worker may have left these here.
	for _, d := range []string{r.work, r.out, r.logs} {
		if err := os.RemoveAll(d); err != nil {
			return r.res, &StageError{Stage: tasks.StageFetch, Err: fmt.Errorf("clean %s: %w", d, err)}
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return r.res, &StageError{Stage: tasks.StageFetch, Err: fmt.Errorf("create %s: %w", d, err)}
		}
	}
	defer os.RemoveAll(r.work)
	err := r.build(ctx)
	if err != nil {
		var se *StageError
		if errors.As(err, &se) {
			r.res.Failed = se.Stage
		}
		log.Printf("build %s: %v", failWord(ctx), err)
		// Stage what there is (kickstart and log) even after a failure, but
		// not after a cancel: the user asked for it to stop.
		if ctx.Err() == nil {
			if terr := r.transfer(ctx, false); terr != nil {
				err = errors.Join(err, terr)
			}
		}
		return r.res, err
	}
	r.res.Built, r.res.OutDir = true, r.out
	return r.res, r.finishTransfer(ctx)
}

// Retransfer tries again to stage the images of a build whose transfer
// failed, from where Run left them on this host.
func (p *Pipeline) Retransfer(ctx context.Context, pl *tasks.Payload, log *buildlog.Log, observe Observer) (*Result, error) {
	r := p.newExecution(pl, log, observe)
	if _, err := os.Stat(filepath.Join(r.out, "CHECKSUM")); err != nil {
		return r.res, &StageError{Stage: tasks.StageTransfer, Err: fmt.Errorf("the images of build %s are no longer on this host: %w", pl.ID, err)}
	}
	if ks := filepath.Join(r.dir, "kickstart.ks"); fileExists(ks) {
		r.ks = ks
	}
	defer os.RemoveAll(r.work)
	r.res.Built, r.res.OutDir = true, r.out
	return r.res, r.finishTransfer(ctx)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// finishTransfer stages a built build and, once its images are verified in
// staging, lets the worker's copy go (keeping the last KeepBuilds).
func (r *execution) finishTransfer(ctx context.Context) error {
	if err := r.transfer(ctx, true); err != nil {
		r.res.Failed = tasks.StageTransfer
		return err
	}
	if err := os.WriteFile(filepath.Join(r.out, stagedMarker), nil, 0o644); err != nil {
		r.p.cfg.Logger.Warn("mark images staged", "build", r.pl.ID, "err", err)
	}
	r.p.prune()
	return nil
}

// stagedMarker marks an output dir whose images are verified in staging.
const stagedMarker = ".staged"

// prune removes the images of staged builds beyond the newest KeepBuilds.
func (p *Pipeline) prune() {
	outs, _ := filepath.Glob(filepath.Join(p.cfg.DataDir, "builds", "*", "out", stagedMarker))
	type staged struct {
		dir string
		at  time.Time
	}
	var all []staged
	for _, m := range outs {
		if fi, err := os.Stat(m); err == nil {
			all = append(all, staged{filepath.Dir(m), fi.ModTime()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].at.After(all[j].at) })
	for i := p.cfg.KeepBuilds; i < len(all); i++ {
		if err := os.RemoveAll(all[i].dir); err != nil {
			p.cfg.Logger.Warn("remove staged images", "dir", all[i].dir, "err", err)
		}
	}
}

func failWord(ctx context.Context) string {
	if ctx.Err() != nil {
		return "stopped"
	}
	return "failed"
}

// newExecution sets up one build's execution and its directories' names.
func (p *Pipeline) newExecution(pl *tasks.Payload, log *buildlog.Log, observe Observer) *execution {
	if observe.Stage == nil {
		observe.Stage = func(tasks.StageTiming, bool) {}
	}
	dir := p.BuildDir(pl.ID)
	rep := &progress.Reporter{Log: log.Printf, Publish: observe.Progress, Interval: p.cfg.ProgressInterval}
	return &execution{p: p, pl: pl, log: log, observe: observe.Stage, progress: rep, res: &Result{},
		dir: dir, work: filepath.Join(dir, "work"), out: filepath.Join(dir, "out"),
		logs: filepath.Join(dir, tasks.LogsDir)}
}

// execution is one build going through the pipeline on this host: its
// payload, log, directories and what the stages found so far.
type execution struct {
	p        *Pipeline
	pl       *tasks.Payload
	log      *buildlog.Log
	observe  func(t tasks.StageTiming, done bool)
	progress *progress.Reporter
	res      *Result

	dir, work, out string
	logs           string // the tool's own logs, moved out of work to be staged
	iso            string // resolved boot ISO (ksiso)
	ks             string // flattened kickstart file
	sideRepos      []string
	sideRepoDir    string            // side repository to put on a kickstart ISO
	sums           map[string]string // image path -> SHA256, from the checksum stage
}

// stage runs fn as stage s, timing it in the log and the record.
func (r *execution) stage(ctx context.Context, s tasks.Stage, fn func() error) error {
	t := tasks.StageTiming{Stage: s, Started: time.Now().UTC()}
	r.observe(t, false)
	r.log.Printf("stage %s: started", s)
	err := fn()
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	t.Duration = time.Since(t.Started)
	r.res.Stages = append(r.res.Stages, t)
	r.observe(t, true)
	if err != nil {
		r.log.Printf("stage %s: failed after %s: %v", s, t.Duration.Round(time.Millisecond), err)
		return &StageError{Stage: s, Err: err}
	}
	r.log.Printf("stage %s: done in %s", s, t.Duration.Round(time.Millisecond))
	return nil
}

func (r *execution) build(ctx context.Context) error {
	spec := &r.pl.Spec
	r.log.Printf("build %s: %s image for Fedora %s on %s, owner %s", r.pl.ID, spec.Type, spec.Release, spec.Arch, r.pl.Owner)
	if spec.Type == tasks.TypeKSISO {
		err := r.stage(ctx, tasks.StageFetch, func() error {
			path, err := isocache.Resolve(ctx, spec.KSISO.ISO, isocache.Options{
				ISODir:     r.p.cfg.ISODir,
				CacheDir:   filepath.Join(r.p.cfg.DataDir, "cache", "iso"),
				AllowLocal: r.p.cfg.Local,
				Egress:     r.p.cfg.Egress,
				Progress:   r.progress,
			}, r.log.Printf)
			r.iso = path
			return err
		})
		if err != nil {
			return err
		}
	}
	if spec.KickstartRef() != "" {
		if err := r.stage(ctx, tasks.StageFlatten, func() error { return r.flatten(ctx) }); err != nil {
			return err
		}
	}
	if len(spec.NVRs) > 0 || len(spec.BuildIDs) > 0 {
		err := r.stage(ctx, tasks.StageSideRepo, func() error { return r.sideRepo(ctx) })
		if err != nil {
			return err
		}
	}
	err := r.stage(ctx, tasks.StageBuild, func() error {
		repos := r.dvdRepos()
		if err := r.checkOutbound(ctx, repos); err != nil {
			return err
		}
		b, err := builder.New(spec, r.p.cfg.Tools)
		if err != nil {
			return err
		}
		r.log.Printf("builder: %s", b.Name())
		err = b.Build(ctx, &builder.Job{
			ID: r.pl.ID, Spec: *spec, Kickstart: r.ks, ISO: r.iso,
			WorkDir: r.work, OutDir: r.out, SideRepos: r.sideRepos, SideRepoDir: r.sideRepoDir, Repos: repos,
			FilesDir: r.p.cfg.ISODir, Output: r.log, Logf: r.log.Printf,
		})
		var ee *builder.ExitError
		if errors.As(err, &ee) {
			r.res.Tail = ee.Tail
		} else if err != nil {
			r.res.Tail = r.log.Tail()
		}
		logs, cerr := builder.CollectLogs(b, r.work, r.logs)
		if cerr != nil {
			r.log.Printf("tool logs: %v", cerr)
		}
		if err != nil && ctx.Err() == nil {
			if r.res.ToolError = builder.FindError(logs); r.res.ToolError != nil {
				r.log.Printf("%s: the tool's error is in %s", b.Name(), r.res.ToolError)
				err = fmt.Errorf("%w (see %s)", err, r.res.ToolError)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	return r.stage(ctx, tasks.StageChecksum, func() error { return r.checksum(ctx) })
}

// dvdRepos returns the release repositories of a DVD build, nil for
// other image types.
func (r *execution) dvdRepos() []tasks.Repo {
	spec := &r.pl.Spec
	if spec.Type != tasks.TypeDVD || r.p.cfg.DVDRepos == nil {
		return nil
	}
	var repos []tasks.Repo
	for i, u := range r.p.cfg.DVDRepos(spec.Release, spec.Arch) {
		repos = append(repos, tasks.Repo{Name: fmt.Sprintf("release%d", i+1), URL: u})
	}
	return repos
}

// checkOutbound checks, just before the tool runs, the URLs it will
// connect to by itself (boot repositories, mirrors and proxy for lorax;
// the release repositories for a DVD's lorax and dnf; the kickstart's url
// and repo lines for the DVD and live builders) against the policy again:
// a name that resolves to a refused address by now is refused.
func (r *execution) checkOutbound(ctx context.Context, repos []tasks.Repo) error {
	o := submission.Outbound{Policy: r.p.cfg.Egress, LocalFiles: r.p.cfg.Local}
	for _, repo := range repos {
		if err := o.CheckRepoURL(ctx, repo.URL); err != nil {
			return fmt.Errorf("[dvd] repos: %w", err)
		}
	}
	spec := r.pl.Spec
	spec.Staging, spec.KSISO = "", nil // checked when dialled
	if err := o.CheckSpec(ctx, &spec); err != nil {
		return err
	}
	if r.ks == "" {
		return nil
	}
	text, err := os.ReadFile(r.ks)
	if err != nil {
		return fmt.Errorf("read kickstart: %w", err)
	}
	return o.CheckKickstart(ctx, &spec, string(text))
}

// flatten checks the kickstart that came with the payload: it must already
// be self-contained, so it is flattened again confined to itself, with the
// syntax of the build's release; an %include resolves only among this
// worker's standard kickstarts for the release (the operator's files), so
// a request never makes it read a file of its choosing.
func (r *execution) flatten(ctx context.Context) error {
	if r.pl.Kickstart == "" {
		return errors.New("the request carries no kickstart text")
	}
	const name = "kickstart.ks"
	res, err := kickstarts.FlattenFS(ctx, fstest.MapFS{name: &fstest.MapFile{Data: []byte(r.pl.Kickstart), Mode: 0o644}}, name, kickstarts.Options{Confined: true, Release: r.pl.Spec.Release, Library: r.p.cfg.Kickstarts})
	if err != nil {
		return fmt.Errorf("kickstart %s: %w", r.pl.KickstartName, err)
	}
	for _, w := range res.Warnings {
		r.log.Printf("kickstart warning: line %d: %s", w.Line, w.Message)
	}
	r.ks = filepath.Join(r.dir, name)
	if err := os.WriteFile(r.ks, []byte(res.Text), 0o644); err != nil {
		return fmt.Errorf("write kickstart: %w", err)
	}
	return nil
}

// sideRepo builds the repository of extra packages and adds it to the
// build: as a repo line in the kickstart (for a kickstart ISO, naming the
// copy the builder puts on the ISO), or as a source of lorax and, for a
// DVD, dnf.
func (r *execution) sideRepo(ctx context.Context) error {
	if r.p.cfg.SideRepos == nil {
		return errors.New("extra packages (nvr=, bid=) need Koji, which this worker cannot reach: see [koji] in its configuration")
	}
	spec := &r.pl.Spec
	dir, err := r.p.cfg.SideRepos.Build(ctx, filepath.Join(r.work, "side-repo"), spec.Arch, spec.NVRs, spec.BuildIDs, r.progress)
	if err != nil {
		return err
	}
	baseURL := (&url.URL{Scheme: "file", Path: dir}).String()
	switch {
	case r.ks == "" || spec.Type == tasks.TypeDVD:
		// lorax, and for a DVD dnf, take it as a source; a DVD's
		// kickstart names no repository its builder reads.
		r.sideRepos = append(r.sideRepos, baseURL)
		r.log.Printf("side repository %s added as a source of lorax (and dnf, for DVDs)", baseURL)
		return nil
	case spec.Type == tasks.TypeKSISO:
		// The kickstart runs when the ISO installs a machine, where only
		// what is on the ISO is at hand: the builder puts the repository
		// there, and the kickstart names it where Anaconda sees it.
		r.sideRepoDir = dir
		baseURL = builder.SideRepoISOURL
	}
	text, err := os.ReadFile(r.ks)
	if err != nil {
		return fmt.Errorf("read kickstart: %w", err)
	}
	if err := os.WriteFile(r.ks, []byte(kickstarts.AddRepo(string(text), SideRepoName, baseURL)), 0o644); err != nil {
		return fmt.Errorf("write kickstart: %w", err)
	}
	r.log.Printf("side repository %s added to the kickstart as repo %s", baseURL, SideRepoName)
	return nil
}

// images lists the regular files a builder left in the output dir.
func (r *execution) images() ([]string, error) {
	ents, err := os.ReadDir(r.out)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && e.Name() != "CHECKSUM" && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(r.out, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// checksum writes CHECKSUM in the format `sha256sum -c` reads.
func (r *execution) checksum(ctx context.Context) error {
	imgs, err := r.images()
	if err != nil {
		return err
	}
	if len(imgs) == 0 {
		return errors.New("the builder produced no image")
	}
	var b strings.Builder
	r.sums = map[string]string{}
	for _, f := range imgs {
		sum, err := imageSHA256(ctx, f)
		if err != nil {
			return err
		}
		r.sums[f] = sum
		fmt.Fprintf(&b, "%s  %s\n", sum, filepath.Base(f))
		r.log.Printf("sha256 %s %s", sum, filepath.Base(f))
	}
	if err := os.WriteFile(filepath.Join(r.out, "CHECKSUM"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write CHECKSUM: %w", err)
	}
	return nil
}

// imageSHA256 is the hex SHA-256 of the image at path.
func imageSHA256(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("checksum %s: %w", path, err)
	}
	defer f.Close()
	// Start writing the image to disk now, while it is hashed: the
	// staging's fsync, which makes the staged copy durable before the build
	// is reported done, then finds little left to write. Only a hint.
	_ = unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
	sum, err := sha256sum.Reader(ctx, f)
	if err != nil {
		return "", fmt.Errorf("checksum %s: %w", path, err)
	}
	return sum, nil
}

// transfer stages the build's files. After a success: images, CHECKSUM,
// kickstart, then the log; after a failure: the kickstart and the log.
func (r *execution) transfer(ctx context.Context, ok bool) error {
	return r.stage(ctx, tasks.StageTransfer, func() error {
		opts := r.p.cfg.Staging
		opts.Logf = r.log.Printf
		opts.Progress = r.progress
		opts.KnownSums = r.sums
		st, err := staging.Open(ctx, r.pl.Spec.Staging, opts)
		if err != nil {
			return err
		}
		defer st.Close()
		var files []string
		if ok {
			imgs, err := r.images()
			if err != nil {
				return err
			}
			files = append(imgs, filepath.Join(r.out, "CHECKSUM"))
		}
		if r.ks != "" {
			files = append(files, r.ks)
		}
		arts, err := st.Put(ctx, r.pl.ID, files)
		if err != nil {
			return err
		}
		r.res.Artifacts = append(r.res.Artifacts, arts...)
		if len(arts) > 0 {
			r.res.Staged = dirOf(arts[0].URL)
		}
		if err := r.transferLogs(ctx, st); err != nil {
			return err
		}
		// The log goes last, so it holds everything up to its own upload;
		// a snapshot is sent, since the upload itself writes to the log.
		r.log.Printf("staged %d files to %s; uploading this log", len(arts), r.res.Staged)
		snap, err := r.snapshotLog()
		if err != nil {
			return err
		}
		logArts, err := st.Put(ctx, r.pl.ID, []string{snap})
		if err != nil {
			return fmt.Errorf("stage the build log: %w", err)
		}
		r.res.Artifacts = append(r.res.Artifacts, logArts...)
		if r.res.Staged == "" && len(logArts) > 0 {
			r.res.Staged = dirOf(logArts[0].URL)
		}
		return nil
	})
}

// transferLogs stages the tool's own logs into <id>/logs/, keeping their
// folders (logs/anaconda/), and records them in the result.
func (r *execution) transferLogs(ctx context.Context, st staging.Stager) error {
	folders, err := logFolders(r.logs)
	if err != nil {
		return err
	}
	r.res.Logs = nil
	for _, f := range folders {
		arts, err := st.Put(ctx, path.Join(r.pl.ID, tasks.LogsDir, f.name), f.files)
		if err != nil {
			return fmt.Errorf("stage the tool's logs: %w", err)
		}
		for i := range arts {
			arts[i].Name = path.Join(f.name, arts[i].Name)
		}
		r.res.Logs = append(r.res.Logs, arts...)
	}
	if n := len(r.res.Logs); n > 0 {
		r.log.Printf("staged %d of the tool's own logs to %s/%s/", n, dirOf(dirOf(r.res.Logs[0].URL)), tasks.LogsDir)
	}
	return nil
}

// logFolder is one folder of the tool's logs: its path inside logs/ ("" for
// logs/ itself) and its files.
type logFolder struct {
	name  string
	files []string
}

// logFolders lists the regular files in dir and its folders, one level
// deep (anaconda/), in name order. A missing dir has none.
func logFolders(dir string) ([]logFolder, error) {
	var out []logFolder
	var walk func(name string, depth int) error
	walk = func(name string, depth int) error {
		ents, err := os.ReadDir(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list the tool's logs: %w", err)
		}
		f := logFolder{name: name}
		var subs []string
		for _, e := range ents {
			switch {
			case e.Type().IsRegular():
				f.files = append(f.files, filepath.Join(dir, name, e.Name()))
			case e.IsDir() && depth == 0:
				subs = append(subs, e.Name())
			}
		}
		if len(f.files) > 0 {
			out = append(out, f)
		}
		for _, s := range subs {
			if err := walk(path.Join(name, s), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk("", 0)
}

// snapshotLog copies the log as it is now to the scratch dir.
func (r *execution) snapshotLog() (string, error) {
	if err := r.log.Sync(); err != nil {
		return "", fmt.Errorf("snapshot build log: %w", err)
	}
	dir := filepath.Join(r.work, "log")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("snapshot build log: %w", err)
	}
	snap := filepath.Join(dir, filepath.Base(r.log.Path()))
	src, err := os.Open(r.log.Path())
	if err != nil {
		return "", fmt.Errorf("snapshot build log: %w", err)
	}
	defer src.Close()
	dst, err := os.Create(snap)
	if err != nil {
		return "", fmt.Errorf("snapshot build log: %w", err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return "", fmt.Errorf("snapshot build log: %w", err)
	}
	if err := dst.Close(); err != nil {
		return "", fmt.Errorf("snapshot build log: %w", err)
	}
	return snap, nil
}

func dirOf(u string) string {
	if i := strings.LastIndex(u, "/"); i > 0 {
		return u[:i]
	}
	return u
}
