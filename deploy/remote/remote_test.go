package remote

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"

	"github.com/fedora-fbs/fbs/deploy"
	"github.com/fedora-fbs/fbs/testing/sshtest"
)

// fixture is a real sshd on loopback and a Target that logs in to it.
type fixture struct {
	srv    *sshtest.Server
	target Target
	// owner and group are the names of the test user and its group, the
	// owner files are given (chown to root needs root).
	owner, group string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	srv := sshtest.Start(t, sshtest.Options{})
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, owner: u.Username, group: g.Name,
		target: Target{Addr: srv.Host, Port: srv.Port, User: srv.User, KeyFile: srv.KeyFile, KnownHosts: srv.KnownHosts}}
}

func (f *fixture) dial(t *testing.T) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), f.target)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestHostKeys(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, otherKey := sshtest.NewKey(t)
	known := func(t *testing.T, content string) string {
		p := filepath.Join(t.TempDir(), "known_hosts")
		if content != "" {
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	serverLine := f.srv.KnownHostsLine(f.srv.HostKey, false) + "\n"
	tests := []struct {
		name      string
		known     string // known_hosts content; "" means no file
		acceptNew bool
		wantErr   error
		// wantKnown is known_hosts afterwards; "" means unchanged.
		wantKnown string
	}{
		{name: "known", known: serverLine},
		{name: "known, hashed", known: f.srv.KnownHostsLine(f.srv.HostKey, true) + "\n"},
		{name: "unknown", known: "# nothing\n", wantErr: ErrUnknownHost},
		{name: "no known_hosts", wantErr: ErrUnknownHost},
		{name: "unknown, accepted", known: "# nothing\n", acceptNew: true, wantKnown: "# nothing\n" + serverLine},
		{name: "no known_hosts, accepted", acceptNew: true, wantKnown: serverLine},
		{name: "changed", known: f.srv.KnownHostsLine(otherKey, false) + "\n", wantErr: ErrHostKeyChanged},
		{name: "changed, accept-new does not help", known: f.srv.KnownHostsLine(otherKey, false) + "\n", acceptNew: true, wantErr: ErrHostKeyChanged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target := f.target
			target.KnownHosts = known(t, tt.known)
			target.AcceptNew = tt.acceptNew
			c, err := Dial(context.Background(), target)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Dial error = %v, want %v", err, tt.wantErr)
			}
			if err == nil {
				if _, err := c.OSFamily(context.Background()); err != nil {
					t.Errorf("use the connection: %v", err)
				}
				c.Close()
			} else if !strings.Contains(err.Error(), ssh.FingerprintSHA256(f.srv.HostKey)) {
				t.Errorf("error does not show the offered key's fingerprint: %v", err)
			}
			got, _ := os.ReadFile(target.KnownHosts)
			want := tt.wantKnown
			if want == "" {
				want = tt.known
			}
			if diff := cmp.Diff(want, string(got)); diff != "" {
				t.Errorf("known_hosts afterwards (-want +got):\n%s", diff)
			}
			// What was accepted is known from now on.
			if tt.acceptNew && tt.wantErr == nil {
				target.AcceptNew = false
				c, err := Dial(context.Background(), target)
				if err != nil {
					t.Fatalf("Dial after accepting: %v", err)
				}
				c.Close()
			}
		})
	}
}

