package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/testing/redistest"
)

// TestServicesRunGinInReleaseMode runs `fbs monitor` and `fbs web` as
// processes, serves a request on each and stops them: neither prints
// gin's debug output (routes, "Running in debug mode" warnings), whatever
// GIN_MODE says.
func TestServicesRunGinInReleaseMode(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "fbs.conf")
	if err := os.WriteFile(cfg, []byte("[redis]\nurl = "+rs.URL+"\n[worker]\ndata_dir = "+dir+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t}
	for _, tc := range []struct {
		cmd, path, ready string
	}{
		{"monitor", "/status", "fbs monitor: serving"},
		{"web", "/", "fbs web: serving"},
	} {
		addr := freeAddr(t)
		p := e.startReady(tc.ready, tc.cmd, "--config", cfg, "--listen", addr)
		if code, _ := get(t, "http://"+addr+tc.path); code != http.StatusOK {
			t.Errorf("fbs %s: GET %s: %d", tc.cmd, tc.path, code)
		}
		_ = p.Signal(syscall.SIGTERM)
		if err := p.WaitExit(30 * time.Second); err != nil {
			t.Fatalf("fbs %s did not stop: %v", tc.cmd, err)
		}
		if out := p.Output(); strings.Contains(out, "[GIN") || strings.Contains(out, "debug") {
			t.Errorf("fbs %s printed gin's debug output:\n%s", tc.cmd, out)
		}
	}
}

// TestRedisURLNeverPrinted gives fbs malformed and unreachable Redis URLs
// holding a password, by flag, environment and file: the errors name the
// URL without it.
func TestRedisURLNeverPrinted(t *testing.T) {
	t.Parallel()
	const pw = "s3cretPW"
	dir := t.TempDir()
	urls := []string{
		"redis://:" + pw + "@127.0.0.1:notaport/0",
		"redis://:" + pw + "%zz@127.0.0.1:1/0",
		"redis://user:" + pw + "@127.0.0.1:1/x",
		"redis://:" + pw + "@127.0.0.1:1/0",
		"red is://:" + pw + "@127.0.0.1:1/0",
		"redis://u:pa/" + pw + "@127.0.0.1:bad/0",
		"ftp://:" + pw + "@127.0.0.1:1/0",
	}
	for _, u := range urls {
		cfg := filepath.Join(dir, "fbs.conf")
		if err := os.WriteFile(cfg, []byte("[worker]\ndata_dir = "+dir+"\n[redis]\nurl = "+u+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		empty := filepath.Join(dir, "empty.conf")
		if err := os.WriteFile(empty, []byte("[worker]\ndata_dir = "+dir+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, how := range []struct {
			name string
			args []string
			env  []string
		}{
			{"flag", []string{"list", "--config", empty, "--redis", u}, nil},
			{"environment", []string{"list", "--config", empty}, []string{"FBS_REDIS_URL=" + u}},
			{"file", []string{"list", "--config", cfg}, nil},
			{"monitor", []string{"monitor", "--config", empty, "--redis", u, "--listen", "127.0.0.1:0"}, nil},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			cmd := exec.CommandContext(ctx, fbsBin, how.args...)
			cmd.Env = append(os.Environ(), how.env...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			cancel()
			if err == nil {
				t.Errorf("%s %q: fbs succeeded", how.name, u)
			}
			if strings.Contains(out.String(), pw) {
				t.Errorf("%s %q: output shows the password:\n%s", how.name, u, out.String())
			}
		}
	}
}
