// Package sentineltest starts a real Redis Sentinel deployment for tests: a
// master, one replica and three sentinels (redis-server --sentinel), each a
// process of its own on a free loopback port, with short Sentinel timeouts
// so that a failover takes a few seconds. It can kill the master with
// SIGKILL and wait until the sentinels have promoted the replica, and it
// stops everything when the test ends.
package sentineltest

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
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name the sentinels know the master by.
const MasterName = "fbsmaster"

// Timeouts the sentinels run with: a master that does not answer for
// DownAfter is subjectively down; a failover that stalls is retried after
// FailoverTimeout.
const (
	DownAfter       = time.Second
	FailoverTimeout = 3 * time.Second
)

// Cluster is a running Sentinel deployment owned by one test.
type Cluster struct {
	// URL is the redis-sentinel:// URL of database 0 through the three
	// sentinels, as fbs takes it in [redis] url.
	URL string
	// SentinelAddrs are host:port of the three sentinels.
	SentinelAddrs []string

	tb        testing.TB
	bin       string
	mu        sync.Mutex
	data      map[string]*process // by host:port: master and replica
	sentinels []*process
}

// process is one redis-server (data node or sentinel) of the cluster.
type process struct {
	addr string
	dir  string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs the master, the replica and three sentinels and waits until
// the sentinels agree on the master and know the replica. It fails the test
// if redis-server is not installed.
func Start(tb testing.TB) *Cluster {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redis-server not found: install it with \"apt-get install redis-server\" or \"dnf install redis\"")
	}
	c := &Cluster{tb: tb, bin: bin, data: map[string]*process{}}
	tb.Cleanup(c.stopAll)
	root := tb.TempDir()

	master := c.dataNode(filepath.Join(root, "master"), "")
	replica := c.dataNode(filepath.Join(root, "replica"), master.addr)
	for i := range 3 {
		s := c.sentinel(filepath.Join(root, fmt.Sprintf("sentinel%d", i)), master.addr)
		c.sentinels = append(c.sentinels, s)
		c.SentinelAddrs = append(c.SentinelAddrs, s.addr)
	}
	c.URL = "redis-sentinel://" + strings.Join(c.SentinelAddrs, ",") + "/" + MasterName + "/0"

	// Ready: every sentinel names the master and counts the replica.
	c.poll(20*time.Second, "sentinels to see the master and its replica", func(ctx context.Context) error {
		for _, addr := range c.SentinelAddrs {
			s := redis.NewSentinelClient(&redis.Options{Addr: addr})
			got, err := s.GetMasterAddrByName(ctx, MasterName).Result()
			if err == nil && len(got) == 2 && net.JoinHostPort(got[0], got[1]) != master.addr {
				err = fmt.Errorf("sentinel %s names master %v", addr, got)
			}
			var replicas []map[string]string
			if err == nil {
				replicas, err = s.Replicas(ctx, MasterName).Result()
			}
			s.Close()
			if err != nil {
				return err
			}
			if !hasReplica(replicas, replica.addr) {
				return fmt.Errorf("sentinel %s does not list replica %s yet", addr, replica.addr)
			}
		}
		return nil
	})
	return c
}

func hasReplica(replicas []map[string]string, addr string) bool {
	for _, r := range replicas {
		if net.JoinHostPort(r["ip"], r["port"]) == addr && !strings.Contains(r["flags"], "down") &&
			!strings.Contains(r["flags"], "disconnected") {
			return true
		}
	}
	return false
}

// dataNode starts a redis-server with its append-only file on, as a
// replica of master when master is not empty.
func (c *Cluster) dataNode(dir, master string) *process {
	c.tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.tb.Fatal(err)
	}
	addr := freeAddr(c.tb)
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"--bind", host, "--port", port, "--dir", dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--logfile", filepath.Join(dir, "redis.log")}
	if master != "" {
		mh, mp, _ := net.SplitHostPort(master)
		args = append(args, "--replicaof", mh, mp)
	}
	p := &process{addr: addr, dir: dir, args: args}
	c.run(p)
	c.mu.Lock()
	c.data[addr] = p
	c.mu.Unlock()
	c.waitPing(p)
	return p
}

// sentinel starts redis-server --sentinel watching master, quorum 2.
func (c *Cluster) sentinel(dir, master string) *process {
	c.tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.tb.Fatal(err)
	}
	addr := freeAddr(c.tb)
	host, port, _ := net.SplitHostPort(addr)
	mh, mp, _ := net.SplitHostPort(master)
	conf := fmt.Sprintf(`bind %s
port %s
dir %s
logfile %s
sentinel resolve-hostnames no
sentinel monitor %s %s %s 2
sentinel down-after-milliseconds %s %d
sentinel failover-timeout %s %d
sentinel parallel-syncs %s 1
`, host, port, dir, filepath.Join(dir, "sentinel.log"),
		MasterName, mh, mp,
		MasterName, DownAfter.Milliseconds(),
		MasterName, FailoverTimeout.Milliseconds(),
		MasterName)
	file := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		c.tb.Fatal(err)
	}
	p := &process{addr: addr, dir: dir, args: []string{file, "--sentinel"}}
	c.run(p)
	c.waitPing(p)
	return p
}

