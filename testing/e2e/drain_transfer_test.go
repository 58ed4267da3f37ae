package e2e

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/sshtest"
)

// TestDrainDuringTransferRetry drains the worker while a transfer retry
// runs (the first transfer failed, the build waited, its retry goes slowly
// to an SFTP server): the build is not cancelled but waits again, and the
// worker, back, retries the transfer and the build succeeds on its first
// attempt. The chaos soak found a drained transfer retry ended as a
// cancelled build (nobody asked) without a completion mail.
func TestDrainDuringTransferRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := sshtest.Start(t, sshtest.Options{})
	link := newSlowLink(t, srv.Addr())
	e.stagingConf = "ssh_key = " + srv.KeyFile + "\nhost_keys = 127.0.0.1:" + link.port() + "=" + srv.Fingerprint() +
		"\nretry_backoff = 1s\nretry_for = 5m"
	w1 := e.worker("host1")
	cfg := e.config("client", "")
	url := strings.Replace(srv.URL(srv.Dir+"/images"), ":"+strconv.Itoa(srv.Port)+"/", ":"+link.port()+"/", 1)
	out, errs, code := e.run("submit", "--config", cfg, e.specTo("d.conf", "x86_64", "boot.iso", url))
	if code != 0 {
		t.Fatalf("submit: %s", errs)
	}
	id := strings.TrimSpace(out)
	e.waitFor(60*time.Second, "the build to wait for a transfer retry", func() bool { return e.status(cfg, id).Waiting != "" })
	link.open.Store(true)
	e.waitFor(90*time.Second, "the transfer retry to be under way", func() bool {
		b := e.status(cfg, id)
		return link.carried.Load() > 64<<10 && b.Waiting == "" && b.Stage == tasks.StageTransfer
	})
	_ = w1.Signal(syscall.SIGTERM)
	if err := w1.Wait(); err != nil {
		t.Errorf("drained worker exited with %v", err)
	}
	b := e.status(cfg, id)
	if b.State != tasks.StateRunning || b.Stage != tasks.StageTransfer || b.Waiting == "" {
		t.Fatalf("after the drain: state %s stage %s waiting %q; want running, waiting for a transfer retry", b.State, b.Stage, b.Waiting)
	}
	link.fast.Store(true)
	e.worker("host1")
	b = e.waitState(cfg, id, tasks.StateSucceeded, 2*time.Minute)
	if b.Attempt != 1 || b.Waiting != "" {
		t.Errorf("after the retry: attempt %d waiting %q; want attempt 1, not waiting", b.Attempt, b.Waiting)
	}
}
