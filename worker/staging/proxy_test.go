package staging

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// cutProxy forwards TCP connections on loopback to a target and, on the
// first connection that sends more than cutAfter bytes towards the target,
// drops both sides right there, as a failing link would.
type cutProxy struct {
	l        net.Listener
	target   string
	cutAfter int64 // 0: never cut

	cut  atomic.Bool  // the one cut has happened
	sent atomic.Int64 // client-to-target bytes over all connections
	wg   sync.WaitGroup
	done chan struct{} // closed when the cut happened
}

func startProxy(t testing.TB, target string, cutAfter int64) *cutProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, target: target, cutAfter: cutAfter, done: make(chan struct{})}
	p.wg.Add(1)
	go p.serve(t)
	t.Cleanup(func() {
		l.Close()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) addr() string { return p.l.Addr().String() }

func (p *cutProxy) serve(t testing.TB) {
	defer p.wg.Done()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := p.l.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("proxy accept: %v", err)
			}
			return
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			p.pipe(t, c)
		}()
	}
}

func (p *cutProxy) pipe(t testing.TB, c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		t.Errorf("proxy dial %s: %v", p.target, err)
		return
	}
	defer up.Close()
	back := make(chan struct{})
	go func() {
		defer close(back)
		io.Copy(c, up)
		c.Close()
	}()
	cutting := p.cutAfter > 0 && !p.cut.Load()
	if cutting {
		n, err := io.CopyN(up, c, p.cutAfter)
		p.sent.Add(n)
		if err == nil && p.cut.CompareAndSwap(false, true) {
			// Abort, not close: a reset is what a dead link looks like
			// to the next write.
			up.(*net.TCPConn).SetLinger(0)
			c.(*net.TCPConn).SetLinger(0)
			up.Close()
			c.Close()
			close(p.done)
			<-back
			return
		}
	}
	n, _ := io.Copy(up, c)
	p.sent.Add(n)
	up.Close()
	<-back
}
