package staging

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/jlaffaye/ftp"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/worker/sha256sum"
)

// ftpStager stages over FTP (passive mode), or FTPS with explicit TLS.
type ftpStager struct {
	t    *target
	opts Options
	c    *ftp.ServerConn

	mu    sync.Mutex
	conns map[net.Conn]struct{} // control and data connections, closed on cancel

	closeOnce sync.Once
	closeErr  error
}

var _ Stager = (*ftpStager)(nil)
var _ remoteFS = (*ftpStager)(nil)

// anonymousPassword is what anonymous FTP conventionally takes.
const anonymousPassword = "fbs@"

func openFTP(ctx context.Context, t *target, opts Options) (*ftpStager, error) {
	where := t.String()
	s := &ftpStager{t: t, opts: opts, conns: map[net.Conn]struct{}{}}
	login, password := "anonymous", anonymousPassword
	if t.user != "" && t.user != "anonymous" && t.user != "ftp" {
		login = t.user
		pw, ok := t.lookup(opts.Passwords)
		if t.hasPass && !opts.Remote {
			pw, ok = t.password, true
		}
		if !ok {
			return nil, fmt.Errorf("connect to %s: no password for FTP user %s on %s in the worker's configuration", where, t.user, t.host)
		}
		password = pw
	}
	var tlsCfg *tls.Config
	if t.scheme == schemeFTPS {
		cfg := &tls.Config{ServerName: t.host, MinVersion: tls.VersionTLS12}
		if opts.CAFile != "" {
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			pem, err := os.ReadFile(opts.CAFile)
			if err != nil {
				return nil, fmt.Errorf("connect to %s: read CA file: %w", where, err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("connect to %s: CA file %s holds no PEM certificate", where, opts.CAFile)
			}
			cfg.RootCAs = pool
		}
		// Data connections resume the control connection's TLS session,
		// which servers such as vsftpd require.
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		tlsCfg = cfg
	}
	dialOpts := []ftp.DialOption{
		ftp.DialWithContext(ctx),
		ftp.DialWithDialFunc(s.dial(ctx, tlsCfg)),
	}
	if tlsCfg != nil {
		dialOpts = append(dialOpts, ftp.DialWithExplicitTLS(tlsCfg))
	}
	c, err := ftp.Dial(t.hostport(), dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", where, err)
	}
	s.c = c
	if err := c.Login(login, password); err != nil {
		s.Close()
		return nil, fmt.Errorf("connect to %s: log in as %s: %w", where, login, err)
	}
	opts.logf("staging: connected to %s", where)
	return s, nil
}

// dial makes connections the stager can close when a Put is cancelled
// (the FTP client's calls take no context). The first is the control
// connection, which the client upgrades itself after AUTH TLS; with a
// dial function of ours the client leaves data connections plain, so for
// FTPS they are wrapped here.
func (s *ftpStager) dial(ctx context.Context, tlsCfg *tls.Config) func(network, addr string) (net.Conn, error) {
	control := true
	return func(network, addr string) (net.Conn, error) {
		c, err := s.opts.Egress.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := &trackedConn{Conn: c, s: s}
		s.mu.Lock()
		s.conns[tc] = struct{}{}
		first := control
		control = false
		s.mu.Unlock()
		if tlsCfg != nil && !first {
			return tls.Client(tc, tlsCfg), nil
		}
		return tc, nil
	}
}

type trackedConn struct {
	net.Conn
	s *ftpStager
}

func (c *trackedConn) Close() error {
	c.s.mu.Lock()
	delete(c.s.conns, c)
	c.s.mu.Unlock()
	return c.Conn.Close()
}

func (s *ftpStager) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.(*trackedConn).Conn.Close()
	}
}

