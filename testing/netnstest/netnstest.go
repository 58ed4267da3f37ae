// Package netnstest runs a test inside a network namespace that has only a
// loopback interface, so that a test of fbs refusing an address can never
// reach another host if the refusal regresses: there is no route anywhere
// but 127.0.0.0/8 and ::1.
//
// A test calls Isolate first. In the test process, Isolate creates a fresh
// namespace (ip netns add), brings its loopback up, runs this same test
// binary inside it (ip netns exec NS <test binary> -test.run ^Name$) with
// an environment flag, reports that run's output and result as the test's,
// removes the namespace and returns false: the caller returns at once. In
// the re-executed binary, Isolate checks that only loopback is there and
// returns true: the caller goes on with the real test. It needs root
// (CAP_SYS_ADMIN, CAP_NET_ADMIN) and the ip command; without them the test
// is skipped, never run outside a namespace.
package netnstest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// LoopbackName is a host name that resolves to 127.0.0.1 inside the
// namespace (through the namespace's own /etc/hosts, which ip netns exec
// mounts from /etc/netns/NS/hosts): a name that is not loopback until it
// is resolved, as a DNS rebinding attack makes one.
const LoopbackName = "rebound.fbs.test"

// envInside names the test the re-executed binary runs inside a namespace.
const envInside = "FBS_NETNSTEST_INSIDE"

var seq atomic.Int64

// Isolate runs the calling test in a loopback-only network namespace; see
// the package doc. It returns true when the caller is inside the namespace
// and should run the test, false when the run is over (its result already
// reported).
func Isolate(t *testing.T) bool {
	t.Helper()
	if os.Getenv(envInside) == t.Name() {
		checkLoopbackOnly(t)
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("netnstest: a network namespace needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("netnstest: ip not installed (Debian package iproute2)")
	}
	ns := fmt.Sprintf("fbs-netns-%d-%d", os.Getpid(), seq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("netnstest: ip netns add %s: %v: %s", ns, err, out)
	}
	defer func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("netnstest: ip netns del %s: %v: %s", ns, err, out)
		}
	}()
	etc := filepath.Join("/etc/netns", ns)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatalf("netnstest: %v", err)
	}
	defer os.RemoveAll(etc)
	hosts := "127.0.0.1 localhost " + LoopbackName + "\n::1 localhost\n"
	if err := os.WriteFile(filepath.Join(etc, "hosts"), []byte(hosts), 0o644); err != nil {
		t.Fatalf("netnstest: %v", err)
	}
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("netnstest: bring lo up in %s: %v: %s", ns, err, out)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("netnstest: find the test binary: %v", err)
	}
	args := []string{"netns", "exec", ns, exe, "-test.run", runPattern(t.Name()), "-test.count=1", "-test.v"}
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(), envInside+"="+t.Name())
	out, err := cmd.CombinedOutput()
	t.Logf("inside network namespace %s (loopback only):\n%s", ns, out)
	if err != nil {
		t.Fatalf("netnstest: the test failed inside the namespace: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) && !strings.Contains(string(out), "--- SKIP: "+t.Name()) {
		t.Fatalf("netnstest: the test did not run inside the namespace")
	}
	return false
}

// runPattern is the -test.run pattern that matches name exactly, subtest
// by subtest.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// checkLoopbackOnly fails the test unless every interface is loopback.
func checkLoopbackOnly(t *testing.T) {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatalf("netnstest: list interfaces: %v", err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			t.Fatalf("netnstest: interface %s is not loopback: not in an isolated namespace", i.Name)
		}
	}
}

// Canary is a loopback TCP listener that counts the connections it gets:
// a test points refused URLs at it to show that the policy, not the
// network, refused them, and allowed ones to show they get through.
type Canary struct {
	// Addr is its address, 127.0.0.1:port.
	Addr string
	// Port is its port, for URLs that name another host.
	Port string
	hits atomic.Int64
}

// NewCanary starts a canary until the test ends. It answers nothing and
// closes every connection.
func NewCanary(t testing.TB) *Canary {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("netnstest: canary: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	c := &Canary{Addr: ln.Addr().String()}
	_, c.Port, _ = net.SplitHostPort(c.Addr)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.hits.Add(1)
			conn.Close()
		}
	}()
	return c
}

// Hits is how many connections the canary got so far.
func (c *Canary) Hits() int64 { return c.hits.Load() }

// Reached waits up to d for the canary to have had a connection, for a
// test that expects one: the count lags the client's connect.
func (c *Canary) Reached(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for c.Hits() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return c.Hits() > 0
}
