// Package remote is fbs deploy's connection to one host: SSH
// (golang.org/x/crypto/ssh) with host keys checked against a known_hosts
// file, commands, and files over SFTP (github.com/pkg/sftp) written
// atomically. It knows nothing of plans or rollouts (deploy/rollout) and
// nothing of what the files hold (deploy).
//
// Host keys: a host whose key known_hosts lacks is refused unless the
// Target says AcceptNew, and then its key is appended to known_hosts (trust
// on first use, asked for explicitly with fbs deploy --accept-new). A host
// whose key differs from the one known_hosts holds is always refused.
//
// The SSH user must be able to write /etc and /usr/local/bin and run
// chown and systemctl: root.
package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/fedora-fbs/fbs/deploy"
)

// Target says where and how to log in.
type Target struct {
	// Addr is the host name or IP address; Port its SSH port (0 means
	// 22).
	Addr string
	Port int
	// User is the login name (default root).
	User string
	// KeyFile is an unencrypted private key; "" means the keys of the
	// ssh-agent at $SSH_AUTH_SOCK and the unencrypted ~/.ssh/id_ed25519,
	// id_ecdsa and id_rsa that exist.
	KeyFile string
	// KnownHosts is the known_hosts file; "" means ~/.ssh/known_hosts.
	KnownHosts string
	// AcceptNew accepts a host known_hosts does not list and appends its
	// key there. A changed key is refused regardless.
	AcceptNew bool
	// Timeout bounds the TCP connection and the SSH handshake (default
	// 30s); ctx may end it sooner.
	Timeout time.Duration
}

// TargetOf is the Target of a host of the deploy file.
func TargetOf(h *deploy.Host, acceptNew bool) Target {
	return Target{Addr: h.Addr, Port: h.Port, User: h.User, KeyFile: h.KeyFile, KnownHosts: h.KnownHosts, AcceptNew: acceptNew}
}

// address is host:port.
func (t Target) address() string {
	p := t.Port
	if p == 0 {
		p = 22
	}
	return net.JoinHostPort(t.Addr, strconv.Itoa(p))
}

// Conn is a logged-in SSH connection to one host. Its methods may be
// called from several goroutines.
type Conn struct {
	addr   string
	client *ssh.Client
	// agentConn is the ssh-agent connection used to log in, if any.
	agentConn net.Conn

	mu   sync.Mutex
	sftp *sftp.Client
	// users and groups map names to IDs, read from the host once.
	users, groups map[string]int
	// killers are the goroutines killing cancelled commands.
	killers sync.WaitGroup
}

// Dial connects to t and logs in, checking the host key against
// known_hosts first.
func Dial(ctx context.Context, t Target) (*Conn, error) {
	addr := t.address()
	user := t.User
	if user == "" {
		user = "root"
	}
	known := t.KnownHosts
	if known == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("ssh %s: find known_hosts: %w", addr, err)
		}
		known = filepath.Join(home, ".ssh", "known_hosts")
	}
	hk, err := hostKeyCallback(known, t.AcceptNew)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", addr, err)
	}
	auth, agentConn, err := authMethods(t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", addr, err)
	}
	closeAgent := func() {
		if agentConn != nil {
			agentConn.Close()
		}
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		closeAgent()
		return nil, fmt.Errorf("ssh %s: %w", addr, err)
	}
	// The handshake has no context: a deadline, and closing the
	// connection when ctx ends, bound it.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	cc, chans, reqs, err := ssh.NewClientConn(nc, addr, &ssh.ClientConfig{User: user, Auth: auth, HostKeyCallback: hk})
	if !stop() || err != nil {
		nc.Close()
		closeAgent()
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("ssh %s@%s: %w", user, addr, err)
	}
	_ = nc.SetDeadline(time.Time{})
	return &Conn{addr: addr, client: ssh.NewClient(cc, chans, reqs), agentConn: agentConn}, nil
}

// authMethods are the keys to offer: keyFile, or the agent's and the
// default files.
func authMethods(keyFile string) ([]ssh.AuthMethod, net.Conn, error) {
	if keyFile != "" {
		s, err := readKey(keyFile)
		if err != nil {
			return nil, nil, err
		}
		return []ssh.AuthMethod{ssh.PublicKeys(s)}, nil, nil
	}
	var signers []ssh.Signer
	var agentConn net.Conn
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if c, err := net.Dial("unix", sock); err == nil {
			agentConn = c
			if s, err := agent.NewClient(c).Signers(); err == nil {
				signers = append(signers, s...)
			}
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			if s, err := readKey(filepath.Join(home, ".ssh", n)); err == nil {
				signers = append(signers, s)
			}
		}
	}
	if len(signers) == 0 {
		if agentConn != nil {
			agentConn.Close()
		}
		return nil, nil, errors.New("no SSH key: set key in the deploy file, or load one into ssh-agent")
	}
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, agentConn, nil
}

func readKey(path string) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read SSH key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(b)
	var pe *ssh.PassphraseMissingError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("SSH key %s is encrypted: load it into ssh-agent and leave key unset", path)
	}
	if err != nil {
		return nil, fmt.Errorf("SSH key %s: %w", path, err)
	}
	return s, nil
}

