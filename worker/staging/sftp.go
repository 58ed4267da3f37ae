package staging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/worker/sha256sum"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// SFTP tuning. pkg/sftp splits a write into packets and keeps up to
// sftpConcurrency of them in flight, which hides the round trips; 32 KiB is
// the packet size every server accepts (OpenSSH's own sftp(1) uses the
// same 32 KiB × 64 requests by default).
const (
	sftpPacket      = 32 << 10
	sftpConcurrency = 64
	// resumeSlack is how far before the end of a part file a resumed
	// upload starts again: concurrent writes cut off by a broken
	// connection may leave holes just below the end, which rewriting this
	// much covers in practice, and the SHA256 check catches the rest.
	resumeSlack = 2 * sftpPacket * sftpConcurrency
)

// sftpStager stages over SFTP on one SSH connection.
type sftpStager struct {
	t      *target
	opts   Options
	ssh    *ssh.Client
	client *sftp.Client
	// conn is the TCP connection under ssh: closing it is the one way to
	// stop a write blocked on a slow or stalled server, where closing
	// the SFTP session would wait for that write.
	conn net.Conn

	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex
	sumMode string // "", "remote" or "read back": decided on first verify
}

var _ Stager = (*sftpStager)(nil)
var _ remoteFS = (*sftpStager)(nil)

func openSFTP(ctx context.Context, t *target, opts Options) (*sftpStager, error) {
	where := t.String()
	hk, err := newHostKeyCheck(t, &opts)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", where, err)
	}
	auth, methods, cleanup, err := sshAuth(t, &opts)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", where, err)
	}
	defer cleanup()
	conn, err := opts.Egress.DialContext(ctx, "tcp", t.hostport())
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", where, err)
	}
	cfg := &ssh.ClientConfig{
		User:              t.user,
		Auth:              auth,
		HostKeyCallback:   hk.callback(t.hostport()),
		HostKeyAlgorithms: hk.algorithms(knownHostsName(t), conn.RemoteAddr()),
	}
	// The handshake has no context of its own: closing the connection
	// is how a cancelled ctx interrupts it.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, knownHostsName(t), cfg)
	stop()
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to %s: %w", where, ctx.Err())
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, fmt.Errorf("connect to %s: authentication as %s failed (tried %s)", where, t.user, methods)
		}
		return nil, fmt.Errorf("connect to %s: %w", where, err)
	}
	sc := ssh.NewClient(c, chans, reqs)
	client, err := sftp.NewClient(sc,
		sftp.MaxPacketChecked(sftpPacket),
		sftp.MaxConcurrentRequestsPerFile(sftpConcurrency),
		sftp.UseConcurrentWrites(true),
		sftp.UseConcurrentReads(true),
	)
	if err != nil {
		sc.Close()
		return nil, fmt.Errorf("connect to %s: start sftp: %w", where, err)
	}
	opts.logf("staging: connected to %s", where)
	return &sftpStager{t: t, opts: opts, ssh: sc, client: client, conn: conn}, nil
}

// knownHostsName is the name known_hosts files use: host for port 22,
// [host]:port otherwise (knownhosts.Normalize does the rest).
func knownHostsName(t *target) string { return t.hostport() }

