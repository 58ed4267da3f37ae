package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/testing/conntest"
	"github.com/fedora-fbs/fbs/testing/oidctest"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// These tests hold the listeners of `fbs web`, `fbs monitor` and `fbs
// serve` against clients that try to hold them: slow bodies, bodies never
// sent, many connections, foreign Host names. Every address they dial is
// loopback.

// runWithin runs fbs to completion, killing it after limit (a failure).
func (e *env) runWithin(limit time.Duration, args ...string) (stdout, stderr string, code int, took time.Duration) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, fbsBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err := cmd.Run()
	took = time.Since(t0)
	if ctx.Err() != nil {
		e.t.Fatalf("fbs %v still running after %s:\n%s%s", args, limit, out.String(), errb.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run fbs %v: %v", args, err)
	}
	return out.String(), errb.String(), code, took
}

// limitsConf sets short body deadlines and a low connection cap on both
// listeners.
const limitsConf = `[web]
body_timeout = 1s
max_conns_per_ip = 4
[monitor]
body_timeout = 1s
max_conns_per_ip = 4
`

// TestSlowClients runs `fbs web` with OIDC sign-in and `fbs monitor` and
// tries to hold their connections.
func TestSlowClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	idp := oidctest.Start(t)
	secret := filepath.Join(e.dir, "oidc-secret")
	e.write(secret, idp.ClientSecret+"\n")
	e.moreConf = limitsConf + fmt.Sprintf("[oidc]\nissuer = %s\nclient_id = %s\nclient_secret_file = %s\n", idp.Issuer, idp.ClientID, secret)
	cfg := e.config("front", "")
	webAddr, monAddr := freeAddr(t), freeAddr(t)
	e.startReady("fbs web: serving", "web", "--config", cfg, "--listen", webAddr)
	e.startReady("fbs monitor: serving", "monitor", "--config", cfg, "--listen", monAddr)

	t.Run("unauthenticated body never sent", func(t *testing.T) {
		for _, tt := range []struct{ path, hdr string }{
			// The API: 401, whatever the body's declared size (net/http
			// alone drains up to 256 KiB of it first).
			{"/api/v1/builds", "Content-Type: application/json\r\nContent-Length: 200000\r\n"},
			{"/api/v1/builds", "Content-Type: application/json\r\nContent-Length: 20000000\r\n"},
			{"/rest", "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"},
			// A form post with a CSRF cookie of the caller's making:
			// off to sign in.
			{"/account", "Cookie: fbs_csrf=x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n"},
			{"/builds/01JAAAAAAAAAAAAAAAAAAAAAAA/cancel", "Cookie: fbs_csrf=x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n"},
		} {
			path, hdr := tt.path, tt.hdr
			c := conntest.Dial(t, webAddr)
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", path, webAddr, hdr)
			got, took := conntest.UntilClosed(t, c, 10*time.Second)
			status := strings.SplitN(got, "\r\n", 2)[0]
			if status != "HTTP/1.1 401 Unauthorized" && status != "HTTP/1.1 303 See Other" || took > 3*time.Second {
				t.Errorf("POST %s: %q after %s", path, status, took)
			}
		}
	})

	t.Run("trickled body", func(t *testing.T) {
		// Signed in, with the page's CSRF token, a form post sent a byte
		// every 100 ms is cut at the body deadline.
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
		res, err := hc.Get("http://" + webAddr + "/login?next=/account")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(res.Body)
		res.Body.Close()
		hc.CloseIdleConnections()
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
		if res.StatusCode != http.StatusOK || m == nil {
			t.Fatalf("account page after sign-in: %d\n%s", res.StatusCode, page)
		}
		var cookies []string
		for _, ck := range jar.Cookies(&url.URL{Scheme: "http", Host: webAddr, Path: "/"}) {
			cookies = append(cookies, ck.Name+"="+ck.Value)
		}
		body := "csrf=" + url.QueryEscape(string(m[1])) + "&action=create&name=" + strings.Repeat("x", 500)
		c := conntest.Dial(t, webAddr)
		fmt.Fprintf(c, "POST /account HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n",
			webAddr, strings.Join(cookies, "; "), len(body))
		conntest.Trickle(t, c, body, 100*time.Millisecond)
		got, took := conntest.UntilClosed(t, c, 15*time.Second)
		if took < 500*time.Millisecond || strings.Contains(got, "Token created") {
			t.Errorf("connection ended after %s: %q", took, got)
		}
	})

	t.Run("monitor body never sent", func(t *testing.T) {
		c := conntest.Dial(t, monAddr)
		fmt.Fprintf(c, "GET /status HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n\r\n", monAddr)
		got, took := conntest.UntilClosed(t, c, 10*time.Second)
		if !strings.HasPrefix(got, "HTTP/1.1 200 ") || took > 3*time.Second {
			t.Errorf("GET /status with a body never sent: %q after %s", strings.SplitN(got, "\r\n", 2)[0], took)
		}
	})

	for name, addr := range map[string]string{"web": webAddr, "monitor": monAddr} {
		t.Run("connections per address/"+name, func(t *testing.T) {
			// Connections of earlier subtests may still count: open
			// kept-alive ones until one is refused, which must come
			// by the fifth.
			served := 0
			for {
				c := conntest.Dial(t, addr)
				fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				res, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					break
				}
				res.Body.Close()
				if served++; served > 4 {
					t.Fatalf("%d connections from one address served", served)
				}
			}
			if served == 0 {
				t.Error("not even one connection served")
			}
		})
	}

	t.Run("live log outlives the body deadline", func(t *testing.T) {
		out, errs, code := e.run("submit", "--config", cfg, e.spec("q.conf", otherArch(), "boot.iso"))
		if code != 0 {
			t.Fatalf("submit: %s", errs)
		}
		id := strings.TrimSpace(out)
		// Builds are private: read it as a mail's link does.
		key, err := auth.NewLinks(e.redis.Client(), time.Hour, nil).Mint(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		c := conntest.Dial(t, monAddr)
		fmt.Fprintf(c, "GET /builds/%s/log/stream?key=%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", id, key, monAddr)
		br := bufio.NewReader(c)
		res, err := http.ReadResponse(br, nil)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("stream: %v %v", res, err)
		}
		// Three body deadlines later the stream is still open.
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err = io.ReadAll(res.Body)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("the stream ended: %v", err)
		}
	})
}

