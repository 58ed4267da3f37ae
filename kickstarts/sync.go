package kickstarts

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Sync limits: what one `fbs ks sync` may download, write and take.
// Fedora's kickstarts of a release are about 120 files and 0.5 MiB.
const (
	syncMaxArchive = 32 << 20 // the downloaded archive, compressed
	syncMaxBytes   = 64 << 20 // the files written, in all
	syncMaxFiles   = 10_000
	syncTimeout    = 2 * time.Minute
)

// SyncURL is where Fedora's kickstarts of release come from by default: the
// fedora-kickstarts repository's archive of the release's branch (f41, or
// main for rawhide).
func SyncURL(release string) string {
	branch := "f" + release
	if release == "rawhide" {
		branch = "main"
	}
	return "https://pagure.io/fedora-kickstarts/archive/" + branch + "/fedora-kickstarts-" + branch + ".tar.gz"
}

// SyncResult says what SyncRelease put in place.
type SyncResult struct {
	// Dir is the release's directory (Library.SyncDir/release).
	Dir string
	// Files is how many files it holds; Kickstarts how many *.ks files at
	// its top, the standard kickstarts it offers.
	Files, Kickstarts int
}

// SyncRelease replaces the copy of Fedora's kickstarts for release in
// lib.SyncDir with the one from `from`: an http(s) URL of a .tar.gz archive
// of the repository (as SyncURL gives; a single top directory is taken as
// the repository), or a local directory (a checkout; hidden entries such
// as .git are left out). URLs are fetched under opts' Egress and Client,
// as kickstart URLs are. Only regular files and directories are taken,
// within the sync limits (32 MiB downloaded, 64 MiB and 10,000 files
// written, 2 minutes); the result must have kickstarts at its top. The
// release's directory is a symbolic link switched in one rename, so a
// flatten sees the old copy or the new one, and a failed sync leaves the
// old one.
func SyncRelease(ctx context.Context, lib Library, release, from string, opts Options) (*SyncResult, error) {
	if err := checkRelease(release); err != nil {
		return nil, err
	}
	if lib.SyncDir == "" {
		return nil, errors.New("no directory for synced kickstarts ([kickstarts] sync_dir)")
	}
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	if err := os.MkdirAll(lib.SyncDir, 0o755); err != nil {
		return nil, fmt.Errorf("sync kickstarts: %w", err)
	}
	unlock, err := lockSyncDir(lib.SyncDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	tmp, err := os.MkdirTemp(lib.SyncDir, "."+release+"-")
	if err != nil {
		return nil, fmt.Errorf("sync kickstarts: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("sync kickstarts: %w", err)
	}
	w, err := newTreeWriter(tmp)
	if err != nil {
		return nil, err
	}
	defer w.root.Close()
	if isURL(from) {
		err = syncURL(ctx, w, from, opts)
	} else {
		err = syncDir(ctx, w, from)
	}
	if err != nil {
		return nil, err
	}
	top, err := repositoryTop(tmp)
	if err != nil {
		return nil, fmt.Errorf("sync kickstarts from %s: %w", redact(from), err)
	}
	n, err := countKickstarts(top)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("sync kickstarts from %s: no *.ks files at the top of the repository", redact(from))
	}
	dest := filepath.Join(lib.SyncDir, release)
	old, err := os.Readlink(dest)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		old = ""
	default:
		return nil, fmt.Errorf("sync kickstarts: %s is not a link made by fbs ks sync (remove it): %w", dest, err)
	}
	rel, err := filepath.Rel(lib.SyncDir, top)
	if err != nil {
		return nil, err
	}
	link := tmp + ".link"
	if err := os.Symlink(rel, link); err != nil {
		return nil, fmt.Errorf("sync kickstarts: %w", err)
	}
	if err := os.Rename(link, dest); err != nil {
		os.Remove(link)
		return nil, fmt.Errorf("sync kickstarts: switch %s: %w", dest, err)
	}
	ok = true
	if old != "" && !filepath.IsAbs(old) {
		// The old copy: the hidden directory the link pointed into.
		if first, _, _ := strings.Cut(filepath.ToSlash(old), "/"); strings.HasPrefix(first, "."+release+"-") {
			os.RemoveAll(filepath.Join(lib.SyncDir, first))
		}
	}
	return &SyncResult{Dir: dest, Files: w.files, Kickstarts: n}, nil
}

