// Package submission turns a build request into the payload that goes on
// the queue. It is the one submission path: `fbs submit`, `fbs build
// --local`, the web form, POST /api/v1/builds and POST /rest each map their
// input to a Request, call Prepare, and map the field errors it returns
// back to their own names (a form field, a JSON path, a spec key with its
// line).
//
// Prepare checks every field first and reports every problem at once, as
// tasks.Errors whose Field is a tasks field path ("arch", "ksiso.iso",
// "kickstart"); then it reads, validates and flattens the kickstart on this
// machine, so the payload carries the kickstart's text and never a path.
//
// What a request may name depends on where it comes from, which the caller
// says in Config: a request from someone else (the web app) names no file
// on this machine or on a worker; `fbs submit` may name kickstart files on
// the submitter's machine; only `fbs build --local` may name a local ISO.
package submission

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fedora-fbs/fbs/kickstarts"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
)

// Config is what the submitter decides, not the request.
type Config struct {
	// Releases are the releases offered; empty offers every valid one.
	Releases []string
	// Arches are the arches offered; empty offers every valid one.
	Arches []string
	// HostArch, for a build that runs here (`fbs build --local`), is this
	// machine's arch: only a kickstart ISO can be built for an arch it does
	// not run (tasks.RunsOn), since lorax, dnf and livemedia-creator run
	// the packages they install.
	HostArch string
	// Staging is the policy the staging URL is checked against. Nil checks
	// the grammar alone, and skips the outbound-address checks (Egress):
	// the request goes to a server that applies its own (`fbs submit
	// --server`), or the build runs here.
	Staging *tasks.StagingPolicy
	// LocalKickstarts lets the spec's config= name a kickstart file on this
	// machine (relative to Request.Dir), read and flattened here: the CLI.
	// Without it a kickstart is an uploaded file, a URL or a standard name.
	LocalKickstarts bool
	// LocalFiles is set when the build runs here too (`fbs build --local`
	// alone): iso= may name an ISO file on this machine, and repositories
	// and mirrors may be file:// URLs.
	LocalFiles bool
	// Kickstarts is where the standard kickstarts of each release are: a
	// kickstart named by standard name, and includes not found beside the
	// including file, resolve there for the spec's release.
	Kickstarts kickstarts.Library
	// Egress is the outbound-address policy of the URLs the build makes a
	// worker, or a tool on it, connect to: staging, iso=, boot repositories,
	// mirrors and proxy, and the kickstart's url and repo lines for the
	// builders that install from them on the worker (dvd, live). Nil is the
	// default policy (tasks/egress). The checks run when Staging is set.
	Egress *egress.Policy
	// FetchEgress is the policy kickstart URLs are fetched under here; nil
	// is the default policy (tasks/egress).
	FetchEgress *egress.Policy
	// MaxFiles and MaxKickstart limit the uploaded kickstarts: how many,
	// and the bytes of each. Zero means no limit.
	MaxFiles     int
	MaxKickstart int64
}

// Request is a build request as an adapter read it.
type Request struct {
	Spec tasks.Spec
	// Owner is who submits: user, account or token owner.
	Owner string
	// Dir is the directory of the spec file, against which relative paths
	// in it resolve; empty for requests that name no local files.
	Dir string
}

// Prepared is a checked request: the payload to enqueue and what the
// flattening warned about ("file:line: message").
//
// A request that names several arches (arch=x86_64,aarch64) is a group:
// Payloads holds one payload per arch, in the order named, each with one
// arch, its own build ID and the group's ID in Group; they are submitted
// together with client.SubmitGroup. A request for one arch has one
// payload, with no Group.
type Prepared struct {
	// Payload is Payloads[0]: the build of a request for one arch.
	Payload *tasks.Payload
	// Payloads are every build of the request, one per arch.
	Payloads []*tasks.Payload
	// Group is the group's ID when the request names several arches,
	// else "".
	Group    string
	Warnings []string
}

// IsGroup reports whether the request names several arches.
func (p *Prepared) IsGroup() bool { return p.Group != "" }

