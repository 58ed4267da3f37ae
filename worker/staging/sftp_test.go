package staging

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/testing/sshtest"
)

func sftpEnv(t *testing.T, opts sshtest.Options) (env, *sshtest.Server) {
	srv := sshtest.Start(t, opts)
	dir := filepath.Join(t.TempDir(), "staging")
	return env{
		url:  srv.URL(dir),
		opts: Options{Egress: egress.Open(), SSHKey: srv.KeyFile, KnownHosts: srv.KnownHosts},
		dir:  dir,
		base: srv.URL(dir),
	}, srv
}

func TestSFTPSuite(t *testing.T) {
	t.Parallel()
	runSuite(t, func(t *testing.T) env {
		e, _ := sftpEnv(t, sshtest.Options{})
		return e
	})
}

// An SFTP-only account: sha256sum cannot run, files are read back.
func TestSFTPSuiteReadBack(t *testing.T) {
	t.Parallel()
	runSuite(t, func(t *testing.T) env {
		e, _ := sftpEnv(t, sshtest.Options{NoExec: true})
		return e
	})
}

func TestSFTPVerifyMethod(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts sshtest.Options
		want string
	}{
		{"exec", sshtest.Options{}, "verifying with sha256 computed on 127.0.0.1"},
		{"sftp only", sshtest.Options{NoExec: true}, "verifying by reading files back"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _ := sftpEnv(t, tc.opts)
			f, _ := writeRandom(t, t.TempDir(), "a.iso", 1000)
			log := newLog(t)
			s := openEnv(t, e, log)
			if _, err := s.Put(context.Background(), tasks.NewBuildID(), []string{f}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log.String(), tc.want) {
				t.Errorf("log lacks %q:\n%s", tc.want, log)
			}
		})
	}
}