// Put implements Stager.
func (s *ftpStager) Put(ctx context.Context, buildID string, files []string) ([]tasks.Artifact, error) {
	stop := context.AfterFunc(ctx, s.closeConns)
	defer stop()
	arts, err := put(ctx, s, s.t, &s.opts, buildID, files)
	if err != nil && ctx.Err() != nil {
		return arts, fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return arts, err
}

// Close implements Stager.
func (s *ftpStager) Close() error {
	s.closeOnce.Do(func() {
		if s.c != nil {
			_ = s.c.Quit()
		}
		s.closeConns()
	})
	return s.closeErr
}

func (s *ftpStager) join(elem ...string) string { return path.Join(elem...) }

func (s *ftpStager) mkdirAll(_ context.Context, dir string) error {
	if s.isDir(dir) {
		return nil
	}
	var prefix string
	if strings.HasPrefix(dir, "/") {
		prefix = "/"
	}
	for _, part := range strings.Split(strings.Trim(dir, "/"), "/") {
		prefix = path.Join(prefix, part)
		if err := s.c.MakeDir(prefix); err != nil && !s.isDir(prefix) {
			return ftpErr(err)
		}
	}
	return nil
}

// isDir reports whether p is a directory, by entering it and coming back.
func (s *ftpStager) isDir(p string) bool {
	cwd, err := s.c.CurrentDir()
	if err != nil {
		return false
	}
	if s.c.ChangeDir(p) != nil {
		return false
	}
	_ = s.c.ChangeDir(cwd)
	return true
}

func (s *ftpStager) size(_ context.Context, p string) (int64, bool, error) {
	n, err := s.c.FileSize(p)
	var te *textproto.Error
	if errors.As(err, &te) && te.Code == ftp.StatusFileUnavailable {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, ftpErr(err)
	}
	return n, true, nil
}

func (s *ftpStager) write(ctx context.Context, p string, src *source, offset int64) (int64, error) {
	// FTP writes in order, so what the server holds is exactly a prefix:
	// REST + STOR continues right after it.
	r := ctxReader{ctx, src}
	if offset == 0 {
		return 0, ftpErr(s.c.Stor(p, r))
	}
	return offset, ftpErr(s.c.StorFrom(p, r, uint64(offset)))
}

// sum reads the file back: FTP has no standard way to hash on the server
// (HASH and XSHA256 are drafts few servers implement).
func (s *ftpStager) sum(ctx context.Context, p string) (string, error) {
	r, err := s.c.Retr(p)
	if err != nil {
		return "", ftpErr(err)
	}
	sum, cerr := sha256sum.Reader(ctx, r)
	if err := r.Close(); cerr == nil {
		cerr = err
	}
	if cerr != nil {
		return "", ftpErr(cerr)
	}
	return sum, nil
}

func (s *ftpStager) rename(_ context.Context, from, to string) error {
	if err := s.c.Rename(from, to); err == nil {
		return nil
	}
	// Some servers refuse to rename onto an existing file.
	if err := s.c.Delete(to); err != nil {
		var te *textproto.Error
		if !errors.As(err, &te) || te.Code != ftp.StatusFileUnavailable {
			return ftpErr(err)
		}
	}
	return ftpErr(s.c.Rename(from, to))
}

func (s *ftpStager) remove(_ context.Context, p string) error { return ftpErr(s.c.Delete(p)) }

// ftpErr explains the reply codes staging runs into.
func ftpErr(err error) error {
	var te *textproto.Error
	if !errors.As(err, &te) {
		return err
	}
	switch te.Code {
	case ftp.StatusFileUnavailable, ftp.StatusNotLoggedIn:
		return fmt.Errorf("refused (no such file, or the directory is not writable): %w", err)
	case ftp.StatusExceededStorage, ftp.Status452:
		return fmt.Errorf("the remote disk is full: %w", err)
	}
	return err
}

func (s *ftpStager) create(_ context.Context, p string, data []byte) error {
	return ftpErr(s.c.Stor(p, bytes.NewReader(data)))
}

// removeAll lists dir with "LIST -a", since servers such as vsftpd hide
// dot files (the marker, part files) from a plain LIST, and removes what
// it holds depth first.
func (s *ftpStager) removeAll(ctx context.Context, dir string) error {
	if !s.isDir(dir) {
		return fmt.Errorf("%s is not a directory", dir)
	}
	entries, err := s.c.List("-a " + dir)
	if err != nil {
		return ftpErr(err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.Name == "." || e.Name == ".." || strings.Contains(e.Name, "/") {
			continue
		}
		p := path.Join(dir, e.Name)
		if e.Type == ftp.EntryTypeFolder {
			if err := s.removeAll(ctx, p); err != nil {
				return err
			}
			continue
		}
		if err := s.c.Delete(p); err != nil {
			return ftpErr(err)
		}
	}
	return ftpErr(s.c.RemoveDir(dir))
}

// Remove implements Stager.
func (s *ftpStager) Remove(ctx context.Context, buildID string) error {
	return remove(ctx, s, s.t, buildID)
}