func TestDialRefusedKey(t *testing.T) {
	t.Parallel()
	f := setup(t)
	target := f.target
	target.KeyFile, _ = sshtest.NewKey(t)
	if _, err := Dial(context.Background(), target); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("Dial with a key the host does not authorize: %v", err)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := f.dial(t)
	ctx := context.Background()
	out, err := c.Run(ctx, "echo hello; echo warning >&2")
	if err != nil || string(out) != "hello\n" {
		t.Fatalf("Run = %q, %v", out, err)
	}
	_, err = c.Run(ctx, "echo partial; echo it broke >&2; exit 3")
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Run of a failing command: %v (%T)", err, err)
	}
	if diff := cmp.Diff(&ExitError{Addr: c.Addr(), Cmd: "echo partial; echo it broke >&2; exit 3", Status: 3, Stderr: "it broke"}, ee); diff != "" {
		t.Errorf("ExitError mismatch (-want +got):\n%s", diff)
	}
	// A command outliving its context is killed, and Run returns at once.
	// The context ends once the command runs (it writes its process ID).
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pid := make(chan string, 1)
	var cancelled time.Time
	go func() {
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
				pid <- strings.TrimSpace(string(b))
				cancelled = time.Now()
				cancel()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		pid <- ""
		cancel()
	}()
	_, err = c.Run(ctx, "echo $$ > "+Quote(pidFile)+"; exec sleep 600")
	p := <-pid
	if p == "" {
		t.Fatal("the command never wrote its process ID")
	}
	if !errors.Is(err, context.Canceled) || time.Since(cancelled) > 5*time.Second {
		t.Fatalf("Run after its context ended: %v, %v later", err, time.Since(cancelled))
	}
	// The host is this machine: the sleep must go away.
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat("/proc/" + p); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cancelled command (pid %s) still runs", p)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The connection still works.
	if _, err := c.OSFamily(context.Background()); err != nil {
		t.Fatalf("use the connection after a cancelled command: %v", err)
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := f.dial(t)
	words := []string{"plain", "", "two words", "it's", `"$HOME" $(id) ;|&<>*?`, "new\nline", "/etc/fbs/fbs.conf", "-n", `back\slash`}
	cmd := "printf '%s\\0'"
	for _, w := range words {
		cmd += " " + Quote(w)
	}
	out, err := c.Run(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if diff := cmp.Diff(words, got); diff != "" {
		t.Errorf("words through Quote and the shell (-want +got):\n%s", diff)
	}
}

// listDir returns the names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func mode(t *testing.T, p string) fs.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode()
}

func TestFiles(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := f.dial(t)
	ctx := context.Background()
	dir := t.TempDir()
	conf := filepath.Join(dir, "etc/fbs/fbs.conf")
	if _, err := c.ReadFile(ctx, conf); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadFile of a missing file: %v", err)
	}
	for _, content := range []string{"[worker]\nconcurrency = 1\n", "[worker]\nconcurrency = 2\n"} {
		if err := c.WriteFile(ctx, deploy.InstallFile{Path: conf, Mode: 0o644, Owner: f.owner, Group: f.group, Content: []byte(content)}); err != nil {
			t.Fatalf("WriteFile: %v", err)
		}
		got, err := c.ReadFile(ctx, conf)
		if err != nil || string(got) != content {
			t.Fatalf("ReadFile after WriteFile = %q, %v; want %q", got, err, content)
		}
		if m := mode(t, conf); m != 0o644 {
			t.Errorf("mode %v, want 0644", m)
		}
	}
	if diff := cmp.Diff([]string{"fbs.conf"}, listDir(t, filepath.Dir(conf))); diff != "" {
		t.Errorf("temporary files left (-want +got):\n%s", diff)
	}

	secret := filepath.Join(dir, "etc/fbs/secrets/smtp-password")
	if err := c.WriteFile(ctx, deploy.InstallFile{Path: secret, Mode: 0o600, Owner: f.owner, Group: f.group, Content: []byte("s3cret\n"), Secret: true}); err != nil {
		t.Fatalf("WriteFile of a secret: %v", err)
	}
	if m := mode(t, secret); m != 0o600 {
		t.Errorf("secret mode %v, want 0600", m)
	}
	if m := mode(t, filepath.Dir(secret)); m != fs.ModeDir|0o750 {
		t.Errorf("secret directory mode %v, want drwxr-x---", m)
	}
	st, _ := os.Stat(secret)
	if uid := st.Sys().(*syscall.Stat_t).Uid; int(uid) != os.Getuid() {
		t.Errorf("secret owned by uid %d, want %d", uid, os.Getuid())
	}

	if err := c.WriteFile(ctx, deploy.InstallFile{Path: "relative/path", Content: []byte("x")}); err == nil {
		t.Error("WriteFile of a relative path succeeded")
	}
	if err := c.WriteFile(ctx, deploy.InstallFile{Path: filepath.Join(dir, "x"), Mode: 0o644, Owner: "no-such-user-fbs", Content: []byte("x")}); err == nil {
		t.Error("WriteFile owned by a missing user succeeded")
	}
	if diff := cmp.Diff([]string{"etc"}, listDir(t, dir)); diff != "" {
		t.Errorf("a failed WriteFile left files (-want +got):\n%s", diff)
	}
}

