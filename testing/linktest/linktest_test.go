package linktest_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/testing/linktest"
)

// TestShaped sends 2.5 MB across a link shaped to 50 Mbit/s: it must take
// about 0.4 s (loopback takes milliseconds) and arrive intact.
func TestShaped(t *testing.T) {
	t.Parallel()
	link := linktest.New(t, "50mbit")
	ln := link.Listen(t)
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); host != link.PeerAddr {
		t.Fatalf("listener on %s, want the namespace's end %s", ln.Addr(), link.PeerAddr)
	}
	const size = 2_500_000
	payload := bytes.Repeat([]byte("fbs-link"), size/8)
	sent := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		_, err = c.Write(payload)
		sent <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t0 := time.Now()
	got, err := io.ReadAll(c)
	elapsed := time.Since(t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("send: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("received %d bytes, not the %d sent", len(got), len(payload))
	}
	// At least 0.3 s (67 Mbit/s) leaves room for the token bucket's first
	// burst; loopback takes milliseconds.
	if least := 300 * time.Millisecond; elapsed < least {
		t.Errorf("2.5 MB took %v across a 50 Mbit/s link, want at least %v", elapsed, least)
	}
	t.Logf("2.5 MB in %v (%.0f Mbit/s) across %s", elapsed, size*8/elapsed.Seconds()/1e6, link.Namespace)
}