// Addr is the host:port connected to.
func (c *Conn) Addr() string { return c.addr }

// Close ends the connection, once the commands Run gave up on are
// killed.
func (c *Conn) Close() error {
	c.killers.Wait()
	c.mu.Lock()
	if c.sftp != nil {
		c.sftp.Close()
		c.sftp = nil
	}
	c.mu.Unlock()
	err := c.client.Close()
	if c.agentConn != nil {
		c.agentConn.Close()
	}
	return err
}

// stderrTail is how much of a failed command's stderr its error quotes.
const stderrTail = 2048

// ExitError is a command that ran and failed.
type ExitError struct {
	Addr, Cmd string
	// Status is the exit status, -1 when the command was killed by a
	// signal or the status was lost.
	Status int
	// Stderr is the end of what the command wrote to stderr.
	Stderr string
}

func (e *ExitError) Error() string {
	s := fmt.Sprintf("%s: %s: exit status %d", e.Addr, e.Cmd, e.Status)
	if e.Stderr != "" {
		s += ": " + e.Stderr
	}
	return s
}

// Run runs cmd with /bin/sh on the host and returns its stdout. A failure
// is an *ExitError holding the exit status and the end of stderr. When ctx
// ends, the command's process group is killed and Run returns ctx's error.
func (c *Conn) Run(ctx context.Context, cmd string) ([]byte, error) {
	sess, err := c.client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("%s: new session for %s: %w", c.addr, cmd, err)
	}
	var stderr bytes.Buffer
	stdout := &pidWriter{pid: make(chan string, 1)}
	sess.Stdout, sess.Stderr = stdout, &stderr
	done := make(chan error, 1)
	// The shell says its process ID, then becomes the command: sshd made
	// it a process group leader, so the group is what to kill on cancel
	// (OpenSSH does not forward signals to sessions it runs as root).
	if err := sess.Start("echo $$; exec /bin/sh -c " + Quote(cmd)); err != nil {
		sess.Close()
		return nil, fmt.Errorf("%s: start %s: %w", c.addr, cmd, err)
	}
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
		sess.Close()
	case <-ctx.Done():
		// Killing takes a session of its own, which may be slow to start
		// (the login shell runs its rc files): Close waits for it, Run
		// does not. The session stays open until then, so that the
		// command's process ID can still arrive.
		c.killers.Add(1)
		go func() {
			defer c.killers.Done()
			c.kill(stdout.pid)
			sess.Close()
			<-done
		}()
		return nil, fmt.Errorf("%s: %s: %w", c.addr, cmd, ctx.Err())
	}
	if err != nil {
		tail := strings.TrimSpace(stderr.String())
		if len(tail) > stderrTail {
			tail = "..." + tail[len(tail)-stderrTail:]
		}
		ee := &ExitError{Addr: c.addr, Cmd: cmd, Status: -1, Stderr: tail}
		var xe *ssh.ExitError
		if errors.As(err, &xe) {
			ee.Status = xe.ExitStatus()
			return stdout.buf.Bytes(), ee
		}
		var me *ssh.ExitMissingError
		if errors.As(err, &me) {
			return stdout.buf.Bytes(), ee
		}
		return stdout.buf.Bytes(), fmt.Errorf("%s: %s: %w", c.addr, cmd, err)
	}
	return stdout.buf.Bytes(), nil
}

// kill kills the process group whose leader's ID arrives on pid, from a
// session of its own.
func (c *Conn) kill(pid <-chan string) {
	var p string
	select {
	case p = <-pid:
	case <-time.After(killWait):
		return // the command never started
	}
	sess, err := c.client.NewSession()
	if err != nil {
		return
	}
	defer sess.Close()
	_ = sess.Run("kill -KILL -- -" + p + " 2>/dev/null || kill -KILL " + p)
}

// killWait is how long a cancelled command's process ID is waited for.
const killWait = 30 * time.Second

// pidWriter takes the first line of a session's stdout, the process ID,
// and keeps the rest.
type pidWriter struct {
	pid    chan string
	buf    bytes.Buffer
	header []byte
	sent   bool
}

func (w *pidWriter) Write(p []byte) (int, error) {
	n := len(p)
	if !w.sent {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.header = append(w.header, p...)
			return n, nil
		}
		w.header = append(w.header, p[:i]...)
		if _, err := strconv.Atoi(string(w.header)); err == nil {
			w.pid <- string(w.header)
		}
		w.sent = true
		p = p[i+1:]
	}
	w.buf.Write(p)
	return n, nil
}

// Quote quotes s for a POSIX shell.
func Quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@+,%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sftpClient opens the SFTP session on first use.
func (c *Conn) sftpClient() (*sftp.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sftp != nil {
		return c.sftp, nil
	}
	s, err := sftp.NewClient(c.client)
	if err != nil {
		return nil, fmt.Errorf("%s: start SFTP: %w", c.addr, err)
	}
	c.sftp = s
	return s, nil
}
