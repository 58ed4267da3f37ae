package chaos

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/testing/isotest"
	"github.com/fedora-fbs/fbs/testing/proctest"
	"github.com/fedora-fbs/fbs/testing/proxytest"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/testing/smtptest"
	"github.com/fedora-fbs/fbs/testing/sshtest"
)

const volID = "Fedora-E-dvd-x86_64-41"

// world is the soak's set of servers and fbs processes.
type world struct {
	t   *testing.T
	dir string
	set settings

	redis *redistest.Server
	mail  *smtptest.Server
	sshd  *sshtest.Server
	// net is the namespace of the worker behind the lossy link.
	net *netns
	// redisLink is the delaying proxy between that worker and Redis.
	redisLink *proxytest.Proxy
	// sftp is the proxy every worker reaches the SFTP server through, so
	// that it can be "down" and its connections cut mid-file.
	sftp *proxytest.Proxy

	staging    string // the directory sshd serves as staging
	stagingURL string
	isoDir     string
	runs       string // the fake build tool's record of its runs
	tool       string // the fake build tool (used as xorriso)

	webAddr, monAddr string
	front            string // the configuration of web and monitor
	web              *proctest.Proc
	workers          []*slot

	monMu sync.Mutex
	mon   *proctest.Proc
}

// monitor is the fbs monitor process running now.
func (w *world) monitor() *proctest.Proc {
	w.monMu.Lock()
	defer w.monMu.Unlock()
	return w.mon
}

// startMonitor starts fbs monitor and waits until it serves.
func (w *world) startMonitor() error {
	p, err := w.start("monitor", nil, "monitor", "--config", w.front, "--listen", w.monAddr)
	if err != nil {
		return err
	}
	w.monMu.Lock()
	w.mon = p
	w.monMu.Unlock()
	return p.WaitOutput("fbs monitor: serving", startTimeout)
}

// slot is one worker "machine": its name, configuration and data
// directory, and the fbs worker process running there now.
type slot struct {
	name    string
	cfg     string
	dataDir string
	inNS    bool // runs in world.net
	mu      sync.Mutex
	p       *proctest.Proc
}

func (s *slot) proc() *proctest.Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p
}

