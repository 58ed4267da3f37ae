package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/isotest"
	"github.com/fedora-fbs/fbs/testing/proctest"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

// fbsBin is the fbs binary built once for all tests.
var fbsBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fbs-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fbsBin = filepath.Join(dir, "fbs")
	build := exec.Command("go", "build", "-o", fbsBin, "../..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build fbs:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one test's world: a Redis, a staging root, an ISO dir with a boot
// ISO, a kickstart tree and a config file per worker "host".
type env struct {
	t       *testing.T
	dir     string
	redis   *redistest.Server
	staging string
	isoDir  string
	iso     string // the boot ISO's path
	ksDir   string
	// wrapper, when set, is used as xorriso by workers: see slowXorriso.
	wrapper string
	// workerConf is added to the [worker] section of every config: see
	// shortLease.
	workerConf string
	// stagingConf is added to the [staging] section of every config.
	stagingConf string
	// securityConf is the [security] section of every config; newEnv
	// allows loopback, where the tests' servers listen.
	securityConf string
	// moreConf is added at the end of every config (whole sections).
	moreConf string
	// specExtra is added to the type section of every spec.
	specExtra string
	// redisURL, when set, is the [redis] url of every config instead of
	// the env's own redis-server (see sentinel_test.go).
	redisURL string
}

const volID = "Fedora-E-dvd-x86_64-41"

// shortLease, as env.workerConf, has the builds of a killed worker found
// lost within about 4 s instead of the 40 s of the default lease TTL and
// reap interval: the shortest values fbs allows.
const shortLease = "lease_ttl = 3s\nreap_interval = 1s"

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), redis: redistest.Start(t), securityConf: "allow_networks = 127.0.0.1/32"}
	e.staging = filepath.Join(e.dir, "staging")
	e.isoDir = filepath.Join(e.dir, "isos")
	e.ksDir = filepath.Join(e.dir, "ks")
	for _, d := range []string{e.staging, e.isoDir, e.ksDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.iso = filepath.Join(e.isoDir, "boot.iso")
	if err := os.Rename(isotest.BootISO(t, volID), e.iso); err != nil {
		t.Fatal(err)
	}
	e.write(filepath.Join(e.ksDir, "main.ks"), "# fbs e2e kickstart\n%include common/base.ks\nlang en_US.UTF-8\n%packages\n@core\nvim-enhanced\n%end\n")
	e.write(filepath.Join(e.ksDir, "common", "base.ks"), "text\ntimezone Europe/Prague --utc\nrootpw --lock\n%packages\nkernel\n%end\n")
	return e
}

