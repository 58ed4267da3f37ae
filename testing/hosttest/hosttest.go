// Package hosttest boots real hosts for tests: each one a Debian systemd
// (booted by systemd-nspawn from a debootstrap'd root file system, see
// Rootfs) with a real OpenSSH server, in a network namespace of its own,
// joined by veth to a bridge that makes them a network in 198.18.0.0/15
// (the benchmark range, routed nowhere). The test process reaches them
// through one more veth, whose address in the lab network is Lab.Gateway;
// hosts can reach servers the test starts on that address, and nothing
// else: they have no default route.
//
// Each host boots from an overlay over the cached tree, so a host's
// changes (a deploy's packages, files, units) vanish with it. Root logs in
// with a key the test generated; the hosts' own keys are generated per
// host and written to a known_hosts file. Start registers the cleanup:
// every machine powered off (killed if it does not stop in time), its
// overlay unmounted, the namespaces and links removed.
//
// Names of namespaces and links start with FBS_HOSTTEST_PREFIX (default
// "fbsh"), so concurrent users of one machine can tell theirs apart.
package hosttest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Host is one booted machine.
type Host struct {
	// Name is its host name, as given to Start.
	Name string
	// Addr is its address on the lab network; SSH listens on port 22.
	Addr string
	// NetNS is its network namespace (/run/netns/NetNS).
	NetNS string
	// Root is its root file system as mounted on the test machine, for a
	// test that looks at what a deploy left (read only: the host is
	// running).
	Root string
	// HostKey is its SSH host key.
	HostKey ssh.PublicKey
	// BootTime is how long it took from starting systemd-nspawn until
	// root could log in over SSH.
	BootTime time.Duration

	nspawn *exec.Cmd
	done   chan struct{} // closed when nspawn exited
	log    string
}

// Lab is a set of hosts on one network.
type Lab struct {
	// Hosts are the machines, in the order Start was given their names.
	Hosts []*Host
	// Gateway is the test process's own address on the lab network:
	// servers the hosts should reach listen there.
	Gateway string
	// Network is the lab network, e.g. 198.18.7.0/24.
	Network string
	// User is the login (root), KeyFile its private key, KnownHosts a
	// known_hosts file with every host's key under its address.
	User, KeyFile, KnownHosts string

	dir    string
	prefix string
	subnet int
}

// Host returns the host named name or fails the test.
func (l *Lab) Host(t testing.TB, name string) *Host {
	t.Helper()
	for _, h := range l.Hosts {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("hosttest: no host %q", name)
	return nil
}

// bootTimeout bounds one host's boot, SSH included.
const bootTimeout = 90 * time.Second

// Start boots one host per name (in parallel) on a new lab network and
// returns when root can log in to all of them over SSH. It skips the test
// where hosts cannot be made (not root, no debootstrap, systemd-nspawn or
// ip); it fails it when they can but do not come up, with the host's
// console output.
func Start(t testing.TB, names ...string) *Lab {
	t.Helper()
	for _, tool := range []string{"systemd-nspawn", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("hosttest: %s not installed (deploy/setup.sh installs it)", tool)
		}
	}
	root := Rootfs(t)
	prefix := os.Getenv("FBS_HOSTTEST_PREFIX")
	if prefix == "" {
		prefix = "fbsh"
	}
	l := &Lab{dir: t.TempDir(), prefix: prefix, User: "root"}
	t.Cleanup(l.close)
	if err := l.claimSubnet(); err != nil {
		t.Fatalf("hosttest: %v", err)
	}
	l.Network = fmt.Sprintf("198.18.%d.0/24", l.subnet)
	l.Gateway = fmt.Sprintf("198.18.%d.1", l.subnet)
	if err := l.makeNetwork(); err != nil {
		t.Fatalf("hosttest: %v", err)
	}
	var err error
	var signer ssh.Signer
	if l.KeyFile, signer, err = writeKey(filepath.Join(l.dir, "id_ed25519")); err != nil {
		t.Fatalf("hosttest: %v", err)
	}
	var known []string
	for i, name := range names {
		h := &Host{Name: name, Addr: fmt.Sprintf("198.18.%d.%d", l.subnet, 11+i), NetNS: l.name(name)}
		if err := l.addHost(h, i); err != nil {
			t.Fatalf("hosttest: host %s: %v", name, err)
		}
		l.Hosts = append(l.Hosts, h)
	}
	for _, h := range l.Hosts {
		if err := l.prepareHost(h, root, signer.PublicKey()); err != nil {
			t.Fatalf("hosttest: host %s: %v", h.Name, err)
		}
		known = append(known, knownhosts.Line([]string{h.Addr}, h.HostKey))
	}
	l.KnownHosts = filepath.Join(l.dir, "known_hosts")
	if err := os.WriteFile(l.KnownHosts, []byte(strings.Join(known, "\n")+"\n"), 0o600); err != nil {
		t.Fatalf("hosttest: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(l.Hosts))
	for i, h := range l.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.boot(h, signer)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			h := l.Hosts[i]
			console, _ := os.ReadFile(h.log)
			t.Fatalf("hosttest: host %s did not come up: %v\nconsole:\n%s", h.Name, err, tail(console, 6000))
		}
	}
	return l
}

