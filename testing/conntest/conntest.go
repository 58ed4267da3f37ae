// Package conntest drives raw TCP connections the way hostile HTTP clients
// do, for tests of what a listener lets a client hold: bodies sent a byte at
// a time or never, connections kept open. It dials only the addresses a
// test gives it, which are loopback.
package conntest

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// Dial opens a connection to addr, closed when the test ends.
func Dial(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// UntilClosed reads c until the server closes it and returns what was read
// and how long that took; the test fails if c is still open after limit.
func UntilClosed(tb testing.TB, c net.Conn, limit time.Duration) (string, time.Duration) {
	tb.Helper()
	t0 := time.Now()
	c.SetReadDeadline(t0.Add(limit))
	data, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		tb.Fatalf("connection still open after %s; read %q", limit, data)
	}
	return string(data), time.Since(t0)
}

// Trickle writes body to c one byte every gap, in the background, until it
// is all sent, writing fails or the test ends.
func Trickle(tb testing.TB, c net.Conn, body string, gap time.Duration) {
	tb.Helper()
	stop, done := make(chan struct{}), make(chan struct{})
	tb.Cleanup(func() {
		close(stop)
		<-done
	})
	go func() {
		defer close(done)
		for i := range len(body) {
			select {
			case <-stop:
				return
			case <-time.After(gap):
			}
			if _, err := c.Write([]byte{body[i]}); err != nil {
				return
			}
		}
	}()
}