// Arches returns the arch field of the request: its builds' arches
// joined ("x86_64,aarch64").
func (p *Prepared) Arches() string {
	arches := make([]string, len(p.Payloads))
	for i, pl := range p.Payloads {
		arches[i] = pl.Spec.Arch
	}
	return tasks.JoinArches(arches)
}

// Preparer prepares requests under one Config.
type Preparer struct {
	cfg Config
}

// New returns a Preparer for cfg.
func New(cfg Config) *Preparer { return &Preparer{cfg: cfg} }

// Prepare checks req and, when it is acceptable, flattens its kickstart
// (from files, the uploaded kickstarts by name, or wherever the spec says)
// and returns the payload. Problems of the request are tasks.Errors, one
// per field, in the order of the spec's fields; other errors are failures
// of this machine.
func (p *Preparer) Prepare(ctx context.Context, req Request, files map[string][]byte) (*Prepared, error) {
	sp := req.Spec
	if err := p.check(ctx, &sp, files); err != nil {
		return nil, err
	}
	if sp.KSISO != nil && p.cfg.LocalFiles && !strings.Contains(sp.KSISO.ISO, "://") &&
		tasks.CheckISORef(sp.KSISO.ISO, false) != nil && !filepath.IsAbs(sp.KSISO.ISO) {
		sp.KSISO.ISO = filepath.Join(req.Dir, sp.KSISO.ISO)
	}
	pl := &tasks.Payload{ID: tasks.NewBuildID(), Spec: sp, Owner: req.Owner, SubmittedAt: time.Now().UTC()}
	out := &Prepared{Payload: pl}
	if ref := sp.KickstartRef(); ref != "" {
		text, warnings, err := p.flatten(ctx, ref, sp.Release, req.Dir, files)
		if err != nil {
			return nil, kickstartError(err)
		}
		if p.cfg.Staging != nil {
			if err := p.outbound().CheckKickstart(ctx, &sp, text); err != nil {
				return nil, err
			}
		}
		pl.Kickstart, pl.KickstartName = text, ref
		out.Warnings = warnings
	}
	out.split()
	return out, nil
}

// split makes the payloads of the request's arches from its payload: one
// payload for one arch, else one per arch, all of one new group.
func (out *Prepared) split() {
	pl := out.Payload
	arches := pl.Spec.Arches()
	if len(arches) == 1 {
		pl.Spec.Arch = arches[0]
		out.Payloads = []*tasks.Payload{pl}
		return
	}
	out.Group = tasks.NewBuildID()
	out.Payloads = make([]*tasks.Payload, len(arches))
	for i, arch := range arches {
		c := *pl
		c.Spec = pl.Spec.ForArch(arch)
		c.Group = out.Group
		if i > 0 {
			c.ID = tasks.NewBuildID()
		}
		out.Payloads[i] = &c
	}
	out.Payload = out.Payloads[0]
}

// outbound is the rule of the request's URLs under this Config.
func (p *Preparer) outbound() Outbound {
	return Outbound{Policy: p.cfg.Egress, LocalFiles: p.cfg.LocalFiles}
}

