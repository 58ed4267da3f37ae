package httpserve

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/testing/conntest"
)

// start serves h with cfg on a loopback port until the test ends and
// returns the address.
func start(t *testing.T, h http.Handler, cfg Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// readBody answers with the size of the body it read, or the read error.
var readBody = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	n, err := io.Copy(io.Discard, r.Body)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "read %d bytes\n", n)
})

// refuse answers 401 without reading the body, as a handler does for a
// caller that is not signed in.
var refuse = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "sign in first", http.StatusUnauthorized)
})

// TestTricklingBodyIsCut sends a body one byte every 100 ms: the server
// stops reading it at the body deadline and closes the connection, while a
// body sent in time is read whole on the same kind of connection.
func TestTricklingBodyIsCut(t *testing.T) {
	t.Parallel()
	addr := start(t, readBody, Config{BodyTimeout: time.Second})
	c := conntest.Dial(t, addr)
	body := strings.Repeat("x", 600) // a minute at 10 bytes a second
	fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n", len(body))
	conntest.Trickle(t, c, body, 100*time.Millisecond)
	got, took := conntest.UntilClosed(t, c, 10*time.Second)
	if took < 500*time.Millisecond {
		t.Errorf("connection ended after %s, before the 1s deadline: %q", took, got)
	}
	if strings.Contains(got, "read 600 bytes") {
		t.Errorf("the trickled body was read whole: %q", got)
	}

	// In time, the body is read.
	c = conntest.Dial(t, addr)
	fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	if got, _ := conntest.UntilClosed(t, c, 10*time.Second); !strings.Contains(got, "read 600 bytes") {
		t.Errorf("a body sent at once: %q", got)
	}
}

// TestUnreadBodyAnsweredAtOnce has a handler refuse requests without
// reading their bodies, declared or chunked, of which the client sends
// nothing: the 401 comes at once, well before the body deadline, and the
// connection closes right after it.
func TestUnreadBodyAnsweredAtOnce(t *testing.T) {
	t.Parallel()
	addr := start(t, refuse, Config{BodyTimeout: time.Minute})
	for name, hdr := range map[string]string{
		"declared": "Content-Length: 200000\r\n",
		"chunked":  "Transfer-Encoding: chunked\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := conntest.Dial(t, addr)
			fmt.Fprintf(c, "POST /api/v1/builds HTTP/1.1\r\nHost: a\r\n%s\r\n", hdr)
			got, took := conntest.UntilClosed(t, c, 5*time.Second)
			if !strings.HasPrefix(got, "HTTP/1.1 401 ") || !strings.Contains(got, "Connection: close") {
				t.Errorf("answer %q", got)
			}
			if took > 3*time.Second {
				t.Errorf("answered and closed after %s", took)
			}
		})
	}
}

// TestConnectionsPerAddress holds the limit of connections from loopback:
// the next one is closed as soon as it is accepted, and once one of them
// closes, a new one is served.
func TestConnectionsPerAddress(t *testing.T) {
	t.Parallel()
	const max = 3
	addr := start(t, readBody, Config{MaxConnsPerIP: max})
	var held []net.Conn
	for range max {
		c := conntest.Dial(t, addr)
		// Each is served (so accepted and counted) and kept alive.
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("connection %d: %v", len(held)+1, err)
		}
		res.Body.Close()
		held = append(held, c)
	}
	extra := conntest.Dial(t, addr)
	fmt.Fprintf(extra, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if got, _ := conntest.UntilClosed(t, extra, 5*time.Second); got != "" {
		t.Errorf("connection %d was served: %q", max+1, got)
	}
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := conntest.Dial(t, addr)
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		got, _ := conntest.UntilClosed(t, c, 5*time.Second)
		if strings.HasPrefix(got, "HTTP/1.1 200 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection served after one of the held ones closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStreamOutlivesBodyDeadline streams a response for three times the
// body deadline: nothing cuts it.
func TestStreamOutlivesBodyDeadline(t *testing.T) {
	t.Parallel()
	const lines = 15
	stream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := range lines {
			fmt.Fprintf(w, "data: %d\n\n", i)
			if err := rc.Flush(); err != nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	addr := start(t, stream, Config{BodyTimeout: time.Second})
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			c := conntest.Dial(t, addr)
			body := ""
			if method == "POST" {
				body = "x=1"
			}
			fmt.Fprintf(c, "%s /stream HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", method, len(body), body)
			got, took := conntest.UntilClosed(t, c, 20*time.Second)
			if !strings.Contains(got, fmt.Sprintf("data: %d\n", lines-1)) || took < 2*time.Second {
				t.Errorf("stream ended after %s: %q", took, got)
			}
		})
	}
}

func TestConfigChecks(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{{BodyTimeout: -time.Second}, {MaxConnsPerIP: -1}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := Serve(context.Background(), ln, readBody, cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ addr, want string }{
		{"127.0.0.1:5000", "127.0.0.1/32"},
		{"[::ffff:10.1.2.3]:80", "10.1.2.3/32"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
	}
	for _, tt := range tests {
		a, err := net.ResolveTCPAddr("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := clientKey(a).String(); got != tt.want {
			t.Errorf("clientKey(%s) = %s, want %s", tt.addr, got, tt.want)
		}
	}
	if got := clientKey(&net.UnixAddr{Name: "@x", Net: "unix"}); got.IsValid() {
		t.Errorf("unix address keyed %s", got)
	}
}
