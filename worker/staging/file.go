package staging

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/worker/sha256sum"
)

// fileStager stages into a local directory (often an NFS mount).
type fileStager struct {
	t    *target
	opts Options
}

var _ Stager = (*fileStager)(nil)
var _ remoteFS = (*fileStager)(nil)

func openFile(t *target, opts Options) (*fileStager, error) {
	if opts.Remote {
		dir, err := underRoot(t.dir, opts.FileRoot)
		if err != nil {
			return nil, fmt.Errorf("staging URL %s: %w", t, err)
		}
		c := *t
		c.dir = dir
		t = &c
	}
	return &fileStager{t: t, opts: opts}, nil
}

// Put implements Stager.
func (s *fileStager) Put(ctx context.Context, buildID string, files []string) ([]tasks.Artifact, error) {
	if s.opts.Remote {
		// A symlink may have appeared since Open: judge the build
		// directory itself, resolved.
		dir := s.t.dir
		if buildID != "" {
			dir = filepath.Join(dir, buildID)
		}
		if _, err := underRoot(dir, s.opts.FileRoot); err != nil {
			return nil, fmt.Errorf("stage to %s: %w", s.t, err)
		}
	}
	return put(ctx, s, s.t, &s.opts, buildID, files)
}

// Close implements Stager.
func (s *fileStager) Close() error { return nil }

func (s *fileStager) join(elem ...string) string { return filepath.Join(elem...) }

func (s *fileStager) mkdirAll(_ context.Context, dir string) error {
	return os.MkdirAll(dir, 0o755)
}

func (s *fileStager) size(_ context.Context, p string) (int64, bool, error) {
	fi, err := os.Lstat(p)
	if os.IsNotExist(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if !fi.Mode().IsRegular() {
		return 0, false, fmt.Errorf("%s is not a regular file", p)
	}
	return fi.Size(), true, nil
}

func (s *fileStager) write(ctx context.Context, p string, src *source, offset int64) (int64, error) {
	if offset == 0 {
		if ok, err := s.link(p, src); ok || err != nil {
			return 0, err
		}
	}
	// O_NOFOLLOW: a symlink planted at the part name must not redirect
	// the write outside the staging directory.
	flags := os.O_WRONLY | os.O_CREATE | syscall.O_NOFOLLOW
	if offset == 0 {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(p, flags, 0o644)
	if err != nil {
		return 0, err
	}
	if err := f.Truncate(offset); err != nil {
		f.Close()
		return 0, err
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return 0, err
	}
	if _, err := io.Copy(f, ctxReader{ctx, src}); err != nil {
		f.Close()
		return 0, err
	}
	// The rename must never publish data still only in the page cache.
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, err
	}
	return offset, f.Close()
}

// link puts src at p as a hard link when both are on one filesystem: no
// byte is copied, and the file is flushed to disk (fsync) before it is
// renamed into place, as a copy is. It reports false, and no error, when
// the link cannot be made (another filesystem, or one without hard links):
// the caller copies then. Images are never changed once built, so the
// staged file and the worker's copy sharing an inode is harmless.
func (s *fileStager) link(p string, src *source) (bool, error) {
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return false, err
	}
	// Link does not follow a symlink at p: one planted since the Remove
	// makes it fail, and then the copy's O_NOFOLLOW refuses it.
	if err := os.Link(src.Name(), p); err != nil {
		return false, nil
	}
	if err := src.Sync(); err != nil {
		return true, err
	}
	s.opts.logf("%s: hard link to %s (same filesystem), nothing copied", filepath.Base(p), src.Name())
	return true, nil
}

// sameFile implements sameFiler: p is local itself when both name one
// inode, as after link.
func (s *fileStager) sameFile(p, local string) bool {
	pi, err := os.Lstat(p)
	if err != nil {
		return false
	}
	li, err := os.Stat(local)
	return err == nil && os.SameFile(pi, li)
}

func (s *fileStager) sum(ctx context.Context, p string) (string, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return sha256sum.Reader(ctx, f)
}

func (s *fileStager) rename(_ context.Context, from, to string) error {
	return os.Rename(from, to)
}

func (s *fileStager) remove(_ context.Context, p string) error { return os.Remove(p) }

func (s *fileStager) create(_ context.Context, p string, data []byte) error {
	return os.WriteFile(p, data, 0o644)
}

// removeAll is os.RemoveAll, which removes symbolic links and never
// follows them; dir itself must be a directory, not a link to one.
func (s *fileStager) removeAll(_ context.Context, dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return os.RemoveAll(dir)
}

// Remove implements Stager.
func (s *fileStager) Remove(ctx context.Context, buildID string) error {
	return remove(ctx, s, s.t, buildID)
}