func (e *env) write(path, content string) {
	e.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// config writes the fbs.conf of one worker host (or of the submitter) and
// returns its path.
func (e *env) config(host string, extra string) string {
	e.t.Helper()
	data := filepath.Join(e.dir, host, "data")
	var tools string
	if e.wrapper != "" {
		tools = "[tools]\nxorriso = " + e.wrapper + "\n"
	}
	path := filepath.Join(e.dir, host, "fbs.conf")
	url := e.redis.URL
	if e.redisURL != "" {
		url = e.redisURL
	}
	e.write(path, fmt.Sprintf(`[redis]
url = %s
[worker]
releases = 41
data_dir = %s
iso_dir = %s
drain_timeout = 3s
build_timeout = 10m
poll_interval = 20ms
%s
%s
[staging]
file_root = %s
%s
[security]
%s
%s
%s`, url, data, e.isoDir, e.workerConf, extra, e.staging, e.stagingConf, e.securityConf, tools, e.moreConf))
	return path
}

// spec writes a ksiso build spec staging into the env's staging dir and
// returns its path.
func (e *env) spec(name, arch, iso string) string {
	e.t.Helper()
	return e.specTo(name, arch, iso, "file://"+e.staging)
}

// specTo writes a ksiso build spec staging to url and returns its path.
func (e *env) specTo(name, arch, iso, url string) string {
	e.t.Helper()
	path := filepath.Join(e.ksDir, name)
	e.write(path, fmt.Sprintf(`[DEFAULT]
type=ksiso
arch=%s
release=41
staging=%s
email=tester@example.org
[ksiso]
iso=%s
config=main.ks
cmdline=console=ttyS0
%s
`, arch, url, iso, e.specExtra))
	return path
}

// start runs fbs with args in the background (testing/proctest: its own
// process group, killed at cleanup, output in the log if the test fails).
func (e *env) start(args ...string) *proctest.Proc {
	e.t.Helper()
	p, err := proctest.Start(e.t, proctest.Options{Name: "fbs " + args[0]}, fbsBin, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// startReady starts fbs with args and waits up to 30 s until it prints
// ready.
func (e *env) startReady(ready string, args ...string) *proctest.Proc {
	e.t.Helper()
	p := e.start(args...)
	if err := p.WaitOutput(ready, 30*time.Second); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// startServe starts `fbs serve` with args and waits until its worker and
// its web app serve.
func (e *env) startServe(args ...string) *proctest.Proc {
	e.t.Helper()
	p := e.startReady("fbs web: serving", append([]string{"serve"}, args...)...)
	if err := p.WaitOutput("fbs worker", 30*time.Second); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// worker starts `fbs worker` for host and waits until it serves.
func (e *env) worker(host string, extra ...string) *proctest.Proc {
	e.t.Helper()
	return e.startReady("serving", append([]string{"worker", "--config", e.config(host, "")}, extra...)...)
}

// run runs fbs to completion and returns its stdout, stderr and exit code.
func (e *env) run(args ...string) (string, string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, fbsBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run fbs %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// status returns the record of build id.
func (e *env) status(cfg, id string) *tasks.Build {
	e.t.Helper()
	out, errs, code := e.run("status", "--config", cfg, "--json", id)
	if code != 0 {
		e.t.Fatalf("fbs status %s: exit %d: %s", id, code, errs)
	}
	var b tasks.Build
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		e.t.Fatalf("decode status: %v\n%s", err, out)
	}
	return &b
}

// waitState waits until build id is in state want.
func (e *env) waitState(cfg, id string, want tasks.State, timeout time.Duration) *tasks.Build {
	e.t.Helper()
	var b *tasks.Build
	e.waitFor(timeout, fmt.Sprintf("build %s to be %s", id, want), func() bool {
		b = e.status(cfg, id)
		return b.State == want
	})
	return b
}

func (e *env) waitFor(timeout time.Duration, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// submitSlow submits a ksiso build of spec (named specName) with config cfg
// and waits until the slow tool installed by slowXorriso has started, which
// it tells by the file pids; it returns the build's ID.
func (e *env) submitSlow(cfg, specName, pids string) string {
	e.t.Helper()
	out, _, code := e.run("submit", "--config", cfg, e.spec(specName, "x86_64", "boot.iso"))
	if code != 0 {
		e.t.Fatal("submit failed")
	}
	e.waitFor(60*time.Second, "the slow tool to start", func() bool { _, err := os.Stat(pids); return err == nil })
	return strings.TrimSpace(out)
}

// slowXorriso installs a wrapper used as xorriso: the first call of a build
// records its PID and a child's PID, then sleeps for secs in a child process
// before doing the real work; later calls go straight to the real xorriso.
func (e *env) slowXorriso(secs int) (calls, pids string) {
	e.t.Helper()
	real, err := exec.LookPath("xorriso")
	if err != nil {
		e.t.Fatal("xorriso not installed: apt-get install xorriso")
	}
	dir := filepath.Join(e.dir, "wrapper")
	calls, pids = filepath.Join(dir, "slow.calls"), filepath.Join(dir, "pids")
	e.wrapper = filepath.Join(dir, "xorriso")
	// A worker asks its tools' versions when it starts: that is not a
	// build's call.
	e.write(e.wrapper, fmt.Sprintf(`#!/bin/sh
if [ "$*" = "-version" ]; then exec %[5]s -version; fi
if [ ! -e %[1]s/slow.done ] && mkdir %[1]s/slow.lock 2>/dev/null; then
  echo "slow xorriso $$" >> %[2]s
  echo "wrapper: sleeping %[3]d s before xorriso"
  sleep %[3]d &
  echo "$$ $!" > %[4]s
  wait
  rmdir %[1]s/slow.lock
  touch %[1]s/slow.done
fi
exec %[5]s "$@"
`, dir, calls, secs, pids, real))
	if err := os.Chmod(e.wrapper, 0o755); err != nil {
		e.t.Fatal(err)
	}
	return calls, pids
}