func TestInstallBinary(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := f.dial(t)
	ctx := context.Background()
	local := t.TempDir()
	v1, v2 := filepath.Join(local, "fbs-1"), filepath.Join(local, "fbs-2")
	if err := os.WriteFile(v1, []byte("#!/bin/sh\necho 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(v2, []byte("#!/bin/sh\necho 2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "usr/local/bin/fbs")
	if err := c.RestorePrevious(ctx, dest); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("RestorePrevious with nothing to restore: %v", err)
	}
	// The host is this machine: what is installed is read here.
	installed := func() string {
		b, err := os.ReadFile(dest)
		if err != nil {
			t.Fatalf("read the installed binary: %v", err)
		}
		return strings.TrimSpace(strings.TrimPrefix(string(b), "#!/bin/sh\necho "))
	}
	if err := c.InstallBinary(ctx, v1, dest); err != nil {
		t.Fatalf("InstallBinary: %v", err)
	}
	if got := installed(); got != "1" {
		t.Fatalf("installed binary says %q", got)
	}
	if m := mode(t, dest); m != 0o755 {
		t.Errorf("mode %v, want 0755", m)
	}
	if _, err := os.Stat(dest + PrevSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a first install made %s: %v", dest+PrevSuffix, err)
	}
	if err := c.InstallBinary(ctx, v2, dest); err != nil {
		t.Fatalf("InstallBinary of the upgrade: %v", err)
	}
	if got := installed(); got != "2" {
		t.Fatalf("upgraded binary says %q", got)
	}
	if prev, _ := os.ReadFile(dest + PrevSuffix); string(prev) != "#!/bin/sh\necho 1\n" {
		t.Errorf("%s holds %q, want the first binary", dest+PrevSuffix, prev)
	}
	if err := c.RestorePrevious(ctx, dest); err != nil {
		t.Fatalf("RestorePrevious: %v", err)
	}
	if got := installed(); got != "1" {
		t.Fatalf("restored binary says %q", got)
	}
	if diff := cmp.Diff([]string{"fbs"}, listDir(t, filepath.Dir(dest))); diff != "" {
		t.Errorf("files beside the binary (-want +got):\n%s", diff)
	}
	if err := c.InstallBinary(ctx, filepath.Join(local, "missing"), dest); err == nil {
		t.Error("InstallBinary of a missing file succeeded")
	}
}

func TestSHA256(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := f.dial(t)
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := c.SHA256(context.Background(), p)
	if want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; err != nil || got != want {
		t.Errorf("SHA256 = %q, %v; want %q", got, err, want)
	}
	if _, err := c.SHA256(context.Background(), p+".missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("SHA256 of a missing file: %v", err)
	}
}

func TestOSFamily(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := f.dial(t)
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		t.Skipf("no /etc/os-release here: %v", err)
	}
	want, wantErr := deploy.ParseOSRelease(b)
	got, err := c.OSFamily(context.Background())
	if (err == nil) != (wantErr == nil) || got != want {
		t.Errorf("OSFamily = %q, %v; want %q, %v", got, err, want, wantErr)
	}
}
