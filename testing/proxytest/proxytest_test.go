package proxytest

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echo runs a line echo server on loopback and returns its address.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn) error {
	t.Helper()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err == nil && line != "ping\n" {
		t.Fatalf("echo gave %q", line)
	}
	return err
}

func TestProxyFaults(t *testing.T) {
	t.Parallel()
	p := Start(t, "127.0.0.1:0", echo(t))
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(t, c); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}

	p.SetDelay(150 * time.Millisecond)
	t0 := time.Now()
	if err := roundTrip(t, c); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took < 300*time.Millisecond {
		t.Errorf("round trip with 150 ms each way took %s", took)
	}
	p.SetDelay(0)

	if n := p.Cut(); n != 2 {
		t.Errorf("Cut closed %d connections, want 2 (both ends of one)", n)
	}
	if err := roundTrip(t, c); err == nil {
		t.Error("a cut connection still works")
	}

	p.SetDown(true)
	d, err := net.Dial("tcp", p.Addr)
	if err == nil {
		err = roundTrip(t, d)
		d.Close()
	}
	if err == nil {
		t.Error("a connection to a proxy that is down works")
	}
	p.SetDown(false)
	d, err = net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := roundTrip(t, d); err != nil {
		t.Errorf("after SetDown(false): %v", err)
	}
	if p.Cuts() != 2 {
		t.Errorf("Cuts = %d, want 2", p.Cuts())
	}
}