func newWorld(t *testing.T, set settings) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir(), set: set}
	w.redis = redistest.StartWith(t, redistest.Options{AppendOnly: true})
	w.mail = smtptest.Start(t, smtptest.Options{})
	// An SFTP-only account: the workers verify what they staged by
	// reading it back. A shell command a file would start root's login
	// shell for each, 15 to 40 s on a loaded machine whose ~/.bashrc runs
	// pyenv init.
	w.sshd = sshtest.Start(t, sshtest.Options{NoExec: true})
	w.net = newNetns(t)
	w.redisLink = proxytest.Start(t, net.JoinHostPort(w.net.hostIP, "0"), w.redis.Addr)
	w.sftp = proxytest.Start(t, net.JoinHostPort(w.net.hostIP, "0"), w.sshd.Addr())
	w.net.lossTo(w.redisLink.Addr)

	w.staging = filepath.Join(w.dir, "staging")
	w.isoDir = filepath.Join(w.dir, "isos")
	for _, d := range []string{w.staging, w.isoDir, filepath.Join(w.dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(isotest.BootISO(t, volID), filepath.Join(w.isoDir, "boot.iso")); err != nil {
		t.Fatal(err)
	}
	w.stagingURL = "sftp://" + w.sshd.User + "@" + w.sftp.Addr + w.staging
	w.runs = filepath.Join(w.dir, "tool-runs")
	w.tool = writeTool(t, w.dir, w.runs, set.toolSecs, set.lines)

	w.webAddr, w.monAddr = freeAddr(t), freeAddr(t)
	w.front = w.config("front", w.redis.URL, filepath.Join(w.dir, "front", "data"))
	web, err := w.start("web", nil, "web", "--config", w.front, "--listen", w.webAddr)
	if err == nil {
		w.web = web
		err = web.WaitOutput("fbs web: serving", startTimeout)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := w.startMonitor(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= set.workers; i++ {
		s := &slot{name: fmt.Sprintf("chaos-w%d", i)}
		s.dataDir = filepath.Join(w.dir, s.name, "data")
		if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
			t.Fatal(err)
		}
		redisURL := w.redis.URL
		switch i {
		case 2:
			// Its data directory is a small filesystem of its own, which
			// the disk-full fault fills.
			mountTmpfs(t, s.dataDir, "64m")
		case 3:
			s.inNS = true
			redisURL = "redis://" + w.redisLink.Addr + "/0"
		}
		s.cfg = w.config(s.name, redisURL, s.dataDir)
		w.workers = append(w.workers, s)
		if err := w.startWorker(s); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// config writes the configuration of one process and returns its path.
func (w *world) config(name, redisURL, dataDir string) string {
	w.t.Helper()
	path := filepath.Join(w.dir, name, "fbs.conf")
	text := fmt.Sprintf(`[redis]
url = %s
[worker]
releases = 41
concurrency = %d
data_dir = %s
iso_dir = %s
drain_timeout = 3s
build_timeout = 10m
poll_interval = 100ms
lease_ttl = 5s
reap_interval = 1s
# chaos-w2's data dir is a 64 MiB tmpfs (the disk-full fault): the
# default of 2GiB would keep it paused for want of space all along.
min_free = 8MiB
[staging]
ssh_key = %s
host_keys = %s
retry_backoff = 1s
retry_backoff_max = %s
retry_for = 30m
[smtp]
host = %s
port = %d
tls = none
from = fbs@example.org
retry_backoff = 1s
[security]
allow_networks = 127.0.0.1/32, 198.18.0.0/15
[tools]
xorriso = %s
`, redisURL, w.set.concurrency, dataDir, w.isoDir, w.sshd.KeyFile, w.sftp.Addr+"="+w.sshd.Fingerprint(), w.set.transferBackoffMax, w.mail.Host, w.mail.Port, w.tool)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		w.t.Fatal(err)
	}
	return path
}

// start runs fbs args (behind the prefix command, if any) in its own
// process group (testing/proctest), output to a file in the logs
// directory, which the soak keeps when it fails; it is killed at cleanup.
func (w *world) start(name string, prefix []string, args ...string) (*proctest.Proc, error) {
	argv := append(append(append([]string{}, prefix...), fbsBin), args...)
	return proctest.Start(w.t, proctest.Options{Name: name, OutputDir: filepath.Join(w.dir, "logs"), Quiet: true}, argv[0], argv[1:]...)
}

// startWorker starts s's worker under its own host name (a UTS namespace
// of its own: the transfer queue and the records name the host) and waits
// until it serves.
func (w *world) startWorker(s *slot) error {
	var prefix []string
	if s.inNS {
		prefix = []string{"ip", "netns", "exec", w.net.name}
	}
	prefix = append(prefix, "unshare", "--uts", "sh", "-c", `hostname "$0" && exec "$@"`, s.name)
	p, err := w.start(s.name, prefix, "worker", "--config", s.cfg)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.p = p
	s.mu.Unlock()
	return p.WaitOutput("serving", startTimeout)
}

// startTimeout is how long a process may take to say it serves.
const startTimeout = 60 * time.Second

// netns is a network namespace joined to this one by a veth pair, with
// an nftables table for loss.
type netns struct {
	t      testing.TB
	name   string
	hostIP string
	nsIP   string
	target string // the host:port loss applies to
}

func newNetns(t testing.TB) *netns {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("chaos: nft not installed (Debian package nftables)")
	}
	id := os.Getpid() % 10000
	n := &netns{t: t, name: fmt.Sprintf("chaos-%d", os.Getpid())}
	sub := strconv.Itoa(os.Getpid() % 250)
	n.hostIP, n.nsIP = "198.19."+sub+".1", "198.19."+sub+".2"
	host, peer := fmt.Sprintf("chaosh%d", id), fmt.Sprintf("chaosn%d", id)
	n.run("ip", "netns", "add", n.name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n.name).Run() })
	n.run("ip", "link", "add", host, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", host).Run() })
	n.run("ip", "link", "set", peer, "netns", n.name)
	n.run("ip", "addr", "add", n.hostIP+"/30", "dev", host)
	n.run("ip", "link", "set", host, "up")
	n.run("ip", "-n", n.name, "addr", "add", n.nsIP+"/30", "dev", peer)
	n.run("ip", "-n", n.name, "link", "set", peer, "up")
	n.run("ip", "-n", n.name, "link", "set", "lo", "up")
	n.run("ip", "-n", n.name, "route", "add", "default", "via", n.hostIP)
	n.run("ip", "netns", "exec", n.name, "nft", "add", "table", "inet", "chaos")
	n.run("ip", "netns", "exec", n.name, "nft", "add chain inet chaos out { type filter hook output priority 0 ; policy accept ; }")
	n.run("ip", "netns", "exec", n.name, "nft", "add chain inet chaos in { type filter hook input priority 0 ; policy accept ; }")
	return n
}

// lossTo sets the host:port that SetLoss drops packets to and from.
func (n *netns) lossTo(addr string) { n.target = addr }

// setLoss drops pct percent of the packets between the namespace and the
// target, both ways (0: none), with nftables' numgen: the kernel has no
// netem.
func (n *netns) setLoss(pct int) {
	n.run("ip", "netns", "exec", n.name, "nft", "flush", "chain", "inet", "chaos", "out")
	n.run("ip", "netns", "exec", n.name, "nft", "flush", "chain", "inet", "chaos", "in")
	if pct == 0 {
		return
	}
	host, port, _ := net.SplitHostPort(n.target)
	n.run("ip", "netns", "exec", n.name, "nft", fmt.Sprintf("add rule inet chaos out ip daddr %s tcp dport %s numgen random mod 100 < %d drop", host, port, pct))
	n.run("ip", "netns", "exec", n.name, "nft", fmt.Sprintf("add rule inet chaos in ip saddr %s tcp sport %s numgen random mod 100 < %d drop", host, port, pct))
}

func (n *netns) run(argv ...string) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
		n.t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
}

// mountTmpfs mounts a tmpfs of size on dir until the test ends.
func mountTmpfs(t testing.TB, dir, size string) {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "chaos", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v: %s", dir, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