// name is the name of a namespace or link of this lab.
func (l *Lab) name(suffix string) string { return fmt.Sprintf("%s%d-%s", l.prefix, l.subnet, suffix) }

// claimSubnet picks a /24 of 198.18.0.0/16 no other lab on this machine
// uses, recorded by a file under /run naming the owner's process.
func (l *Lab) claimSubnet() error {
	dir := "/run/fbs-hosttest"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("claim a lab network: %w", err)
	}
	start := int(time.Now().UnixNano()%250) + 2
	for i := range 250 {
		n := (start+i)%250 + 2
		path := filepath.Join(dir, strconv.Itoa(n))
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if errors.Is(err, fs.ErrExist) {
			if pid, _ := os.ReadFile(path); !alive(string(pid)) {
				os.Remove(path)
				f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			}
		}
		if err != nil {
			continue
		}
		fmt.Fprint(f, os.Getpid())
		f.Close()
		l.subnet = n
		return nil
	}
	return errors.New("claim a lab network: all of 198.18.2-251.0/24 are in use")
}

// alive reports whether the process with the decimal pid runs.
func alive(pid string) bool {
	n, err := strconv.Atoi(strings.TrimSpace(pid))
	if err != nil || n <= 0 {
		return false
	}
	return syscall.Kill(n, 0) == nil
}

// makeNetwork makes the lab's bridge (in a namespace of its own) and the
// veth that joins the test process to it.
func (l *Lab) makeNetwork() error {
	lab, outer := l.name("lab"), fmt.Sprintf("%s%d", l.prefix, l.subnet)
	return ipAll(
		[]string{"netns", "add", lab},
		[]string{"-n", lab, "link", "set", "lo", "up"},
		[]string{"-n", lab, "link", "add", "br0", "type", "bridge"},
		[]string{"-n", lab, "link", "set", "br0", "up"},
		[]string{"link", "add", outer, "type", "veth", "peer", "name", "up0", "netns", lab},
		[]string{"-n", lab, "link", "set", "up0", "master", "br0", "up"},
		[]string{"addr", "add", l.Gateway + "/24", "dev", outer},
		[]string{"link", "set", outer, "up"},
	)
}

// addHost makes h's namespace with eth0 on the lab bridge.
func (l *Lab) addHost(h *Host, i int) error {
	lab, port := l.name("lab"), fmt.Sprintf("h%d", i)
	return ipAll(
		[]string{"netns", "add", h.NetNS},
		[]string{"-n", h.NetNS, "link", "set", "lo", "up"},
		[]string{"-n", lab, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.NetNS},
		[]string{"-n", lab, "link", "set", port, "master", "br0", "up"},
		[]string{"-n", h.NetNS, "addr", "add", h.Addr + "/24", "dev", "eth0"},
		[]string{"-n", h.NetNS, "link", "set", "eth0", "up"},
	)
}

// ipAll runs ip with each argument list in turn, stopping at the first
// failure.
func ipAll(cmds ...[]string) error {
	for _, args := range cmds {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
	}
	return nil
}

