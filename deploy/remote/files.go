package remote

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/pkg/sftp"

	"github.com/fedora-fbs/fbs/deploy"
)

// ReadFile returns the content of the file at p on the host; an error
// wrapping fs.ErrNotExist when there is none.
func (c *Conn) ReadFile(ctx context.Context, p string) ([]byte, error) {
	s, err := c.sftpClient()
	if err != nil {
		return nil, err
	}
	f, err := s.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", c.addr, p, err)
	}
	defer f.Close()
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	b, err := io.ReadAll(f)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: read %s: %w", c.addr, p, ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", c.addr, p, err)
	}
	return b, nil
}

// WriteFile installs f on the host atomically: it writes a temporary file
// in the same directory (mode 0600 before any byte is written), flushes it
// to disk, sets its owner and mode, and renames it over f.Path. The
// directory is made when missing; a secret's directory is made (or set)
// mode 0750, owned by root and f's group, so only the service can enter
// it. Everything goes over SFTP; owner and group names are looked up once
// per connection.
func (c *Conn) WriteFile(ctx context.Context, f deploy.InstallFile) error {
	if !path.IsAbs(f.Path) {
		return fmt.Errorf("%s: install %s: not an absolute path", c.addr, f.Path)
	}
	dir := path.Dir(f.Path)
	if err := c.mkdirAll(dir); err != nil {
		return err
	}
	if f.Secret {
		if err := c.secretDir(ctx, dir, f.Group); err != nil {
			return fmt.Errorf("install %s: %w", f.Path, err)
		}
	}
	tmp, err := c.upload(ctx, dir, path.Base(f.Path), strings.NewReader(string(f.Content)))
	if err != nil {
		return fmt.Errorf("install %s: %w", f.Path, err)
	}
	if err := c.finish(ctx, tmp, f.Path, f.Owner, f.Group, f.Mode); err != nil {
		return fmt.Errorf("install %s: %w", f.Path, err)
	}
	return nil
}

// secretDir makes dir root:group, mode 0750.
func (c *Conn) secretDir(ctx context.Context, dir, group string) error {
	s, err := c.sftpClient()
	if err != nil {
		return err
	}
	_, gid, err := c.ids(ctx, "root", group)
	if err == nil {
		err = s.Chown(dir, 0, gid)
	}
	if err == nil {
		err = s.Chmod(dir, 0o750)
	}
	if err != nil {
		return fmt.Errorf("%s: protect %s: %w", c.addr, dir, err)
	}
	return nil
}

func (c *Conn) mkdirAll(dir string) error {
	s, err := c.sftpClient()
	if err != nil {
		return err
	}
	if err := s.MkdirAll(dir); err != nil {
		return fmt.Errorf("%s: make %s: %w", c.addr, dir, err)
	}
	return nil
}

// upload writes r to a new temporary file beside name in dir and returns
// its path. The file is mode 0600 and flushed to disk.
func (c *Conn) upload(ctx context.Context, dir, name string, r io.Reader) (string, error) {
	s, err := c.sftpClient()
	if err != nil {
		return "", err
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(dir, "."+name+".fbs-"+hex.EncodeToString(rnd[:]))
	f, err := s.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return "", fmt.Errorf("%s: create %s: %w", c.addr, tmp, err)
	}
	stop := context.AfterFunc(ctx, func() { f.Close() })
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.ReadFrom(r)
	}
	if err == nil {
		err = f.Sync()
	}
	stop()
	if cerr := f.Close(); err == nil && !errors.Is(cerr, os.ErrClosed) {
		err = cerr
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		_ = s.Remove(tmp)
		return "", fmt.Errorf("%s: write %s: %w", c.addr, tmp, err)
	}
	return tmp, nil
}

// finish gives the uploaded tmp its owner and mode and renames it to
// dest; on failure tmp is removed.
func (c *Conn) finish(ctx context.Context, tmp, dest, owner, group string, mode fs.FileMode) error {
	s, err := c.sftpClient()
	if err != nil {
		return err
	}
	if owner == "" {
		owner = "root"
	}
	if group == "" {
		group = owner
	}
	uid, gid, err := c.ids(ctx, owner, group)
	if err == nil {
		err = s.Chown(tmp, uid, gid)
	}
	if err == nil {
		err = s.Chmod(tmp, mode.Perm())
	}
	if err == nil {
		err = s.PosixRename(tmp, dest)
	}
	if err != nil {
		_ = s.Remove(tmp)
		return fmt.Errorf("%s: put %s in place: %w", c.addr, dest, err)
	}
	return nil
}

