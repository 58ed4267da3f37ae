package webapp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/mail"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fedora-fbs/fbs/kickstarts"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/webapp/auth"
	"github.com/fedora-fbs/fbs/worker/staging"
)

// draft is a submission as read from JSON, multipart, the form or /rest,
// before it is checked.
type draft struct {
	spec tasks.Spec
	// files are uploaded kickstarts by name.
	files map[string][]byte
	// warnings carry the spec parser's findings through.
	warnings []string
	// field maps a spec field ("arch", "kickstart"...) to what the
	// submitter calls it: form field, JSON path or spec key.
	field func(string) string
}

// fieldErrors are all the problems of one submission, in form order.
type fieldErrors []error

func (fe fieldErrors) Error() string {
	msgs := make([]string, len(fe))
	for i, e := range fe {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap lets errors.As find the first problem, which toHTTP maps.
func (fe fieldErrors) Unwrap() []error { return fe }

// checkUploads enforces the upload limits and file name rules.
func (s *Server) checkUploads(files map[string][]byte, field string) error {
	if len(files) > s.cfg.MaxFiles {
		return tooLarge(field, "%d kickstart files: at most %d per build", len(files), s.cfg.MaxFiles)
	}
	for name, data := range files {
		switch {
		case name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." || !fs.ValidPath(name):
			return invalid(field, "kickstart file name %q: want a plain file name", name)
		case int64(len(data)) > s.cfg.MaxKickstart:
			return tooLarge(field, "kickstart %s is %d bytes: at most %d", name, len(data), s.cfg.MaxKickstart)
		case !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0:
			return invalid(field, "kickstart %s is not text", name)
		}
	}
	return nil
}

// prepare checks a draft for user and turns it into a payload: every field
// is checked first, then the kickstart is read and flattened.
func (s *Server) prepare(ctx context.Context, u *auth.User, d *draft) (*tasks.Payload, []string, error) {
	f := d.field
	sp := d.spec
	var errs fieldErrors
	if !sp.Type.Valid() {
		errs = append(errs, invalid(f("type"), "unknown image type %q: want boot, dvd, live or ksiso", sp.Type))
	}
	if !tasks.ValidArch(sp.Arch) {
		errs = append(errs, invalid(f("arch"), "arch %q is not offered: want one of %s", sp.Arch, strings.Join(tasks.Arches, ", ")))
	}
	if !slices.Contains(s.cfg.Releases, sp.Release) {
		errs = append(errs, invalid(f("release"), "release %q is not offered: want one of %s", sp.Release, strings.Join(s.cfg.Releases, ", ")))
	}
	if sp.Staging == "" {
		errs = append(errs, invalid(f("staging"), "a staging URL is required (where the images go)"))
	} else if err := staging.Check(sp.Staging, staging.Options{Remote: true, FileRoot: s.cfg.FileRoot}); err != nil {
		errs = append(errs, invalid(f("staging"), "%v", err))
	}
	if sp.Email != "" {
		if a, err := mail.ParseAddress(sp.Email); err != nil || a.Address != sp.Email {
			errs = append(errs, invalid(f("email"), "%q is not an email address", sp.Email))
		}
	}
	for _, n := range sp.NVRs {
		if !tasks.ValidNVR(n) {
			errs = append(errs, invalid(f("nvrs"), "malformed NVR %q: want name-version-release", n))
		}
	}
	for _, b := range sp.BuildIDs {
		if !positive(b) {
			errs = append(errs, invalid(f("build_ids"), "malformed Koji build ID %q: want a positive number", b))
		}
	}
	if sp.KSISO != nil && sp.KSISO.ISO != "" && !isoRef(sp.KSISO.ISO) {
		errs = append(errs, invalid(f("iso"), "boot ISO %q: want an http(s) URL or the name of an ISO in the worker's iso_dir", sp.KSISO.ISO))
	}
	if err := d.spec.Validate(); err != nil && len(errs) == 0 {
		errs = append(errs, invalid(f(sectionField(err)), "%v", err))
	}
	if err := s.checkUploads(d.files, f("kickstart")); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}
	p := &tasks.Payload{ID: tasks.NewBuildID(), Spec: sp, Owner: u.Name, SubmittedAt: time.Now().UTC()}
	warnings := d.warnings
	if ref := sp.KickstartRef(); ref != "" {
		text, w, err := s.flatten(ctx, ref, d.files)
		if err != nil {
			return nil, nil, fieldErrors{s.kickstartError(f("kickstart"), err)}
		}
		p.Kickstart, p.KickstartName = text, ref
		warnings = append(warnings, w...)
	}
	return p, warnings, nil
}

// sectionField guesses the field of a Spec.Validate error that the checks
// above did not catch: a missing type section or kickstart.
func sectionField(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "kickstart"):
		return "kickstart"
	case strings.Contains(msg, "boot ISO"):
		return "iso"
	case strings.Contains(msg, "live builder"):
		return "builder"
	}
	return "type"
}