// prepareHost mounts h's overlay and writes its identity: host name, host
// key, root's authorized key, and the names of the lab's hosts.
func (l *Lab) prepareHost(h *Host, lower string, userKey ssh.PublicKey) error {
	base := filepath.Join(l.dir, h.Name)
	upper, work := filepath.Join(base, "upper"), filepath.Join(base, "work")
	h.Root = filepath.Join(base, "root")
	for _, d := range []string{upper, work, h.Root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	if err := syscall.Mount("overlay", h.Root, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount the overlay on %s: %w", h.Root, err)
	}
	_, signer, err := writeKey(filepath.Join(h.Root, "etc/ssh/ssh_host_ed25519_key"))
	if err != nil {
		return err
	}
	h.HostKey = signer.PublicKey()
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1 localhost\n::1 localhost\n")
	for _, o := range l.Hosts {
		fmt.Fprintf(&hosts, "%s %s\n", o.Addr, o.Name)
	}
	files := []struct {
		path string
		mode os.FileMode
		data []byte
	}{
		{"etc/hostname", 0o644, []byte(h.Name + "\n")},
		{"etc/hosts", 0o644, []byte(hosts.String())},
		{"etc/ssh/ssh_host_ed25519_key.pub", 0o644, ssh.MarshalAuthorizedKey(h.HostKey)},
		{"etc/ssh/sshd_config.d/hosttest.conf", 0o644, []byte("HostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin prohibit-password\nUseDNS no\n")},
		{"root/.ssh/authorized_keys", 0o600, ssh.MarshalAuthorizedKey(userKey)},
	}
	for _, f := range files {
		p := filepath.Join(h.Root, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	return nil
}

// writeKey generates an ed25519 key, writes it (OpenSSH format, mode
// 0600) to path and returns the path and a signer for it.
func writeKey(path string) (string, ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, fmt.Errorf("generate a key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "fbs hosttest")
	if err != nil {
		return "", nil, fmt.Errorf("encode a key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", nil, fmt.Errorf("write a key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return "", nil, err
	}
	return path, signer, nil
}

// boot starts systemd-nspawn for h and waits until root can log in.
func (l *Lab) boot(h *Host, signer ssh.Signer) error {
	h.log = filepath.Join(l.dir, h.Name+".console")
	console, err := os.Create(h.log)
	if err != nil {
		return err
	}
	defer console.Close()
	start := time.Now()
	h.nspawn = exec.Command("systemd-nspawn", "-q", "-D", h.Root, "-M", l.name(h.Name),
		"--register=no", "--keep-unit", "-b", "--console=passive",
		"--network-namespace-path=/run/netns/"+h.NetNS)
	h.nspawn.Stdout, h.nspawn.Stderr = console, console
	// Its own process group, so that a ^C to the test reaches it through
	// the cleanup's orderly power-off only.
	h.nspawn.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := h.nspawn.Start(); err != nil {
		return fmt.Errorf("start systemd-nspawn: %w", err)
	}
	h.done = make(chan struct{})
	go func() {
		h.nspawn.Wait()
		close(h.done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), bootTimeout)
	defer cancel()
	cfg := &ssh.ClientConfig{User: l.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(h.HostKey), Timeout: 2 * time.Second}
	addr := net.JoinHostPort(h.Addr, "22")
	for {
		c, err := ssh.Dial("tcp", addr, cfg)
		if err == nil {
			c.Close()
			h.BootTime = time.Since(start)
			return nil
		}
		select {
		case <-h.done:
			return fmt.Errorf("systemd-nspawn exited: %v", h.nspawn.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("no SSH login within %s: %w", bootTimeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// powerOff stops h: SIGTERM makes systemd-nspawn ask the host's systemd
// for an orderly power-off; a host that has not stopped after 30 s is
// killed.
func (h *Host) powerOff() {
	if h.nspawn == nil || h.nspawn.Process == nil {
		return
	}
	h.nspawn.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(30 * time.Second):
		syscall.Kill(-h.nspawn.Process.Pid, syscall.SIGKILL)
		<-h.done
	}
}

// close powers every host off and removes what Start made.
func (l *Lab) close() {
	var wg sync.WaitGroup
	for _, h := range l.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.powerOff()
		}()
	}
	wg.Wait()
	for _, h := range l.Hosts {
		// Kill whatever still runs in the namespace (nothing, after an
		// orderly power-off), then unmount the overlay.
		if out, err := exec.Command("ip", "netns", "pids", h.NetNS).Output(); err == nil {
			for _, p := range strings.Fields(string(out)) {
				if n, err := strconv.Atoi(p); err == nil {
					syscall.Kill(n, syscall.SIGKILL)
				}
			}
		}
		if h.Root != "" {
			syscall.Unmount(h.Root, syscall.MNT_DETACH)
		}
		exec.Command("ip", "netns", "del", h.NetNS).Run()
	}
	if l.subnet != 0 {
		exec.Command("ip", "link", "del", fmt.Sprintf("%s%d", l.prefix, l.subnet)).Run()
		exec.Command("ip", "netns", "del", l.name("lab")).Run()
		os.Remove(filepath.Join("/run/fbs-hosttest", strconv.Itoa(l.subnet)))
	}
}

// SSH opens an SSH client to h as root, closed when the test ends.
func (l *Lab) SSH(t testing.TB, h *Host) *ssh.Client {
	t.Helper()
	key, err := os.ReadFile(l.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", net.JoinHostPort(h.Addr, "22"), &ssh.ClientConfig{User: l.User,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.FixedHostKey(h.HostKey), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("hosttest: ssh to %s: %v", h.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Run runs cmd on h as root and returns its output, failing the test if
// it fails.
func (l *Lab) Run(t testing.TB, h *Host, cmd string) string {
	t.Helper()
	s, err := l.SSH(t, h).NewSession()
	if err != nil {
		t.Fatalf("hosttest: session on %s: %v", h.Name, err)
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	if err != nil {
		t.Fatalf("hosttest: %s on %s: %v\n%s", cmd, h.Name, err, out)
	}
	return string(out)
}
