package cli_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// renderedFiles lists the files under dir with their modes.
func renderedFiles(t *testing.T, dir string) map[string]fs.FileMode {
	t.Helper()
	files := map[string]fs.FileMode{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[rel] = info.Mode().Perm()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestDeployRenderExample renders one host of deploy/example.conf, whose
// secret files are made up here.
func TestDeployRenderExample(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	example, err := os.ReadFile("../deploy/example.conf")
	if err != nil {
		t.Fatal(err)
	}
	const smtpSecret, stagingSecret = "smtp-secret-in-test", "staging-key-in-test"
	for name, content := range map[string]string{
		"deploy.conf": string(example), "secrets/smtp-password": smtpSecret + "\n", "secrets/staging_ed25519": stagingSecret + "\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out")
	stdout, stderr, code := run(t, nil, "deploy", "render", filepath.Join(dir, "deploy.conf"), "--host", "front", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := map[string]fs.FileMode{
		"etc/fbs/fbs.conf":                       0o644,
		"etc/fbs/redis.conf":                     0o644,
		"etc/fbs/secrets/smtp-password":          0o600,
		"etc/systemd/system/fbs-monitor.service": 0o644,
		"etc/systemd/system/fbs-redis.service":   0o644,
		"etc/systemd/system/fbs-web.service":     0o644,
	}
	if diff := cmp.Diff(want, renderedFiles(t, out)); diff != "" {
		t.Errorf("rendered files (-want +got):\n%s", diff)
	}
	var listed []string
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		p, _, _ := strings.Cut(l, "\t")
		rel, _ := filepath.Rel(out, p)
		listed = append(listed, rel)
	}
	var wantListed []string
	for p := range want {
		wantListed = append(wantListed, p)
	}
	sort.Strings(wantListed)
	if diff := cmp.Diff(wantListed, listed); diff != "" {
		t.Errorf("stdout lists (-want +got):\n%s\nstdout:\n%s", diff, stdout)
	}
	if !strings.Contains(stdout, "/etc/fbs/secrets/smtp-password\t-rw------- fbs:fbs (secret)\n") {
		t.Errorf("stdout does not mark the secret:\n%s", stdout)
	}
	if got := readFile(t, filepath.Join(out, "etc/fbs/secrets/smtp-password")); got != smtpSecret+"\n" {
		t.Errorf("secret file holds %q", got)
	}
	// front runs no worker: the staging key is not there.
	for _, s := range []string{smtpSecret, stagingSecret} {
		if strings.Contains(stdout+stderr, s) {
			t.Errorf("output shows a secret:\n%s%s", stdout, stderr)
		}
	}
	if strings.Contains(readFile(t, filepath.Join(out, "etc/fbs/fbs.conf")), smtpSecret) {
		t.Error("fbs.conf holds the secret")
	}
}

// TestDeployRenderOriginal renders every host of the original service's
// deploy.conf: it names hosts on 10.0.0.x and a public mail server, and
// render must not connect to any of them (it connects to nothing).
func TestDeployRenderOriginal(t *testing.T) {
	t.Parallel()
	const original = "../../shared/original-specs/deploy.conf"
	if _, err := os.Stat(original); err != nil {
		t.Skipf("original deploy.conf not found: %v", err)
	}
	out := t.TempDir()
	stdout, stderr, code := run(t, nil, "deploy", "render", original, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	hosts, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range hosts {
		names = append(names, h.Name())
	}
	if diff := cmp.Diff([]string{"10.0.0.27", "10.0.0.30", "10.0.0.37", "10.0.0.43", "10.0.0.9", "localhost"}, names); diff != "" {
		t.Errorf("hosts rendered (-want +got):\n%s", diff)
	}
	if m := renderedFiles(t, filepath.Join(out, "localhost"))["etc/fbs/secrets/smtp-password"]; m != 0o600 {
		t.Errorf("the master's SMTP password file: mode %v, want 0600", m)
	}
	if !strings.Contains(stderr, "deploy.conf:2: [broker] i686: RabbitMQ (AMQP) brokers are no longer used") ||
		!strings.Contains(stderr, "deploy.conf:33: [SMTP] password: an inline password") {
		t.Errorf("stderr lacks the warnings:\n%s", stderr)
	}
	if strings.Contains(stdout+stderr, "f00bar") {
		t.Error("output shows the SMTP password")
	}
}

func TestDeployRenderErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "deploy.conf")
	if err := os.WriteFile(bad, []byte("[host w1]\nroles = worker\n[conf]\nsmtp.password = hunter2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := run(t, nil, "deploy", "render", bad, "--out", filepath.Join(dir, "out"))
	want := "fbs: " + bad + ":4: [conf] smtp.password: inline secrets are not accepted: write smtp.password_file = FILE, a local file holding the secret (installed as /etc/fbs/secrets/smtp-password)\n"
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q; want 1, %q", code, stderr, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Error("render of a bad file wrote files")
	}
	good := filepath.Join(dir, "good.conf")
	if err := os.WriteFile(good, []byte("[host w1]\naddress = 198.18.0.1\nroles = worker, redis\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = run(t, nil, "deploy", "render", good, "--host", "w2", "--out", filepath.Join(dir, "out"))
	if want := "fbs: " + good + `: no host "w2" (hosts: w1)` + "\n"; code != 1 || stderr != want {
		t.Errorf("unknown host: exit %d, stderr %q; want 1, %q", code, stderr, want)
	}
	_, stderr, code = run(t, nil, "deploy", "render", good, "--out", dir)
	if want := "fbs: --out " + dir + " is not empty: render writes into a new or empty directory\n"; code != 1 || stderr != want {
		t.Errorf("render into a full directory: exit %d, stderr %q; want 1, %q", code, stderr, want)
	}
}
