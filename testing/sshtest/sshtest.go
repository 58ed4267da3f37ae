// Package sshtest starts a real OpenSSH server (Debian's openssh-server,
// /usr/sbin/sshd) on a free loopback port for tests, with host and user keys,
// authorized_keys, known_hosts and sshd_config generated in a temporary
// directory. The test user is the current user.
package sshtest

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHD is where Debian installs the server.
const SSHD = "/usr/sbin/sshd"

// Options changes the server from its defaults.
type Options struct {
	// ReadOnly runs the SFTP subsystem read-only (internal-sftp -R), as a
	// staging area the user may not write to would behave.
	ReadOnly bool
	// NoExec refuses commands other than SFTP (ForceCommand
	// internal-sftp), as SFTP-only accounts are set up.
	NoExec bool
}

// Server is a running sshd.
type Server struct {
	// Host and Port are where it listens.
	Host string
	Port int
	// User is the login name (the current user).
	User string
	// KeyFile is an unencrypted ed25519 private key authorized to log in.
	KeyFile string
	// KnownHosts is a known_hosts file with the server's host key under
	// [127.0.0.1]:port.
	KnownHosts string
	// HostKey is the server's host key.
	HostKey ssh.PublicKey
	// Dir is the server's private temporary directory.
	Dir string
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// URL is an sftp:// URL for dir (absolute) on the server.
func (s *Server) URL(dir string) string {
	return "sftp://" + s.User + "@" + s.Addr() + "/" + strings.TrimPrefix(dir, "/")
}

// Fingerprint is the host key's SHA256 fingerprint, as ssh-keygen -l shows.
func (s *Server) Fingerprint() string { return ssh.FingerprintSHA256(s.HostKey) }

// KnownHostsLine returns a known_hosts line for the server with key,
// hashed (|1|salt|hash) when hashed is set.
func (s *Server) KnownHostsLine(key ssh.PublicKey, hashed bool) string {
	name := knownhosts.Normalize(s.Addr())
	if hashed {
		name = knownhosts.HashHostname(name)
	}
	return knownhosts.Line([]string{name}, key)
}

// Start runs sshd until the test ends. It skips the test when sshd is not
// installed.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if _, err := os.Stat(SSHD); err != nil {
		t.Skipf("sshtest: %s not installed (apt-get install openssh-server): %v", SSHD, err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("sshtest: current user: %v", err)
	}
	if os.Geteuid() == 0 {
		// sshd's privilege separation directory, absent until the
		// package's service first ran.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("sshtest: make /run/sshd: %v", err)
		}
	}
	dir := t.TempDir()
	s := &Server{Host: "127.0.0.1", User: u.Username, Dir: dir,
		KeyFile: filepath.Join(dir, "id_ed25519"), KnownHosts: filepath.Join(dir, "known_hosts")}
	hostKey := writeKey(t, filepath.Join(dir, "ssh_host_ed25519_key"))
	userKey := writeKey(t, s.KeyFile)
	s.HostKey = hostKey
	writeFile(t, filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(userKey))

	var lastErr error
	for range 5 {
		s.Port = freePort(t)
		cfg := filepath.Join(dir, "sshd_config")
		writeFile(t, cfg, []byte(config(s, opts)))
		if lastErr = s.run(t, cfg); lastErr == nil {
			writeFile(t, s.KnownHosts, []byte(s.KnownHostsLine(hostKey, false)+"\n"))
			return s
		}
	}
	t.Fatalf("sshtest: start sshd: %v", lastErr)
	return nil
}

func config(s *Server, opts Options) string {
	sub := "internal-sftp"
	if opts.ReadOnly {
		sub += " -R"
	}
	c := fmt.Sprintf(`ListenAddress %s:%d
HostKey %s
AuthorizedKeysFile %s
PidFile none
StrictModes no
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
LogLevel VERBOSE
Subsystem sftp %s
`, s.Host, s.Port, filepath.Join(s.Dir, "ssh_host_ed25519_key"), filepath.Join(s.Dir, "authorized_keys"), sub)
	if opts.NoExec {
		c += "ForceCommand " + sub + "\n"
	}
	return c
}

// run starts sshd and waits for it to say it listens; an error means it
// exited first (the port was taken).
func (s *Server) run(t testing.TB, cfg string) error {
	t.Helper()
	cmd := exec.Command(SSHD, "-D", "-e", "-f", cfg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("sshtest: start %s: %v", SSHD, err)
	}
	var (
		mu  sync.Mutex
		log bytes.Buffer
		wg  sync.WaitGroup
	)
	ready := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if !signalled && strings.Contains(sc.Text(), "Server listening on") {
				signalled = true
				close(ready)
			}
		}
		if !signalled {
			close(ready)
		}
	}()
	<-ready
	mu.Lock()
	ok := strings.Contains(log.String(), "Server listening on")
	mu.Unlock()
	if ok {
		t.Cleanup(func() {
			// The group holds the listener and the per-connection
			// children; all of them are ours.
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			wg.Wait() // stderr closes once every process of the group is gone
			_ = cmd.Wait()
			if t.Failed() {
				mu.Lock()
				t.Logf("sshd log:\n%s", log.String())
				mu.Unlock()
			}
		})
		return nil
	}
	// It exited (stderr closed) before listening: the port was taken,
	// or the configuration is wrong.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	wg.Wait()
	werr := cmd.Wait()
	return fmt.Errorf("sshd exited (%v):\n%s", werr, log.String())
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sshtest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeKey makes an ed25519 key pair, writes the private key in OpenSSH
// format to path and returns the public key.
func writeKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("sshtest: generate key: %v", err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatalf("sshtest: marshal key: %v", err)
	}
	writeFile(t, path, pem.EncodeToMemory(blk))
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatalf("sshtest: public key: %v", err)
	}
	return sp
}

// NewKey writes a fresh ed25519 private key (not authorized anywhere) under
// a temporary directory and returns its path and public key.
func NewKey(t testing.TB) (string, ssh.PublicKey) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "id_ed25519")
	return p, writeKey(t, p)
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
}

// StartAgent runs a real ssh-agent (from openssh-client) holding the keys
// in keyFiles until the test ends, and returns its socket path.
func StartAgent(t testing.TB, keyFiles ...string) string {
	t.Helper()
	for _, tool := range []string{"ssh-agent", "ssh-add"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("sshtest: %s not installed (apt-get install openssh-client)", tool)
		}
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	// -D keeps it in the foreground, so the test owns the process.
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("sshtest: start ssh-agent: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	})
	// The agent prints its environment once the socket is bound.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, "SSH_AUTH_SOCK") {
		t.Fatalf("sshtest: ssh-agent did not start: %q %v", line, err)
	}
	for _, k := range keyFiles {
		add := exec.Command("ssh-add", k)
		add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		if out, err := add.CombinedOutput(); err != nil {
			t.Fatalf("sshtest: ssh-add %s: %v\n%s", k, err, out)
		}
	}
	return sock
}
