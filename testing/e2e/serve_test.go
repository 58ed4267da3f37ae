package e2e

import (
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/proctest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serve starts `fbs serve` with no Redis configured, so with its embedded
// broker, and waits until its worker and web server run. It returns the
// config, the broker's and the web server's addresses and the process.
func (e *env) serve() (cfg, broker, web string, p *proctest.Proc) {
	e.t.Helper()
	cfg = e.config("serve", "")
	e.write(cfg, strings.Replace(mustRead(e.t, cfg), "url = "+e.redis.URL, "", 1))
	broker, web = freeAddr(e.t), freeAddr(e.t)
	p = e.startServe("--config", cfg, "--in-memory", "--broker-listen", broker, "--listen", web)
	return cfg, broker, web, p
}

// TestServeEmbeddedBroker runs `fbs serve` with no Redis configured: it
// starts its embedded broker, and a submit against that broker builds.
func TestServeEmbeddedBroker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg, addr, web, srv := e.serve()
	url := "redis://" + addr + "/0"
	if !strings.Contains(srv.Output(), url) {
		t.Errorf("serve does not say where its broker is:\n%s", srv.Output())
	}
	out, errs, code := e.run("submit", "--config", cfg, "--redis", url, "--wait", e.spec("s.conf", "x86_64", "boot.iso"))
	if code != 0 {
		t.Fatalf("submit to fbs serve: %d\n%s\n%s", code, out, errs)
	}
	id := strings.SplitN(out, "\n", 2)[0]
	checkStaged(t, e, id)
	// One listener serves the web app, the monitor and the outbox, where
	// both mails of the build land (no SMTP configured).
	for path, want := range map[string]string{
		"/":                        "fbs",
		"/builds/" + id:            "succeeded",
		"/api/v1/builds/" + id:     `"state":"succeeded"`,
		"/status":                  "build:x86_64:41",
		"/healthz":                 "",
		"/builds/" + id + "/log":   "stage build: done",
		"/builds/../../etc/passwd": "",
	} {
		code, body := get(t, "http://"+web+path)
		wantCode := http.StatusOK
		if strings.Contains(path, "..") {
			wantCode = http.StatusNotFound
		}
		if code != wantCode || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d, body lacks %q", path, code, want)
		}
	}
	e.waitFor(30*time.Second, "both mails in the outbox", func() bool {
		_, body := get(t, "http://"+web+"/outbox")
		return strings.Count(body, "/outbox/") == 2
	})
	// Cancel of a queued build works on the embedded broker too.
	out, _, code = e.run("submit", "--config", cfg, "--redis", url, e.spec("a.conf", "aarch64", "boot.iso"))
	if code != 0 {
		t.Fatal("submit aarch64")
	}
	queued := strings.TrimSpace(out)
	if _, errs, code := e.run("cancel", "--config", cfg, "--redis", url, queued); code != 0 {
		t.Fatalf("cancel: %s", errs)
	}
	out, errs, code = e.run("status", "--config", cfg, "--redis", url, queued)
	if code != 0 || !strings.Contains(out, string(tasks.StateCancelled)) {
		t.Errorf("status after cancel: %d %s %s", code, out, errs)
	}
	_ = srv.Signal(syscall.SIGINT)
	if err := srv.WaitExit(30 * time.Second); err != nil {
		t.Errorf("fbs serve did not stop on SIGINT: %v", err)
	}
}