// lockSyncDir holds the sync directory's lock until the returned function
// is called: syncs run one at a time, so each removes the copy it replaced
// and none is left behind.
func lockSyncDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sync kickstarts: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync kickstarts: lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// redact hides a URL's password in messages.
func redact(from string) string {
	if u, err := url.Parse(from); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return from
}

// treeWriter writes files under a directory, confined to it, within the
// sync limits.
type treeWriter struct {
	root  *os.Root
	files int
	bytes int64
	made  map[string]bool // directories made
}

func newTreeWriter(dir string) (*treeWriter, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("sync kickstarts: %w", err)
	}
	return &treeWriter{root: r, made: map[string]bool{".": true}}, nil
}

// file writes name (slash-separated, relative) from r.
func (w *treeWriter) file(name string, r io.Reader) error {
	if !fs.ValidPath(name) || strings.Contains(name, `\`) {
		return fmt.Errorf("entry %q: not a relative path inside the repository: %w", name, ErrRefused)
	}
	w.files++
	if w.files > syncMaxFiles {
		return fmt.Errorf("more than %d files: %w", syncMaxFiles, ErrLimit)
	}
	if err := w.dir(path.Dir(name)); err != nil {
		return err
	}
	f, err := w.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, syncMaxBytes-w.bytes+1))
	w.bytes += n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if w.bytes > syncMaxBytes {
		return fmt.Errorf("more than %d bytes of files: %w", syncMaxBytes, ErrLimit)
	}
	return nil
}

// dir makes the directory name and its parents.
func (w *treeWriter) dir(name string) error {
	if w.made[name] {
		return nil
	}
	if !fs.ValidPath(name) {
		return fmt.Errorf("entry %q: not a relative path inside the repository: %w", name, ErrRefused)
	}
	if err := w.dir(path.Dir(name)); err != nil {
		return err
	}
	if err := w.root.Mkdir(name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("make directory %s: %w", name, err)
	}
	w.made[name] = true
	return nil
}

// syncURL downloads a .tar.gz archive and unpacks it.
func syncURL(ctx context.Context, w *treeWriter, raw string, opts Options) error {
	u, err := url.Parse(raw)
	if err != nil {
		return &FetchError{URL: raw, Err: fmt.Errorf("bad URL: %w", err)}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return &FetchError{URL: u.Redacted(), Err: fmt.Errorf("scheme %q is not allowed (http or https): %w", u.Scheme, ErrRefused)}
	}
	f := newFetcher(opts)
	f.client.Timeout = 0 // the sync's own deadline bounds it
	body, err := f.getHTTPBody(ctx, u)
	if err != nil {
		return &FetchError{URL: u.Redacted(), Err: err}
	}
	defer body.Close()
	lr := &io.LimitedReader{R: body, N: syncMaxArchive + 1}
	if err := untar(w, lr); err != nil {
		if lr.N <= 0 {
			err = fmt.Errorf("archive larger than %d bytes: %w", syncMaxArchive, ErrLimit)
		}
		return &FetchError{URL: u.Redacted(), Err: err}
	}
	if lr.N <= 0 {
		return &FetchError{URL: u.Redacted(), Err: fmt.Errorf("archive larger than %d bytes: %w", syncMaxArchive, ErrLimit)}
	}
	return nil
}

// untar unpacks a gzip-compressed tar archive: directories and regular
// files; links and devices are skipped.
func untar(w *treeWriter, r io.Reader) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a .tar.gz archive: %w", err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		if name == "" || name == "." || h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = w.dir(name)
		case tar.TypeReg:
			err = w.file(name, tr)
		}
		if err != nil {
			return err
		}
	}
}

// syncDir copies a local checkout: regular files and directories, hidden
// ones (.git) left out, symbolic links skipped.
func syncDir(ctx context.Context, w *treeWriter, dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("sync kickstarts from %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("sync kickstarts from %s: not a directory, nor an http(s) URL", dir)
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("sync kickstarts from %s: %w", dir, err)
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			return w.dir(rel)
		case d.Type().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return fmt.Errorf("sync kickstarts: %w", err)
			}
			defer f.Close()
			return w.file(rel, f)
		}
		return nil
	})
}

// repositoryTop is the repository's directory in what was unpacked: a
// single top directory holding everything (as archives of a branch have),
// else dir itself.
func repositoryTop(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	if len(ents) == 1 && ents[0].IsDir() {
		return filepath.Join(dir, ents[0].Name()), nil
	}
	return dir, nil
}

// countKickstarts counts the *.ks files at the top of dir.
func countKickstarts(dir string) (int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".ks") {
			n++
		}
	}
	return n, nil
}