// otherArch is an arch that no worker of this host serves, so a build for
// it stays queued.
func otherArch() string {
	if runtime.GOARCH == "arm64" {
		return "x86_64"
	}
	return "aarch64"
}

// TestServeRefusesNonLoopback runs `fbs serve` in local mode with a web or
// embedded broker address beyond loopback, or a web address in use: it
// exits at once, saying why, before starting anything.
func TestServeRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "fbs.conf")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("[worker]\nreleases = 41\ndata_dir = %s/data\n[staging]\nfile_root = %s/staging\n", dir, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir}
	web, broker := freeAddr(t), freeAddr(t)
	_, webPort, _ := net.SplitHostPort(web)
	_, brokerPort, _ := net.SplitHostPort(broker)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "0.0.0.0:" + webPort, "--broker-listen", broker}, `listen address "0.0.0.0:` + webPort + `" is not loopback-only`},
		{[]string{"--listen", "[::]:" + webPort, "--broker-listen", broker}, "is not loopback-only"},
		{[]string{"--listen", ":" + webPort, "--broker-listen", broker}, "is not loopback-only"},
		{[]string{"--listen", web, "--broker-listen", "0.0.0.0:" + brokerPort}, `embedded broker address "0.0.0.0:` + brokerPort + `" is not loopback-only`},
		{[]string{"--listen", web, "--broker-listen", "[::]:" + brokerPort}, "embedded broker address"},
		{[]string{"--listen", web, "--broker-listen", ":" + brokerPort}, "embedded broker address"},
		// A web address in use: nothing runs without its web server.
		{[]string{"--listen", busy.Addr().String(), "--broker-listen", broker}, "address already in use"},
	}
	for _, tt := range tests {
		out, errs, code, took := e.runWithin(20*time.Second, append([]string{"serve", "--config", cfg}, tt.args...)...)
		if code == 0 || !strings.Contains(errs, tt.want) {
			t.Errorf("serve %v: exit %d, stderr %q; want %q", tt.args, code, errs, tt.want)
		}
		if strings.Contains(out, "embedded broker at") || strings.Contains(out, "serving") || took > 10*time.Second {
			t.Errorf("serve %v started before refusing (after %s):\n%s", tt.args, took, out)
		}
	}
}

// TestServeHostCheck runs `fbs serve` in local mode and asks every kind of
// route with a foreign Host name, as a DNS-rebinding page would: each is
// refused, and each answers with the security headers.
func TestServeHostCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg, broker, web, _ := e.serve()
	out, errs, code := e.run("submit", "--config", cfg, "--redis", "redis://"+broker+"/0", e.spec("q.conf", otherArch(), "boot.iso"))
	if code != 0 {
		t.Fatalf("submit: %s", errs)
	}
	id := strings.TrimSpace(out)
	var mail string
	e.waitFor(30*time.Second, "the submitted mail in the outbox", func() bool {
		_, body := get(t, "http://"+web+"/outbox")
		m := regexp.MustCompile(`href="/outbox/([^"]+)"`).FindStringSubmatch(body)
		if m != nil {
			mail = m[1]
		}
		return m != nil
	})
	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ask := func(path, host string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+web+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		res, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s (Host %s): %v", path, host, err)
		}
		res.Body.Close() // the stream's too: its headers are all we need
		return res
	}
	for _, path := range []string{
		"/", "/build", "/builds", "/account", "/api/v1/releases",
		"/status", "/api/v1/status", "/metrics", "/healthz",
		"/outbox", "/outbox/" + mail,
		"/builds/" + id, "/builds/" + id + "/log", "/builds/" + id + "/log/stream", "/api/v1/builds/" + id,
		"/no/such/route",
	} {
		for _, host := range []string{"evil.example", "evil.example:" + strings.Split(web, ":")[1]} {
			if res := ask(path, host); res.StatusCode != http.StatusForbidden {
				t.Errorf("GET %s with Host %s: %d, want 403", path, host, res.StatusCode)
			}
		}
		res := ask(path, web)
		if path != "/no/such/route" && res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", path, res.StatusCode)
		}
		for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"} {
			if res.Header.Get(h) == "" {
				t.Errorf("GET %s: no %s header", path, h)
			}
		}
	}
}