// check runs every rule on the request's fields: the spec's own
// (tasks.Spec.Validate), then where it comes from and what is offered.
func (p *Preparer) check(ctx context.Context, sp *tasks.Spec, files map[string][]byte) error {
	var errs tasks.Errors
	if err := sp.Validate(); err != nil && !errors.As(err, &errs) {
		return err
	}
	bad := map[string]bool{}
	for _, e := range errs {
		bad[e.Field] = true
	}
	add := func(field, format string, args ...any) {
		if !bad[field] {
			errs = append(errs, tasks.Invalid(field, format, args...))
			bad[field] = true
		}
	}
	arches := sp.Arches()
	if p.cfg.HostArch != "" && len(arches) > 1 {
		add(tasks.FieldArch, "arch %s names %d arches: a build here builds one (submit several arches to the queues with `fbs submit`)", sp.Arch, len(arches))
	}
	for _, arch := range arches {
		if len(p.cfg.Arches) > 0 && !slices.Contains(p.cfg.Arches, arch) {
			add(tasks.FieldArch, "arch %q is not offered: want one of %s", arch, strings.Join(p.cfg.Arches, ", "))
		}
		if p.cfg.HostArch != "" && !tasks.RunsOn(p.cfg.HostArch, arch) && !sp.Type.CrossBuilds() {
			add(tasks.FieldArch, "a %s image for %s cannot be built on this %s machine: its tools build only for an arch the machine runs (submit it to a %s worker; only ksiso images build for any arch)",
				sp.Type, arch, p.cfg.HostArch, arch)
		}
	}
	if len(p.cfg.Releases) > 0 && !slices.Contains(p.cfg.Releases, sp.Release) {
		add(tasks.FieldRelease, "release %q is not offered: want one of %s", sp.Release, strings.Join(p.cfg.Releases, ", "))
	}
	if p.cfg.Staging != nil && sp.Staging != "" {
		if _, err := tasks.CheckStaging(sp.Staging, *p.cfg.Staging); err != nil {
			add(tasks.FieldStaging, "%v", err)
		}
	}
	if sp.KSISO != nil && sp.KSISO.ISO != "" {
		if err := tasks.CheckISORef(sp.KSISO.ISO, p.cfg.LocalFiles); err != nil {
			add(tasks.FieldISO, "boot ISO %v", err)
		}
	}
	if p.cfg.Staging != nil {
		p.outbound().checkSpec(ctx, sp, add)
	}
	if err := p.checkUploads(files); err != nil && !bad[tasks.FieldKickstart] {
		errs = append(errs, err)
	}
	slices.SortStableFunc(errs, func(a, b *tasks.Error) int { return cmp.Compare(fieldRank(a.Field), fieldRank(b.Field)) })
	return errs.Err()
}

// fieldRank orders errors as the spec's fields are: [DEFAULT] first.
func fieldRank(field string) int {
	for i, f := range []string{tasks.FieldType, tasks.FieldArch, tasks.FieldRelease, tasks.FieldStaging, tasks.FieldEmail} {
		if f == field {
			return i
		}
	}
	return 5
}

// checkUploads enforces the upload limits and file name rules.
func (p *Preparer) checkUploads(files map[string][]byte) *tasks.Error {
	if p.cfg.MaxFiles > 0 && len(files) > p.cfg.MaxFiles {
		return tasks.Errorf(tasks.CodeTooLarge, tasks.FieldKickstart, "%d kickstart files: at most %d per build", len(files), p.cfg.MaxFiles)
	}
	for _, name := range sortedKeys(files) {
		data := files[name]
		switch {
		case len(name) > tasks.MaxFileName:
			return tasks.Invalid(tasks.FieldKickstart, "kickstart file name of %d characters: at most %d", len(name), tasks.MaxFileName)
		case name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." || !fs.ValidPath(name):
			return tasks.Invalid(tasks.FieldKickstart, "kickstart file name %q: want a plain file name", name)
		case p.cfg.MaxKickstart > 0 && int64(len(data)) > p.cfg.MaxKickstart:
			return tasks.Errorf(tasks.CodeTooLarge, tasks.FieldKickstart, "kickstart %s is %d bytes: at most %d", name, len(data), p.cfg.MaxKickstart)
		case !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0:
			return tasks.Invalid(tasks.FieldKickstart, "kickstart %s is not text", name)
		}
	}
	return nil
}

