package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/proctest"
)

// serveLocal starts `fbs serve` with no Redis configured and no --in-memory,
// so on a redis-server child under its data dir, and waits until it serves.
// It returns the config, the Redis URL of the child and the process.
func (e *env) serveLocal(cfg string, extra ...string) (string, *proctest.Proc) {
	e.t.Helper()
	web := freeAddr(e.t)
	return web, e.startServe(append([]string{"--config", cfg, "--listen", web}, extra...)...)
}

// localConfig writes the config of `fbs serve` with no [redis] url.
func (e *env) localConfig(drain string) (cfg, data string) {
	e.t.Helper()
	cfg = e.config("serve", "")
	conf := strings.Replace(mustRead(e.t, cfg), "url = "+e.redis.URL, "", 1)
	e.write(cfg, strings.Replace(conf, "drain_timeout = 3s", "drain_timeout = "+drain, 1))
	return cfg, filepath.Join(e.dir, "serve", "data")
}

// outboxMail returns the outbox mails of data dir whose text holds want.
func outboxMail(t *testing.T, data, want string) int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(data, "outbox", "*"))
	n := 0
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), want) {
			n++
		}
	}
	return n
}

// TestServeRemembers runs `fbs serve` on its redis-server child: a build
// finishes, another runs and a third waits in the queue when the first
// Ctrl-C comes. fbs serve says what it waits for; a second Ctrl-C stops it
// at once, handing the running build back. Started again on the same data
// dir, the finished build and its log are still there, and the handed-back
// and the queued builds run.
func TestServeRemembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, pids := e.slowXorriso(600)
	slowDone := filepath.Join(filepath.Dir(pids), "slow.done")
	e.write(slowDone, "") // the first build runs at full speed
	cfg, data := e.localConfig("10m")
	_, srv := e.serveLocal(cfg)
	sock := filepath.Join(data, "redis", "redis.sock")
	url := "unix://" + sock
	if !strings.Contains(srv.Output(), "fbs serve: Redis at "+url) {
		t.Fatalf("serve does not say it runs redis-server at %s:\n%s", url, srv.Output())
	}
	client := e.config("client", "")
	client = rewriteRedis(e, client, url)

	out, errs, code := e.run("submit", "--config", client, "--wait", e.spec("done.conf", "x86_64", "boot.iso"))
	if code != 0 {
		t.Fatalf("submit: %d %s %s", code, out, errs)
	}
	done := strings.SplitN(out, "\n", 2)[0]
	if err := os.Remove(slowDone); err != nil {
		t.Fatal(err)
	}
	running := e.submitSlow(client, "run.conf", pids)
	out, _, code = e.run("submit", "--config", client, e.spec("queued.conf", "x86_64", "boot.iso"))
	if code != 0 {
		t.Fatal("submit queued")
	}
	queued := strings.TrimSpace(out)

	_ = srv.Signal(syscall.SIGINT)
	e.waitFor(10*time.Second, "the stop message", func() bool {
		return strings.Contains(srv.Output(), "waiting for 1 running build(s) to finish ("+running+"), at most 10m0s")
	})
	if !strings.Contains(srv.Output(), "press Ctrl-C again (or send SIGTERM) to stop now and hand them back to the queue") {
		t.Errorf("the stop message does not say how to stop now:\n%s", srv.Output())
	}
	_ = srv.Signal(syscall.SIGTERM)
	t0 := time.Now()
	if err := srv.WaitExit(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("second signal to exit: %s", time.Since(t0))
	if !strings.Contains(srv.Output(), "stopping now: handed "+running+" back to the queue") {
		t.Errorf("serve does not say it handed %s back:\n%s", running, srv.Output())
	}
	if err := srv.Err(); err != nil {
		t.Errorf("fbs serve exited with %v", err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("redis-server still listens on %s after fbs serve stopped (%v)", sock, err)
	}

	_, srv2 := e.serveLocal(cfg)
	for _, id := range []string{running, queued} {
		e.waitState(client, id, tasks.StateSucceeded, 2*time.Minute)
	}
	if b := e.status(client, running); b.Attempt != 2 {
		t.Errorf("handed-back build attempt %d, want 2", b.Attempt)
	}
	if b := e.status(client, done); b.State != tasks.StateSucceeded {
		t.Errorf("build finished before the restart is %s", b.State)
	}
	// A command run with serve's own config (no [redis] url, the same
	// data dir) finds the redis-server child's socket.
	if out, errs, code := e.run("status", "--config", cfg, done); code != 0 || !strings.Contains(out, "succeeded") {
		t.Errorf("fbs status with serve's config: %d %s %s", code, out, errs)
	}
	logs, errs, code := e.run("logs", "--config", client, done)
	if code != 0 || !strings.Contains(logs, "stage build: done") {
		t.Errorf("log of %s after the restart: %d %s\n%s", done, code, errs, logs)
	}
	for _, id := range []string{done, running, queued} {
		e.waitFor(30*time.Second, "completion mail of "+id, func() bool {
			return outboxMail(t, data, "build "+id+" succeeded") == 1
		})
	}
	_ = srv2.Signal(syscall.SIGINT)
	if err := srv2.WaitExit(30 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// rewriteRedis points config path at Redis url.
func rewriteRedis(e *env, path, url string) string {
	e.write(path, strings.Replace(mustRead(e.t, path), "url = "+e.redis.URL, "url = "+url, 1))
	return path
}

// TestServeStopSendsLastMail stops `fbs serve` (one Ctrl-C) while a build
// runs that ends during the drain: its completion mail is in the outbox
// after fbs serve has exited, on the in-memory broker (where a mail left
// in the queue would be lost) and on the redis-server child.
func TestServeStopSendsLastMail(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		extra []string
	}{
		{"in-memory", []string{"--in-memory"}},
		{"redis-server child", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			_, pids := e.slowXorriso(3)
			cfg, data := e.localConfig("60s")
			extra := tt.extra
			url := "unix://" + filepath.Join(data, "redis", "redis.sock")
			if extra != nil {
				addr := freeAddr(t)
				extra = []string{"--in-memory", "--broker-listen", addr}
				url = "redis://" + addr + "/0"
			}
			_, srv := e.serveLocal(cfg, extra...)
			if extra != nil && !strings.Contains(srv.Output(), "in memory: --in-memory; builds, logs and unsent mails are lost") {
				t.Errorf("serve does not warn that the in-memory broker keeps nothing:\n%s", srv.Output())
			}
			client := rewriteRedis(e, e.config("client", ""), url)
			id := e.submitSlow(client, "last.conf", pids)
			_ = srv.Signal(syscall.SIGINT)
			if err := srv.WaitExit(60 * time.Second); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(srv.Output(), "waiting for 1 running build(s) to finish ("+id+")") {
				t.Errorf("no stop message:\n%s", srv.Output())
			}
			if n := outboxMail(t, data, "build "+id+" succeeded"); n != 1 {
				t.Errorf("%d completion mails of %s in the outbox after the stop, want 1\n%s", n, id, srv.Output())
			}
		})
	}
}
