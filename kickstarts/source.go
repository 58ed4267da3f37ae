package kickstarts

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// source is a kickstart file being read and knows how to find what it
// includes.
type source interface {
	// name is how errors and warnings refer to the file.
	name() string
	// key identifies the file for cycle detection.
	key() string
	// include resolves and reads target, written in an %include of this
	// file.
	include(ctx context.Context, target string) (source, []byte, error)
}

// limits bound what one flatten may read; see Options.
const (
	maxFileSize    = 1 << 20 // one file or URL
	maxTotalSize   = 8 << 20 // everything read, includes counted each time
	maxTotalLines  = 200_000 // lines read, includes counted each time
	maxProblems    = 1000    // warnings and validation problems kept
	maxLineLength  = 64 << 10
	maxIncludes    = 1000
	maxIncludeDeep = 32
)

// isURL reports whether ref is written as a URL (scheme://...).
func isURL(ref string) bool {
	i := strings.Index(ref, "://")
	if i <= 0 {
		return false
	}
	for _, c := range ref[:i] {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// fsSource is a file inside an fs.FS: uploads, the embedded standard
// kickstarts, or a directory tree opened with os.Root when confined.
// Includes resolve relative to the file's directory and never leave the FS.
type fsSource struct {
	fsys fs.FS
	// root tells trees apart for cycle detection: a directory, or
	// "standard:"; empty for the one tree of a submission.
	root    string
	path    string // slash-separated, valid fs path
	display string // prefix shown in messages (the tree's location)
	// fetch, when set, allows URL includes through it.
	fetch *fetcher
}

func (s *fsSource) name() string { return s.display + s.path }
func (s *fsSource) key() string  { return "fs:" + s.root + ":" + s.path }

func (s *fsSource) include(ctx context.Context, target string) (source, []byte, error) {
	if isURL(target) {
		if s.fetch == nil {
			return nil, nil, fmt.Errorf("include %s: URL includes are not allowed here: %w", target, ErrRefused)
		}
		return s.fetch.open(ctx, target)
	}
	if path.IsAbs(target) || filepath.IsAbs(target) || strings.Contains(target, `\`) {
		return nil, nil, fmt.Errorf("include %s: absolute paths are not allowed here: %w", target, ErrRefused)
	}
	p := path.Join(path.Dir(s.path), target)
	if !fs.ValidPath(p) {
		return nil, nil, fmt.Errorf("include %s: leaves the kickstart's directory tree: %w", target, ErrRefused)
	}
	n := &fsSource{fsys: s.fsys, root: s.root, path: p, display: s.display, fetch: s.fetch}
	data, err := readFS(s.fsys, p)
	if err != nil {
		return nil, nil, fmt.Errorf("include %s: %w", target, err)
	}
	return n, data, nil
}

// readFS reads a file of fsys, at most maxFileSize bytes.
func readFS(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, classifyOpenErr(err)
	}
	defer f.Close()
	return readLimited(f, name)
}

func classifyOpenErr(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w (%v)", ErrNotFound, err)
	case strings.Contains(err.Error(), "path escapes from parent"):
		return fmt.Errorf("%w: a symbolic link leads out of the kickstart's directory tree (%v)", ErrRefused, err)
	}
	return err
}

// osSource is a local file read with the user's rights (the CLI): any
// path, absolute or relative to the including file, and URLs.
type osSource struct {
	path  string
	fetch *fetcher
}

func (s *osSource) name() string { return s.path }
func (s *osSource) key() string {
	if abs, err := filepath.Abs(s.path); err == nil {
		return "os:" + abs
	}
	return "os:" + s.path
}

func (s *osSource) include(ctx context.Context, target string) (source, []byte, error) {
	if isURL(target) {
		return s.fetch.open(ctx, target)
	}
	p := target
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(s.path), p)
	}
	data, err := readOS(p)
	if err != nil {
		return nil, nil, fmt.Errorf("include %s: %w", target, err)
	}
	return &osSource{path: p, fetch: s.fetch}, data, nil
}

func readOS(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, classifyOpenErr(err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s is a directory", p)
	}
	return readLimited(f, p)
}

// urlSource is a kickstart fetched by URL; relative includes resolve
// against its URL.
type urlSource struct {
	u     *url.URL
	fetch *fetcher
}

func (s *urlSource) name() string { return s.u.Redacted() }
func (s *urlSource) key() string  { return "url:" + s.u.String() }

func (s *urlSource) include(ctx context.Context, target string) (source, []byte, error) {
	ref, err := url.Parse(target)
	if err != nil {
		return nil, nil, fmt.Errorf("include %s: bad URL: %w", target, err)
	}
	return s.fetch.open(ctx, s.u.ResolveReference(ref).String())
}