// flatten reads the kickstart ref: one of the uploaded files (includes
// confined to the upload), else a URL, else (for the CLI) a file on this
// machine, else a standard kickstart. It refuses anything else, such as a
// path on a server.
func (p *Preparer) flatten(ctx context.Context, ref, release, dir string, files map[string][]byte) (string, []string, error) {
	opts := kickstarts.Options{Confined: !p.cfg.LocalKickstarts, Egress: p.cfg.FetchEgress, Library: p.cfg.Kickstarts, Release: release}
	var (
		problems []kickstarts.Problem
		res      *kickstarts.Result
		err      error
	)
	switch {
	case len(files) > 0:
		if _, ok := files[ref]; !ok {
			return "", nil, tasks.Invalid(tasks.FieldKickstart, "the spec's kickstart %q is not among the uploaded files (%s)", ref, strings.Join(sortedKeys(files), ", "))
		}
		fsys := memFS(files)
		opts.Confined = true
		if problems, err = kickstarts.ValidateFS(ctx, fsys, ref, opts); err == nil && !kickstarts.HasErrors(problems) {
			res, err = kickstarts.FlattenFS(ctx, fsys, ref, opts)
		}
	case isURL(ref), p.cfg.LocalKickstarts:
		if p.cfg.LocalKickstarts {
			ref = resolve(dir, ref)
		}
		// Validate first: its problems point into the files as written.
		if problems, err = kickstarts.Validate(ctx, ref, opts); err == nil && !kickstarts.HasErrors(problems) {
			res, err = kickstarts.Flatten(ctx, ref, opts)
		}
	default:
		std, lerr := kickstarts.Standard(p.cfg.Kickstarts, release)
		if lerr != nil {
			return "", nil, lerr
		}
		if !slices.ContainsFunc(std, func(e kickstarts.Entry) bool { return e.Name == ref || e.Name+".ks" == ref }) {
			return "", nil, tasks.Invalid(tasks.FieldKickstart, "kickstart %q was not uploaded, is not an http(s) or ftp URL and is not a standard kickstart of release %s (see /api/v1/kickstarts?release=%s)", ref, release, release)
		}
		res, err = kickstarts.Flatten(ctx, strings.TrimSuffix(ref, ".ks"), opts)
	}
	if err != nil {
		return "", nil, err
	}
	if kickstarts.HasErrors(problems) {
		var msgs []string
		for _, p := range problems {
			if p.Severity == "error" {
				msgs = append(msgs, p.String())
			}
		}
		return "", nil, tasks.Errorf(tasks.CodeInvalidKickstart, tasks.FieldKickstart, "kickstart is not valid: %s", strings.Join(msgs, "; "))
	}
	var warnings []string
	for _, w := range res.Warnings {
		warnings = append(warnings, w.String())
	}
	return res.Text, warnings, nil
}

// kickstartError gives the kickstart package's errors their code and the
// kickstart field; failures of this machine stay as they are.
func kickstartError(err error) error {
	var (
		te *tasks.Error
		pe *kickstarts.ParseError
		fe *kickstarts.FetchError
	)
	switch {
	case errors.As(err, &te):
		if te.Field == "" {
			c := *te
			c.Field = tasks.FieldKickstart
			te = &c
		}
		return tasks.Errors{te}
	case errors.As(err, &fe):
		return tasks.Errors{tasks.Errorf(tasks.CodeKickstartFetch, tasks.FieldKickstart, "%v", err)}
	case errors.As(err, &pe), errors.Is(err, kickstarts.ErrNotFound), errors.Is(err, kickstarts.ErrRefused),
		errors.Is(err, kickstarts.ErrLimit):
		return tasks.Errors{tasks.Errorf(tasks.CodeInvalidKickstart, tasks.FieldKickstart, "%v", err)}
	}
	return fmt.Errorf("flatten kickstart: %w", err)
}

// resolve makes a relative kickstart path relative to the spec file's
// directory when such a file exists there; URLs and standard names pass
// through.
func resolve(dir, ref string) string {
	if strings.Contains(ref, "://") || filepath.IsAbs(ref) {
		return ref
	}
	p := filepath.Join(dir, ref)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ref
}

func isURL(ref string) bool {
	u, err := url.Parse(ref)
	return err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "ftp")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// memFS is uploaded files as an fs.FS, for kickstarts.FlattenFS.
type memFS map[string][]byte

func (m memFS) Open(name string) (fs.File, error) {
	data, ok := m[name]
	if !ok || !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{name: path.Base(name), r: bytes.NewReader(data), size: int64(len(data))}, nil
}

type memFile struct {
	name string
	r    *bytes.Reader
	size int64
}

func (f *memFile) Stat() (fs.FileInfo, error) { return memInfo{f.name, f.size}, nil }
func (f *memFile) Read(b []byte) (int, error) { return f.r.Read(b) }
func (f *memFile) Close() error               { return nil }

type memInfo struct {
	name string
	size int64
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