// InstallBinary copies the local executable to dest on the host: uploaded
// to a temporary file beside dest, its SHA-256 computed on the host
// (sha256sum) must match the local file's, the current dest is kept as
// dest.prev (a hard link, so dest never goes missing), and the new file is
// renamed over dest.
func (c *Conn) InstallBinary(ctx context.Context, local, dest string) error {
	lf, err := os.Open(local)
	if err != nil {
		return fmt.Errorf("install %s on %s: %w", local, c.addr, err)
	}
	defer lf.Close()
	h := sha256.New()
	if err := c.mkdirAll(path.Dir(dest)); err != nil {
		return err
	}
	tmp, err := c.upload(ctx, path.Dir(dest), path.Base(dest), io.TeeReader(lf, h))
	if err != nil {
		return fmt.Errorf("install %s: %w", local, err)
	}
	want := hex.EncodeToString(h.Sum(nil))
	got, err := c.SHA256(ctx, tmp)
	if err == nil && got != want {
		err = fmt.Errorf("checksum mismatch: sha256 %s on the host, %s here", got, want)
	}
	s, serr := c.sftpClient()
	if err == nil {
		err = serr
	}
	if err == nil {
		err = keepPrevious(s, dest)
	}
	if err != nil {
		if serr == nil {
			_ = s.Remove(tmp)
		}
		return fmt.Errorf("install %s as %s on %s: %w", local, dest, c.addr, err)
	}
	if err := c.finish(ctx, tmp, dest, "root", "root", 0o755); err != nil {
		return fmt.Errorf("install %s: %w", local, err)
	}
	return nil
}

// keepPrevious hard-links dest as dest.prev, replacing an older one, when
// dest exists.
func keepPrevious(s *sftp.Client, dest string) error {
	if _, err := s.Stat(dest); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	prev := dest + PrevSuffix
	if err := s.Remove(prev); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the older %s: %w", prev, err)
	}
	if err := s.Link(dest, prev); err != nil {
		return fmt.Errorf("keep %s as %s: %w", dest, prev, err)
	}
	return nil
}

// PrevSuffix is appended to a binary's path to name the one it replaced.
const PrevSuffix = ".prev"

// RestorePrevious puts dest.prev, kept by InstallBinary, back in place of
// dest, atomically. dest.prev is gone afterwards.
func (c *Conn) RestorePrevious(ctx context.Context, dest string) error {
	s, err := c.sftpClient()
	if err != nil {
		return err
	}
	prev := dest + PrevSuffix
	if _, err := s.Stat(prev); err != nil {
		return fmt.Errorf("%s: restore %s: no previous binary %s: %w", c.addr, dest, prev, err)
	}
	if err := s.PosixRename(prev, dest); err != nil {
		return fmt.Errorf("%s: restore %s from %s: %w", c.addr, dest, prev, err)
	}
	return ctx.Err()
}

// SHA256 is the hex SHA-256 of the file at p on the host, computed there;
// an error wrapping fs.ErrNotExist when there is none.
func (c *Conn) SHA256(ctx context.Context, p string) (string, error) {
	s, err := c.sftpClient()
	if err != nil {
		return "", err
	}
	if _, err := s.Stat(p); err != nil {
		return "", fmt.Errorf("%s: sha256 of %s: %w", c.addr, p, err)
	}
	out, err := c.Run(ctx, "sha256sum -- "+Quote(p))
	if err != nil {
		return "", fmt.Errorf("sha256 of %s: %w", p, err)
	}
	sum, _, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if len(sum) != sha256.Size*2 {
		return "", fmt.Errorf("%s: sha256sum %s printed %q", c.addr, p, out)
	}
	return sum, nil
}

// OSFamily reads /etc/os-release on the host.
func (c *Conn) OSFamily(ctx context.Context) (deploy.OSFamily, error) {
	b, err := c.ReadFile(ctx, "/etc/os-release")
	if errors.Is(err, fs.ErrNotExist) {
		b, err = c.ReadFile(ctx, "/usr/lib/os-release")
	}
	if err != nil {
		return "", err
	}
	fam, err := deploy.ParseOSRelease(b)
	if err != nil {
		return "", fmt.Errorf("%s: /etc/os-release: %w", c.addr, err)
	}
	return fam, nil
}
