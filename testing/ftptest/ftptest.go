// Package ftptest runs a real FTP server for tests: Debian's vsftpd, started
// per control connection in inetd mode behind a loopback listener the helper
// owns (so there is no port to guess and no start-up to wait for), serving
// anonymous FTP with uploads into pub/, optionally over explicit TLS.
package ftptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// VSFTPD is where Debian installs the server.
const VSFTPD = "/usr/sbin/vsftpd"

// Options changes the server from its defaults.
type Options struct {
	// TLS enables explicit FTPS (AUTH TLS) with a certificate signed by a
	// throwaway CA, required for logins and data.
	TLS bool
	// MaxRate caps each transfer at this many bytes per second
	// (vsftpd's anon_max_rate), for tests of a slow link; 0 is no cap.
	MaxRate int
}

// Server is a running FTP server.
type Server struct {
	// Host and Port are where it listens.
	Host string
	Port int
	// Root is the anonymous root directory; Pub is its pub/ directory,
	// writable by anonymous users.
	Root, Pub string
	// CAFile is the PEM CA certificate that signed the server's
	// certificate when Options.TLS is set.
	CAFile string
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Start runs vsftpd until the test ends. It skips the test when vsftpd is
// not installed or the system has no ftp user for anonymous sessions.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if _, err := os.Stat(VSFTPD); err != nil {
		t.Skipf("ftptest: %s not installed (apt-get install vsftpd): %v", VSFTPD, err)
	}
	if os.Geteuid() != 0 {
		t.Skip("ftptest: vsftpd's anonymous mode needs root to chroot")
	}
	ftpUser, err := user.Lookup("ftp")
	if err != nil {
		t.Skipf("ftptest: no ftp user (the vsftpd package makes it): %v", err)
	}
	uid, _ := strconv.Atoi(ftpUser.Uid)
	gid, _ := strconv.Atoi(ftpUser.Gid)

	dir := t.TempDir()
	s := &Server{Host: "127.0.0.1", Root: filepath.Join(dir, "root")}
	s.Pub = filepath.Join(s.Root, "pub")
	for _, d := range []string{s.Root, s.Pub, "/var/run/vsftpd/empty"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("ftptest: %v", err)
		}
	}
	// vsftpd refuses a chroot root its user can write; pub is the
	// anonymous user's.
	if err := os.Chown(s.Pub, uid, gid); err != nil {
		t.Fatalf("ftptest: %v", err)
	}
	cfg := fmt.Sprintf(`listen=NO
listen_ipv6=NO
anonymous_enable=YES
local_enable=NO
write_enable=YES
anon_upload_enable=YES
anon_mkdir_write_enable=YES
anon_other_write_enable=YES
anon_umask=022
anon_root=%s
no_anon_password=YES
ftp_username=ftp
pasv_enable=YES
pasv_address=127.0.0.1
port_enable=NO
secure_chroot_dir=/var/run/vsftpd/empty
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
syslog_enable=NO
xferlog_enable=YES
log_ftp_protocol=YES
vsftpd_log_file=%s
idle_session_timeout=120
data_connection_timeout=120
`, s.Root, filepath.Join(dir, "vsftpd.log"))
	if opts.MaxRate > 0 {
		cfg += fmt.Sprintf("anon_max_rate=%d\n", opts.MaxRate)
	}
	if opts.TLS {
		s.CAFile, cfg = writeCerts(t, dir), cfg+fmt.Sprintf(`ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=YES
require_ssl_reuse=YES
ssl_ciphers=HIGH
rsa_cert_file=%s
rsa_private_key_file=%s
`, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	}
	cfgPath := filepath.Join(dir, "vsftpd.conf")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatalf("ftptest: %v", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ftptest: listen: %v", err)
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	sv := &inetd{cfg: cfgPath, l: l}
	if opts.TLS {
		// Debian's vsftpd 3.0.3 predates TLS 1.3 and breaks on TLS 1.3
		// data connections; cap it at 1.2 through OpenSSL's own
		// configuration, as an administrator would.
		ossl := filepath.Join(dir, "openssl.cnf")
		if err := os.WriteFile(ossl, []byte(opensslConf), 0o600); err != nil {
			t.Fatalf("ftptest: %v", err)
		}
		sv.env = append(os.Environ(), "OPENSSL_CONF="+ossl)
	}
	sv.wg.Add(1)
	go sv.serve(t)
	t.Cleanup(func() {
		l.Close()
		sv.stop()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "vsftpd.log")); err == nil {
				t.Logf("vsftpd log:\n%s", b)
			}
		}
	})
	return s
}

// inetd hands each accepted connection to a fresh vsftpd as its stdin and
// stdout, the way inetd would.
type inetd struct {
	cfg string
	env []string // nil: inherit
	l   net.Listener
	wg  sync.WaitGroup

	mu    sync.Mutex
	procs map[*exec.Cmd]struct{}
}

func (d *inetd) serve(t testing.TB) {
	defer d.wg.Done()
	for {
		c, err := d.l.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("ftptest: accept: %v", err)
			}
			return
		}
		f, err := c.(*net.TCPConn).File()
		c.Close()
		if err != nil {
			t.Errorf("ftptest: %v", err)
			continue
		}
		cmd := exec.Command(VSFTPD, d.cfg)
		cmd.Stdin, cmd.Stdout = f, f
		cmd.Env = d.env
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		err = cmd.Start()
		f.Close()
		if err != nil {
			t.Errorf("ftptest: start vsftpd: %v", err)
			continue
		}
		d.mu.Lock()
		if d.procs == nil {
			d.procs = map[*exec.Cmd]struct{}{}
		}
		d.procs[cmd] = struct{}{}
		d.mu.Unlock()
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			_ = cmd.Wait()
			d.mu.Lock()
			delete(d.procs, cmd)
			d.mu.Unlock()
		}()
	}
}

// stop ends the sessions still open (each vsftpd and its privileged
// parent share a process group) and waits for them.
func (d *inetd) stop() {
	d.mu.Lock()
	for cmd := range d.procs {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	d.mu.Unlock()
	d.wg.Wait()
}

// writeCerts makes a CA and a server certificate for 127.0.0.1 signed by
// it, writes cert.pem, key.pem and ca.pem into dir and returns ca.pem's path.
func writeCerts(t testing.TB, dir string) string {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("ftptest: %v", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fbs test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("ftptest: %v", err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("ftptest: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatalf("ftptest: %v", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("ftptest: %v", err)
	}
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatalf("ftptest: %v", err)
		}
		return p
	}
	write("cert.pem", "CERTIFICATE", der)
	write("key.pem", "EC PRIVATE KEY", keyDER)
	return write("ca.pem", "CERTIFICATE", caDER)
}

const opensslConf = `openssl_conf = default_conf

[default_conf]
ssl_conf = ssl_sect

[ssl_sect]
system_default = system_default_sect

[system_default_sect]
MaxProtocol = TLSv1.2
`
