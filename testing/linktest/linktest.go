// Package linktest puts a test server behind a rate-limited network link
// instead of loopback, for benchmarks that must see what a real network
// does to throughput: it creates a network namespace joined to the host by
// a veth pair whose both ends are shaped with a token bucket (tc tbf), and
// opens a listening socket inside the namespace. The test process stays in
// its own namespace; only the socket lives on the far side, so clients in
// the test (and tools it runs, such as curl) reach the server across the
// shaped link. It needs root (CAP_NET_ADMIN) and the ip and tc commands.
//
// netem would also add delay, but kernels without sch_netem are common in
// sandboxes; tbf is in every kernel that has traffic control at all.
package linktest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Link is a shaped link to a network namespace.
type Link struct {
	// Namespace is the name of the network namespace (ip netns).
	Namespace string
	// HostAddr and PeerAddr are the addresses of the host's end and of the
	// namespace's end of the veth pair.
	HostAddr, PeerAddr string
	// Commands are the ip and tc command lines that made the link, in
	// order, for the record.
	Commands []string
}

// New creates a link shaped to rate (a tc rate such as "1gbit") in both
// directions and removes it when the test ends. It skips the test when not
// run as root or when ip or tc are missing.
func New(tb testing.TB, rate string) *Link {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("linktest: a shaped link needs root")
	}
	for _, tool := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("linktest: %s not installed (Debian package iproute2)", tool)
		}
	}
	// Names and addresses (a /28 in 10.231.0.0/16) unique to this process,
	// so parallel runs do not meet.
	n := os.Getpid() % 4096
	prefix := fmt.Sprintf("10.231.%d.", n/16)
	l := &Link{
		Namespace: fmt.Sprintf("fbs-link-%d", os.Getpid()),
		HostAddr:  prefix + fmt.Sprint(n%16*16+1),
		PeerAddr:  prefix + fmt.Sprint(n%16*16+2),
	}
	host, peer := fmt.Sprintf("fbsl%da", n), fmt.Sprintf("fbsl%db", n)
	// A bucket of 256 KB holds a few GSO segments; 50 ms of queue is
	// enough for a few TCP windows at 1 Gbit/s.
	tbf := "tbf rate " + rate + " burst 256kb latency 50ms"
	steps := []string{
		"ip netns add " + l.Namespace,
		"ip link add " + host + " type veth peer name " + peer,
		"ip link set " + peer + " netns " + l.Namespace,
		"ip addr add " + l.HostAddr + "/28 dev " + host,
		"ip link set " + host + " up",
		"ip -n " + l.Namespace + " addr add " + l.PeerAddr + "/28 dev " + peer,
		"ip -n " + l.Namespace + " link set " + peer + " up",
		"ip -n " + l.Namespace + " link set lo up",
		"tc qdisc add dev " + host + " root " + tbf,
		"tc -n " + l.Namespace + " qdisc add dev " + peer + " root " + tbf,
	}
	tb.Cleanup(func() {
		// Deleting the namespace deletes the veth pair with it.
		if out, err := exec.Command("ip", "netns", "del", l.Namespace).CombinedOutput(); err != nil {
			tb.Logf("linktest: remove namespace %s: %v: %s", l.Namespace, err, out)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, s := range steps {
		f := strings.Fields(s)
		if out, err := exec.CommandContext(ctx, f[0], f[1:]...).CombinedOutput(); err != nil {
			tb.Skipf("linktest: %s: %v: %s", s, err, out)
		}
		l.Commands = append(l.Commands, s)
	}
	return l
}

// Listen opens a TCP listener on the namespace's end of the link, on a free
// port, and closes it when the test ends. Connections to its address cross
// the shaped link.
func (l *Link) Listen(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := listenIn(l.Namespace, net.JoinHostPort(l.PeerAddr, "0"))
	if err != nil {
		tb.Fatalf("linktest: %v", err)
	}
	tb.Cleanup(func() { ln.Close() })
	return ln
}

// listenIn opens a listener in network namespace ns: a socket belongs to the
// namespace of the thread that created it, for good, so one locked thread
// enters ns, listens and comes back.
func listenIn(ns, addr string) (net.Listener, error) {
	type result struct {
		l   net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		back, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{nil, fmt.Errorf("open own network namespace: %w", err)}
			return
		}
		defer back.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{nil, fmt.Errorf("open network namespace %s: %w", ns, err)}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{nil, fmt.Errorf("enter network namespace %s: %w", ns, err)}
			return
		}
		ln, lerr := net.Listen("tcp", addr)
		if err := unix.Setns(int(back.Fd()), unix.CLONE_NEWNET); err != nil {
			// The thread stays locked and ends with this goroutine, so no
			// other goroutine ever runs in the wrong namespace.
			if ln != nil {
				ln.Close()
			}
			done <- result{nil, fmt.Errorf("leave network namespace %s: %w", ns, err)}
			return
		}
		runtime.UnlockOSThread()
		if lerr != nil {
			lerr = fmt.Errorf("listen on %s in network namespace %s: %w", addr, ns, lerr)
		}
		done <- result{ln, lerr}
	}()
	r := <-done
	return r.l, r.err
}
