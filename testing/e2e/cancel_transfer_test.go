package e2e

import (
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/sshtest"
)

// slowLink is a TCP proxy on loopback in front of a staging server: it
// refuses connections until opened, then carries uploads at about 40 KB/s
// (at full speed once made fast), so a transfer takes minutes. It counts
// the bytes carried upstream and notices when the client side closes.
type slowLink struct {
	ln       net.Listener
	backend  string
	open     atomic.Bool
	fast     atomic.Bool // carry at full speed
	carried  atomic.Int64
	mu       sync.Mutex
	closedAt time.Time // when the client side of the last connection closed
}

func newSlowLink(t *testing.T, backend string) *slowLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &slowLink{ln: ln, backend: backend}
	t.Cleanup(func() { ln.Close() })
	go l.serve()
	return l
}

func (l *slowLink) port() string {
	_, p, _ := net.SplitHostPort(l.ln.Addr().String())
	return p
}

func (l *slowLink) serve() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		if !l.open.Load() {
			c.Close()
			continue
		}
		go l.relay(c)
	}
}

func (l *slowLink) relay(c net.Conn) {
	defer c.Close()
	b, err := net.Dial("tcp", l.backend)
	if err != nil {
		return
	}
	defer b.Close()
	go func() { _, _ = io.Copy(c, b) }()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := b.Write(buf[:n]); werr != nil {
				break
			}
			l.carried.Add(int64(n))
			if !l.fast.Load() {
				time.Sleep(100 * time.Millisecond)
			}
		}
		if err != nil {
			break
		}
	}
	l.mu.Lock()
	l.closedAt = time.Now()
	l.mu.Unlock()
}

func (l *slowLink) closed() (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closedAt, !l.closedAt.IsZero()
}

// TestCancelStopsTransfer cancels builds while their images go slowly to
// an SFTP server: during the build's own transfer, and during a transfer
// retry (the first transfer failed, the build waited, its retry runs).
// Each time the worker drops the connection at once and the build ends
// cancelled.
func TestCancelStopsTransfer(t *testing.T) {
	t.Parallel()
	for _, retry := range []bool{false, true} {
		name := "first transfer"
		if retry {
			name = "transfer retry"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			srv := sshtest.Start(t, sshtest.Options{})
			link := newSlowLink(t, srv.Addr())
			link.open.Store(!retry)
			e.stagingConf = "ssh_key = " + srv.KeyFile + "\nhost_keys = 127.0.0.1:" + link.port() + "=" + srv.Fingerprint() +
				"\nretry_backoff = 1s\nretry_for = 5m"
			e.worker("host1")
			cfg := e.config("client", "")
			url := strings.Replace(srv.URL(srv.Dir+"/images"), ":"+strconv.Itoa(srv.Port)+"/", ":"+link.port()+"/", 1)
			out, errs, code := e.run("submit", "--config", cfg, e.specTo("c.conf", "x86_64", "boot.iso", url))
			if code != 0 {
				t.Fatalf("submit: %s", errs)
			}
			id := strings.TrimSpace(out)
			if retry {
				e.waitFor(60*time.Second, "the build to wait for a transfer retry", func() bool { return e.status(cfg, id).Waiting != "" })
				link.open.Store(true)
			}
			e.waitFor(90*time.Second, "the transfer to be under way", func() bool {
				b := e.status(cfg, id)
				return link.carried.Load() > 64<<10 && b.Waiting == "" && b.Stage == tasks.StageTransfer
			})
			if _, errs, code := e.run("cancel", "--config", cfg, id); code != 0 {
				t.Fatalf("cancel: %s", errs)
			}
			cancelled := time.Now()
			e.waitFor(10*time.Second, "the worker to drop the staging connection", func() bool {
				_, ok := link.closed()
				return ok
			})
			at, _ := link.closed()
			if d := at.Sub(cancelled); d > 5*time.Second {
				t.Errorf("the connection was dropped %s after the cancel", d)
			}
			b := e.waitState(cfg, id, tasks.StateCancelled, 30*time.Second)
			if b.Waiting != "" {
				t.Errorf("cancelled build still waits: %q", b.Waiting)
			}
		})
	}
}