func TestSFTPHostKeys(t *testing.T) {
	t.Parallel()
	e, srv := sftpEnv(t, sshtest.Options{})
	_, otherKey := sshtest.NewKey(t)
	kh := func(lines ...string) string {
		p := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name       string
		knownHosts string
		pins       map[string]string
		want       string // error substring; "" for success
	}{
		{"known", srv.KnownHosts, nil, ""},
		{"hashed entry", kh(srv.KnownHostsLine(srv.HostKey, true)), nil, ""},
		{"mismatch", kh(srv.KnownHostsLine(otherKey, false)), nil, "HOST KEY MISMATCH for 127.0.0.1:"},
		{"hashed mismatch", kh(srv.KnownHostsLine(otherKey, true)), nil, "HOST KEY MISMATCH"},
		{"unknown", kh("[127.0.0.1]:1 " + strings.TrimSpace(srv.KnownHostsLine(srv.HostKey, false)[strings.Index(srv.KnownHostsLine(srv.HostKey, false), " ")+1:])), nil, "is unknown"},
		{"no known_hosts file", filepath.Join(t.TempDir(), "none"), nil, "read known_hosts"},
		{"pinned", filepath.Join(t.TempDir(), "none"), map[string]string{"127.0.0.1": srv.Fingerprint()}, ""},
		{"pinned by host:port", kh(srv.KnownHostsLine(otherKey, false)), map[string]string{srv.Addr(): srv.Fingerprint()}, ""},
		{"pinned wrong", srv.KnownHosts, map[string]string{"127.0.0.1": "SHA256:AAAA"}, "not the pinned fingerprint SHA256:AAAA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := e.opts
			opts.KnownHosts, opts.HostKeys = tc.knownHosts, tc.pins
			s, err := Open(context.Background(), e.url, opts)
			if err == nil {
				s.Close()
			}
			if tc.want == "" && err != nil {
				t.Fatalf("Open: %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Open: %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestSFTPAuthFailures(t *testing.T) {
	t.Parallel()
	e, _ := sftpEnv(t, sshtest.Options{})
	otherKey, _ := sshtest.NewKey(t)
	for _, tc := range []struct {
		name string
		opts func(o *Options)
		url  string
		want string
	}{
		{"unauthorized key", func(o *Options) { o.SSHKey = otherKey }, e.url, "authentication as "},
		{"missing key", func(o *Options) { o.SSHKey = filepath.Join(t.TempDir(), "nokey") }, e.url, "no SSH key file"},
		{"wrong password", func(o *Options) { o.SSHKey = otherKey; o.Passwords = map[string]string{"127.0.0.1": "s3cret-pw"} }, e.url, "tried key " + otherKey + ", password"},
		{"wrong password in a local URL", func(o *Options) { o.SSHKey = otherKey }, strings.Replace(e.url, "@", ":url-s3cret@", 1), "authentication as "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := e.opts
			tc.opts(&opts)
			log := newLog(t)
			opts.Logf = log.logf
			s, err := Open(context.Background(), tc.url, opts)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: %v, want error containing %q", err, tc.want)
			}
			for _, secret := range []string{"s3cret"} {
				if strings.Contains(err.Error(), secret) || strings.Contains(log.String(), secret) {
					t.Errorf("a password leaked: error %q, log %q", err, log)
				}
			}
		})
	}
}

func TestSFTPReadOnly(t *testing.T) {
	t.Parallel()
	e, _ := sftpEnv(t, sshtest.Options{ReadOnly: true})
	f, _ := writeRandom(t, t.TempDir(), "a.iso", 1000)
	s := openEnv(t, e, newLog(t))
	_, err := s.Put(context.Background(), tasks.NewBuildID(), []string{f})
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("Put to a read-only server: %v, want permission denied", err)
	}
	if !strings.Contains(err.Error(), "make directory") {
		t.Errorf("error does not say what was being done: %v", err)
	}
}

// Keys held by a real ssh-agent are used when no key file is configured.
// Not parallel: it sets SSH_AUTH_SOCK and HOME.
func TestSFTPAgent(t *testing.T) {
	e, srv := sftpEnv(t, sshtest.Options{})
	sock := sshtest.StartAgent(t, srv.KeyFile)
	t.Setenv("SSH_AUTH_SOCK", sock)
	t.Setenv("HOME", t.TempDir()) // no ~/.ssh keys to fall back on
	opts := e.opts
	opts.SSHKey = ""
	log := newLog(t)
	opts.Logf = log.logf
	s, err := Open(context.Background(), e.url, opts)
	if err != nil {
		t.Fatalf("Open with the agent's key: %v", err)
	}
	s.Close()

	t.Setenv("SSH_AUTH_SOCK", "")
	if s, err := Open(context.Background(), e.url, opts); err == nil {
		s.Close()
		t.Fatal("Open without agent or key succeeded")
	} else if !strings.Contains(err.Error(), "no SSH key file, agent key or configured password") {
		t.Errorf("Open without agent or key: %v", err)
	}
}

// A connection cut in the middle of a file leaves only the hidden part
// file; the next Put (as the retry task makes it) resumes from it and
// sends only the rest.
func TestSFTPResumeAfterCut(t *testing.T) {
	t.Parallel()
	e, srv := sftpEnv(t, sshtest.Options{})
	const size, cut = 24 << 20, 10 << 20
	proxy := startProxy(t, srv.Addr(), cut)
	url := strings.Replace(e.url, srv.Addr(), proxy.addr(), 1)
	opts := e.opts
	// known_hosts names the server's own port; the proxy's port is pinned.
	opts.HostKeys = map[string]string{"127.0.0.1": srv.Fingerprint()}
	f, b := writeRandom(t, t.TempDir(), "live.iso", size)
	id := tasks.NewBuildID()

	log := newLog(t)
	opts.Logf = log.logf
	s, err := Open(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(context.Background(), id, []string{f})
	s.Close()
	if err == nil {
		t.Fatal("Put through a cut connection succeeded")
	}
	t.Logf("cut Put: %v", err)
	<-proxy.done
	dir := filepath.Join(e.dir, id)
	if _, err := os.Stat(filepath.Join(dir, "live.iso")); !os.IsNotExist(err) {
		t.Fatalf("a partial file is visible under the final name: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, ".live.iso.part"))
	if err != nil {
		t.Fatalf("no part file after the cut: %v", err)
	}
	if fi.Size() == 0 || fi.Size() >= size {
		t.Fatalf("part file has %d bytes, want some of %d", fi.Size(), size)
	}
	before := proxy.sent.Load()

	s2, err := Open(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	arts, err := s2.Put(context.Background(), id, []string{f})
	if err != nil {
		t.Fatalf("resumed Put: %v", err)
	}
	if arts[0].SHA256 != sum(b) {
		t.Errorf("artifact sha256 %s, want %s", arts[0].SHA256, sum(b))
	}
	if !strings.Contains(log.String(), "resuming at byte") {
		t.Errorf("second Put did not resume; log:\n%s", log)
	}
	if resent := proxy.sent.Load() - before; resent > size-fi.Size()+resumeSlack+1<<20 {
		t.Errorf("resumed Put sent %d bytes, want about the %d missing", resent, size-fi.Size())
	}
	checkStaged(t, dir, map[string][]byte{"live.iso": b})
}
