package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/sshtest"
)

// TestTransferRetriedWithoutRebuild blocks the staging dir, so the built
// images cannot be staged: the build waits (no slot held, state says so),
// the transfer is retried by its own task, and once staging works again the
// build succeeds without building again.
func TestTransferRetriedWithoutRebuild(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.stagingConf = "retry_backoff = 1s\nretry_for = 5m"
	// A regular file where the build's staging dir must go.
	blocked := filepath.Join(e.staging, "blocked")
	e.write(blocked, "not a directory\n")
	e.worker("host1")
	cfg := e.config("client", "")
	out, errs, code := e.run("submit", "--config", cfg, e.specTo("r.conf", "x86_64", "boot.iso", "file://"+blocked))
	if code != 0 {
		t.Fatalf("submit: %s", errs)
	}
	id := strings.TrimSpace(out)
	var b *tasks.Build
	e.waitFor(60*time.Second, "the build to wait for its transfer", func() bool {
		b = e.status(cfg, id)
		return b.Waiting != ""
	})
	if b.State != tasks.StateRunning || b.Stage != tasks.StageTransfer || !strings.Contains(b.Waiting, "retrying") {
		t.Errorf("waiting build: state %s stage %s waiting %q", b.State, b.Stage, b.Waiting)
	}
	// A new build runs meanwhile: the waiting one holds no slot.
	if out, errs, code := e.run("submit", "--config", cfg, "--wait", e.spec("other.conf", "x86_64", "boot.iso")); code != 0 {
		t.Fatalf("second build while the first waits: %s\n%s", errs, out)
	}
	if err := os.Remove(blocked); err != nil {
		t.Fatal(err)
	}
	b = e.waitState(cfg, id, tasks.StateSucceeded, 2*time.Minute)
	if b.Waiting != "" || b.Attempt != 1 {
		t.Errorf("after the retry: waiting %q attempt %d", b.Waiting, b.Attempt)
	}
	log, err := os.ReadFile(filepath.Join(blocked, id, "build.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "stage build: started"); n != 1 {
		t.Errorf("the image was built %d times, want once", n)
	}
	if !strings.Contains(string(log), "transfer retry") {
		t.Errorf("the log does not show the retry:\n%s", log)
	}
	cmd := exec.Command("sha256sum", "-c", "CHECKSUM")
	cmd.Dir = filepath.Join(blocked, id)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c: %v\n%s", err, out)
	}
	// The worker's copy went once the upload was verified.
	if _, err := os.Stat(filepath.Join(e.dir, "host1", "data", "builds", id, "out")); !os.IsNotExist(err) {
		t.Errorf("worker kept the staged images: %v", err)
	}
}

// TestSFTPStagingThroughWorker stages a build to a real OpenSSH server.
func TestSFTPStagingThroughWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := sshtest.Start(t, sshtest.Options{})
	e.stagingConf = "ssh_key = " + srv.KeyFile + "\nknown_hosts = " + srv.KnownHosts
	e.worker("host1")
	cfg := e.config("client", "")
	remote := filepath.Join(srv.Dir, "images")
	out, errs, code := e.run("submit", "--config", cfg, "--wait", e.specTo("s.conf", "x86_64", "boot.iso", srv.URL(remote)))
	if code != 0 {
		t.Fatalf("sftp build: %s\n%s", errs, out)
	}
	id := strings.SplitN(out, "\n", 2)[0]
	b := e.status(cfg, id)
	if !strings.HasPrefix(b.Staged, "sftp://") || len(b.Artifacts) < 4 {
		t.Errorf("staged %q with %d artifacts", b.Staged, len(b.Artifacts))
	}
	for _, a := range b.Artifacts {
		if strings.Contains(a.URL, srv.KeyFile) {
			t.Errorf("artifact URL leaks a credential path: %s", a.URL)
		}
	}
	cmd := exec.Command("sha256sum", "-c", "CHECKSUM")
	cmd.Dir = filepath.Join(remote, id)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c on the SFTP side: %v\n%s", err, out)
	}
}

// TestStagePut re-pushes files with `fbs stage put`, as users do with
// artifacts, over SFTP and to a local dir.
func TestStagePut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := sshtest.Start(t, sshtest.Options{})
	file := filepath.Join(e.dir, "notes.txt")
	e.write(file, "hello staging\n")
	for _, url := range []string{srv.URL(filepath.Join(srv.Dir, "pushed")), "file://" + filepath.Join(e.dir, "pushed")} {
		out, errs, code := e.run("stage", "put", "--ssh-key", srv.KeyFile, "--known-hosts", srv.KnownHosts, file, e.iso, url)
		if code != 0 {
			t.Fatalf("stage put %s: %s", url, errs)
		}
		if strings.Count(out, "\n") != 2 || !strings.Contains(out, "notes.txt") || !strings.Contains(out, "boot.iso") {
			t.Errorf("stage put %s printed:\n%s", url, out)
		}
	}
	for _, dir := range []string{filepath.Join(srv.Dir, "pushed"), filepath.Join(e.dir, "pushed")} {
		if data, err := os.ReadFile(filepath.Join(dir, "notes.txt")); err != nil || string(data) != "hello staging\n" {
			t.Errorf("%s/notes.txt: %q %v", dir, data, err)
		}
	}
	if _, errs, code := e.run("stage", "put", file, "gopher://example.org/x"); code == 0 || !strings.Contains(errs, "gopher") {
		t.Errorf("unknown scheme: exit %d %q", code, errs)
	}
}