func positive(s string) bool {
	if s == "" || len(s) > 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return strings.TrimLeft(s, "0") != ""
}

// isoRef reports whether a ksiso iso= value is acceptable from a remote
// user: an http(s) URL or a bare file name, never a path on the worker.
func isoRef(v string) bool {
	if u, err := url.Parse(v); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return true
	}
	return !strings.ContainsAny(v, "/\\") && v != "." && v != ".."
}

// kickstartError keeps the kickstart package's classification (toHTTP maps
// it) but names the field.
func (s *Server) kickstartError(field string, err error) error {
	var p *problem
	if errors.As(err, &p) {
		if p.body.Field != "" {
			return p
		}
		c := *p
		c.body.Field = field
		return &c
	}
	status, body := toHTTP(err)
	if status == http.StatusInternalServerError {
		return err
	}
	body.Field = field
	return &problem{status, body}
}

// flatten reads the kickstart ref: one of the uploaded files (includes
// confined to the upload), else a URL, else a standard kickstart. It
// refuses anything else, such as a path on this server.
func (s *Server) flatten(ctx context.Context, ref string, files map[string][]byte) (string, []string, error) {
	opts := kickstarts.Options{Confined: true, AllowPrivate: s.cfg.AllowPrivateURLs, SiteDir: s.cfg.KickstartsDir}
	var (
		problems []kickstarts.Problem
		res      *kickstarts.Result
		err      error
	)
	switch {
	case len(files) > 0:
		if _, ok := files[ref]; !ok {
			return "", nil, invalid("", "the spec's kickstart %q is not among the uploaded files (%s)", ref, strings.Join(sortedKeys(files), ", "))
		}
		fsys := memFS(files)
		if problems, err = kickstarts.ValidateFS(ctx, fsys, ref, opts); err == nil && !kickstarts.HasErrors(problems) {
			res, err = kickstarts.FlattenFS(ctx, fsys, ref, opts)
		}
	case isURL(ref):
		if problems, err = kickstarts.Validate(ctx, ref, opts); err == nil && !kickstarts.HasErrors(problems) {
			res, err = kickstarts.Flatten(ctx, ref, opts)
		}
	default:
		std, lerr := kickstarts.Standard(s.cfg.KickstartsDir)
		if lerr != nil {
			return "", nil, lerr
		}
		if !slices.ContainsFunc(std, func(e kickstarts.Entry) bool { return e.Name == ref || e.Name+".ks" == ref }) {
			return "", nil, invalid("", "kickstart %q was not uploaded, is not an http(s) or ftp URL and is not a standard kickstart (see /api/v1/kickstarts)", ref)
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
		return "", nil, &problem{http.StatusUnprocessableEntity, Error{CodeInvalidKS, "kickstart is not valid: " + strings.Join(msgs, "; "), ""}}
	}
	var warnings []string
	for _, w := range res.Warnings {
		warnings = append(warnings, w.String())
	}
	return res.Text, warnings, nil
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

// readAllLimit reads r up to limit bytes; more is a too_large error naming
// field.
func readAllLimit(r io.Reader, limit int64, field string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", field, err)
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(field, "%s is over %d bytes", field, limit)
	}
	return data, nil
}