func (c *Cluster) run(p *process) {
	c.tb.Helper()
	p.cmd = exec.Command(c.bin, p.args...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		c.tb.Fatalf("start redis-server %v: %v", p.args, err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(p.cmd, p.done)
}

func (c *Cluster) waitPing(p *process) {
	c.tb.Helper()
	c.poll(10*time.Second, "redis-server on "+p.addr+" to answer", func(ctx context.Context) error {
		rdb := redis.NewClient(&redis.Options{Addr: p.addr})
		defer rdb.Close()
		return rdb.Ping(ctx).Err()
	})
}

// poll calls f until it returns nil, failing the test with f's last error
// and the logs after limit.
func (c *Cluster) poll(limit time.Duration, what string, f func(context.Context) error) {
	c.tb.Helper()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := f(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("waited %s for %s: %v\n%s", limit, what, err, c.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Master asks the sentinels for the current master's host:port; the first
// that answers is taken.
func (c *Cluster) Master(ctx context.Context) (string, error) {
	var errs []error
	for _, addr := range c.SentinelAddrs {
		s := redis.NewSentinelClient(&redis.Options{Addr: addr})
		got, err := s.GetMasterAddrByName(ctx, MasterName).Result()
		s.Close()
		if err == nil && len(got) == 2 {
			return net.JoinHostPort(got[0], got[1]), nil
		}
		errs = append(errs, fmt.Errorf("sentinel %s: %v", addr, err))
	}
	return "", fmt.Errorf("no sentinel names master %s: %v", MasterName, errs)
}

// Sync waits until the replica has every write the master took so far
// (WAIT 1): Redis replicates asynchronously, so writes the master took in
// the last moments before it dies may be missing on the replica that
// replaces it. Tests that check nothing is lost call it before KillMaster
// and lose only what is written in between.
func (c *Cluster) Sync() {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr, err := c.Master(ctx)
	if err != nil {
		c.tb.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	n, err := rdb.Do(ctx, "WAIT", 1, 5000).Int()
	if err != nil || n < 1 {
		c.tb.Fatalf("WAIT for the replica of %s: %d replicas, %v", addr, n, err)
	}
}

// KillMaster sends SIGKILL to the current master and waits until the
// process is gone. It returns the master's address and when it died.
func (c *Cluster) KillMaster() (string, time.Time) {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr, err := c.Master(ctx)
	if err != nil {
		c.tb.Fatal(err)
	}
	c.mu.Lock()
	p := c.data[addr]
	c.mu.Unlock()
	if p == nil || p.cmd == nil {
		c.tb.Fatalf("master %s is not a node of this cluster", addr)
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	p.cmd = nil
	return addr, time.Now()
}

// WaitFailover waits until every sentinel names a master other than old
// and that master answers as a master, and returns its address. It fails
// the test after limit.
func (c *Cluster) WaitFailover(old string, limit time.Duration) string {
	c.tb.Helper()
	var master string
	c.poll(limit, "failover away from "+old, func(ctx context.Context) error {
		var seen string
		for _, addr := range c.SentinelAddrs {
			s := redis.NewSentinelClient(&redis.Options{Addr: addr})
			got, err := s.GetMasterAddrByName(ctx, MasterName).Result()
			s.Close()
			if err != nil {
				return fmt.Errorf("sentinel %s: %w", addr, err)
			}
			now := net.JoinHostPort(got[0], got[1])
			if now == old {
				return fmt.Errorf("sentinel %s still names %s", addr, old)
			}
			if seen != "" && now != seen {
				return fmt.Errorf("sentinels disagree: %s and %s", seen, now)
			}
			seen = now
		}
		rdb := redis.NewClient(&redis.Options{Addr: seen})
		defer rdb.Close()
		info, err := rdb.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "role:master") {
			return fmt.Errorf("%s is not master yet", seen)
		}
		master = seen
		return nil
	})
	return master
}

// Restart starts a killed data node again on its address and files; the
// sentinels turn it into a replica of the current master.
func (c *Cluster) Restart(addr string) {
	c.tb.Helper()
	c.mu.Lock()
	p := c.data[addr]
	c.mu.Unlock()
	if p == nil {
		c.tb.Fatalf("%s is not a node of this cluster", addr)
	}
	if p.cmd != nil {
		c.tb.Fatalf("%s is still running", addr)
	}
	// Started as it first was; drop any --replicaof so that the sentinels,
	// not a stale argument, decide its role.
	var args []string
	for i := 0; i < len(p.args); i++ {
		if p.args[i] == "--replicaof" {
			i += 2
			continue
		}
		args = append(args, p.args[i])
	}
	p.args = args
	c.run(p)
	c.waitPing(p)
}

// Logs returns the logs of every process, for failure messages.
func (c *Cluster) Logs() string {
	var b strings.Builder
	c.mu.Lock()
	var procs []*process
	for _, p := range c.data {
		procs = append(procs, p)
	}
	c.mu.Unlock()
	procs = append(procs, c.sentinels...)
	for _, p := range procs {
		for _, name := range []string{"redis.log", "sentinel.log"} {
			if b2, err := os.ReadFile(filepath.Join(p.dir, name)); err == nil {
				fmt.Fprintf(&b, "--- %s %s\n%s", p.addr, name, lastLines(string(b2), 40))
			}
		}
	}
	return b.String()
}

func lastLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

func (c *Cluster) stopAll() {
	c.mu.Lock()
	var procs []*process
	for _, p := range c.data {
		procs = append(procs, p)
	}
	c.mu.Unlock()
	procs = append(procs, c.sentinels...)
	for _, p := range procs {
		if p.cmd != nil && p.cmd.Process != nil {
			_ = p.cmd.Process.Kill()
			<-p.done
			p.cmd = nil
		}
	}
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
}