// sshAuth gathers the authentication methods: the key file(s), the agent,
// and a password from the worker's configuration (or, for a local user, the
// URL). methods describes them for errors, without secrets.
func sshAuth(t *target, opts *Options) (auth []ssh.AuthMethod, methods string, cleanup func(), err error) {
	var signers []ssh.Signer
	var tried []string
	var keyErrs []string
	keyFiles := []string{opts.SSHKey}
	if opts.SSHKey == "" {
		keyFiles = nil
		if home, herr := os.UserHomeDir(); herr == nil {
			for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
				p := filepath.Join(home, ".ssh", n)
				if _, serr := os.Stat(p); serr == nil {
					keyFiles = append(keyFiles, p)
				}
			}
		}
	}
	for _, p := range keyFiles {
		b, rerr := os.ReadFile(p)
		if rerr != nil {
			keyErrs = append(keyErrs, fmt.Sprintf("read key %s: %v", p, rerr))
			continue
		}
		s, perr := ssh.ParsePrivateKey(b)
		var pm *ssh.PassphraseMissingError
		if errors.As(perr, &pm) {
			keyErrs = append(keyErrs, fmt.Sprintf("key %s is passphrase-protected: load it into ssh-agent", p))
			continue
		}
		if perr != nil {
			keyErrs = append(keyErrs, fmt.Sprintf("key %s: %v", p, perr))
			continue
		}
		signers = append(signers, s)
		tried = append(tried, "key "+p)
	}
	cleanup = func() {}
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if ac, derr := net.Dial("unix", sock); derr == nil {
			ag := agent.NewClient(ac)
			if as, aerr := ag.Signers(); aerr == nil && len(as) > 0 {
				signers = append(signers, as...)
				tried = append(tried, fmt.Sprintf("%d agent key(s)", len(as)))
			}
			cleanup = func() { ac.Close() }
		}
	}
	if len(signers) > 0 {
		auth = append(auth, ssh.PublicKeys(signers...))
	}
	pw, ok := t.lookup(opts.Passwords)
	if t.hasPass && !opts.Remote {
		pw, ok = t.password, true
	}
	if ok {
		auth = append(auth, ssh.Password(pw))
		tried = append(tried, "password")
	}
	if len(auth) == 0 {
		cleanup()
		msg := "no SSH key file, agent key or configured password"
		if len(keyErrs) > 0 {
			msg += ": " + strings.Join(keyErrs, "; ")
		}
		return nil, "", nil, errors.New(msg)
	}
	return auth, strings.Join(tried, ", "), cleanup, nil
}

// Put implements Stager.
func (s *sftpStager) Put(ctx context.Context, buildID string, files []string) ([]tasks.Artifact, error) {
	// Blocking SFTP calls take no context: closing the connection ends
	// them, and the stager with it. The TCP connection goes first: a
	// write blocked on a slow server holds the SSH connection, which a
	// polite close would wait for.
	stop := context.AfterFunc(ctx, func() {
		s.conn.Close()
		s.Close()
	})
	defer stop()
	arts, err := put(ctx, s, s.t, &s.opts, buildID, files)
	if err != nil && ctx.Err() != nil {
		return arts, fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return arts, err
}

// Close implements Stager.
func (s *sftpStager) Close() error {
	s.closeOnce.Do(func() {
		s.client.Close()
		if err := s.ssh.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = err
		}
	})
	return s.closeErr
}

func (s *sftpStager) join(elem ...string) string { return path.Join(elem...) }

func (s *sftpStager) mkdirAll(_ context.Context, dir string) error {
	if fi, err := s.client.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	return sftpErr(s.client.MkdirAll(dir))
}

func (s *sftpStager) size(_ context.Context, p string) (int64, bool, error) {
	fi, err := s.client.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, sftpErr(err)
	}
	if !fi.Mode().IsRegular() {
		return 0, false, fmt.Errorf("%s is not a regular file", p)
	}
	return fi.Size(), true, nil
}

func (s *sftpStager) write(_ context.Context, p string, src *source, offset int64) (int64, error) {
	flags := os.O_WRONLY | os.O_CREATE
	if offset <= resumeSlack {
		offset = 0
		flags |= os.O_TRUNC
	} else {
		offset -= resumeSlack
	}
	f, err := s.client.OpenFile(p, flags)
	if err != nil {
		return 0, sftpErr(err)
	}
	if offset > 0 {
		if err := f.Truncate(offset); err != nil {
			f.Close()
			return 0, sftpErr(err)
		}
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return 0, err
	}
	if _, err := src.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return 0, err
	}
	if _, err := f.ReadFrom(src); err != nil {
		f.Close()
		return 0, sftpErr(err)
	}
	return offset, sftpErr(f.Close())
}

