package httpserve

import (
	"net"
	"net/netip"
	"sync"
)

// perAddress is a listener that admits at most max open connections per
// client address and closes the others as soon as they are accepted.
type perAddress struct {
	net.Listener
	max int

	mu   sync.Mutex
	open map[netip.Prefix]int
}

// limitPerAddress wraps ln so that one client address holds at most max
// connections at a time.
func limitPerAddress(ln net.Listener, max int) net.Listener {
	return &perAddress{Listener: ln, max: max, open: map[netip.Prefix]int{}}
}

// Accept returns the next connection whose client is under its limit.
func (l *perAddress) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := clientKey(c.RemoteAddr())
		l.mu.Lock()
		if l.open[key] >= l.max {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.open[key]++
		l.mu.Unlock()
		return &countedConn{Conn: c, release: func() { l.release(key) }}, nil
	}
}

func (l *perAddress) release(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

// clientKey is what the limit counts by: the client's IPv4 address, or the
// /64 of its IPv6 address, which one host usually owns whole. Addresses
// that are not IP (unix sockets) share one key.
func clientKey(a net.Addr) netip.Prefix {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Prefix{}
	}
	ip := ap.Addr().Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// countedConn gives its slot back when closed, once.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