// sum prefers hashing next to the file, over the same SSH connection: the
// server reads the file at disk speed and sends 64 bytes back, where reading
// a 2 GiB image back over the network would double the transfer. It runs
// openssl dgst (SHA-NI accelerated, about 3× coreutils' sha256sum) and falls
// back on sha256sum. Servers that allow SFTP only (internal-sftp, chroots)
// refuse commands; then the file is read back over SFTP and hashed here.
func (s *sftpStager) sum(ctx context.Context, p string) (string, error) {
	s.mu.Lock()
	mode := s.sumMode
	s.mu.Unlock()
	if mode != "read back" {
		sum, err := s.execSum(p)
		if err == nil {
			s.setSumMode("remote", p)
			return sum, nil
		}
		if mode == "remote" {
			return "", err
		}
		s.opts.logf("staging: cannot run sha256 commands on %s (%v); verifying by reading files back", s.t.host, err)
		s.setSumMode("read back", p)
	}
	f, err := s.client.Open(p)
	if err != nil {
		return "", sftpErr(err)
	}
	defer f.Close()
	sum, err := sha256sum.Reader(ctx, f)
	if err != nil {
		return "", sftpErr(err)
	}
	return sum, nil
}

func (s *sftpStager) setSumMode(m, p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sumMode == "" && m == "remote" {
		s.opts.logf("staging: verifying with sha256 computed on %s", s.t.host)
	}
	s.sumMode = m
}

var sha256Line = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9a-f]{64}) `) })

func (s *sftpStager) execSum(p string) (string, error) {
	sess, err := s.ssh.NewSession()
	if err != nil {
		return "", err
	}
	defer sess.Close()
	var out, errb bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errb
	if !strings.HasPrefix(p, "/") {
		p = "./" + p // never mistaken for an option
	}
	q := shellQuote(p)
	// No redirections: the login shell may be csh or fish.
	if err := sess.Run("openssl dgst -sha256 -r " + q + " || sha256sum -b " + q); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg != "" {
			return "", fmt.Errorf("%w: %s", err, msg)
		}
		return "", err
	}
	m := sha256Line().FindStringSubmatch(out.String())
	if m == nil {
		return "", fmt.Errorf("unexpected sha256sum output %q", truncate(out.String(), 100))
	}
	return m[1], nil
}

func (s *sftpStager) rename(_ context.Context, from, to string) error {
	if _, ok := s.client.HasExtension("posix-rename@openssh.com"); ok {
		return sftpErr(s.client.PosixRename(from, to))
	}
	// Plain SFTP rename refuses to replace: remove the stale file first.
	if err := s.client.Remove(to); err != nil && !errors.Is(err, os.ErrNotExist) {
		return sftpErr(err)
	}
	return sftpErr(s.client.Rename(from, to))
}

func (s *sftpStager) remove(_ context.Context, p string) error { return sftpErr(s.client.Remove(p)) }

// sftpErr turns SFTP status codes into words people know.
func sftpErr(err error) error {
	var se *sftp.StatusError
	if errors.As(err, &se) {
		switch se.FxCode() {
		case sftp.ErrSSHFxPermissionDenied:
			return fmt.Errorf("permission denied (remote directory not writable?): %w", err)
		case sftp.ErrSSHFxFailure:
			return fmt.Errorf("the server failed the request (remote disk full, or not permitted): %w", err)
		}
	}
	return err
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func (s *sftpStager) create(_ context.Context, p string, data []byte) error {
	f, err := s.client.Create(p)
	if err != nil {
		return sftpErr(err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return sftpErr(err)
	}
	return sftpErr(f.Close())
}

// removeAll walks dir with Lstat: a symbolic link is removed as a link,
// never followed.
func (s *sftpStager) removeAll(ctx context.Context, dir string) error {
	fi, err := s.client.Lstat(dir)
	if err != nil {
		return sftpErr(err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	entries, err := s.client.ReadDir(dir)
	if err != nil {
		return sftpErr(err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := path.Join(dir, e.Name())
		if e.IsDir() {
			if err := s.removeAll(ctx, p); err != nil {
				return err
			}
			continue
		}
		if err := s.client.Remove(p); err != nil {
			return sftpErr(err)
		}
	}
	return sftpErr(s.client.RemoveDirectory(dir))
}

// Remove implements Stager.
func (s *sftpStager) Remove(ctx context.Context, buildID string) error {
	return remove(ctx, s, s.t, buildID)
}
