package staging

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/testing/ftptest"
)

func TestFTPSuite(t *testing.T) {
	t.Parallel()
	runSuite(t, func(t *testing.T) env {
		srv := ftptest.Start(t, ftptest.Options{})
		url := "ftp://" + srv.Addr() + "/pub/staging"
		return env{url: url, dir: filepath.Join(srv.Pub, "staging"), base: url}
	})
}

func TestFTPSSuite(t *testing.T) {
	t.Parallel()
	runSuite(t, func(t *testing.T) env {
		srv := ftptest.Start(t, ftptest.Options{TLS: true})
		url := "ftps://" + srv.Addr() + "/pub/staging"
		return env{url: url, opts: Options{Egress: egress.Open(), CAFile: srv.CAFile}, dir: filepath.Join(srv.Pub, "staging"), base: url}
	})
}

// The original service's staging value: a bare host is anonymous FTP into
// pub/ (here on the test server's port).
func TestFTPBareHost(t *testing.T) {
	t.Parallel()
	srv := ftptest.Start(t, ftptest.Options{})
	f, b := writeRandom(t, t.TempDir(), "boot.iso", 5000)
	id := tasks.NewBuildID()
	s := openEnv(t, env{url: srv.Addr()}, newLog(t))
	arts, err := s.Put(context.Background(), id, []string{f})
	if err != nil {
		t.Fatal(err)
	}
	if want := "ftp://" + srv.Addr() + "/pub/" + id + "/boot.iso"; arts[0].URL != want {
		t.Errorf("URL %s, want %s", arts[0].URL, want)
	}
	checkStaged(t, filepath.Join(srv.Pub, id), map[string][]byte{"boot.iso": b})
}

func TestFTPFailures(t *testing.T) {
	t.Parallel()
	srv := ftptest.Start(t, ftptest.Options{})
	tlsSrv := ftptest.Start(t, ftptest.Options{TLS: true})
	f, _ := writeRandom(t, t.TempDir(), "a.iso", 1000)
	for _, tc := range []struct {
		name string
		url  string
		opts Options
		want string
	}{
		// vsftpd here is anonymous-only: any named login is refused
		// (after USER, so the password is never even sent).
		{"login refused", "ftp://fbs@" + srv.Addr() + "/pub", Options{Egress: egress.Open(), Passwords: map[string]string{"127.0.0.1": "s3cret"}}, "log in as fbs: This FTP server is anonymous only"},
		{"login refused, password in a local URL", "ftp://fbs:s3cret@" + srv.Addr() + "/pub", Options{Egress: egress.Open()}, "log in as fbs: This FTP server is anonymous only"},
		{"no password configured", "ftp://fbs@" + srv.Addr() + "/pub", Options{Egress: egress.Open()}, "no password for FTP user fbs on 127.0.0.1"},
		// The anonymous root itself belongs to root.
		{"not writable", "ftp://" + srv.Addr() + "/", Options{Egress: egress.Open()}, "make directory /"},
		{"untrusted certificate", "ftps://" + tlsSrv.Addr() + "/pub", Options{Egress: egress.Open()}, "certificate signed by unknown authority"},
		{"plain FTP where TLS is required", "ftp://" + tlsSrv.Addr() + "/pub", Options{Egress: egress.Open()}, "Anonymous sessions must use encryption"},
		{"nobody listening", "ftp://127.0.0.1:1/pub", Options{Egress: egress.Open()}, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log := newLog(t)
			tc.opts.Logf = log.logf
			s, err := Open(context.Background(), tc.url, tc.opts)
			if err == nil {
				_, err = s.Put(context.Background(), tasks.NewBuildID(), []string{f})
				s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(log.String(), "s3cret") {
				t.Errorf("password leaked: %v / %s", err, log)
			}
		})
	}
}

// ftpProxy sits on an FTP control connection. It can make the server's
// SIZE replies lie, and it routes passive data connections through a
// cutProxy so a transfer can be cut in the middle.
type ftpProxy struct {
	l        net.Listener
	target   string
	lieSize  bool
	cutAfter int64

	mu   sync.Mutex
	data *cutProxy // shared by the data connections: one cut at most
	wg   sync.WaitGroup
	t    testing.TB
}

func startFTPProxy(t testing.TB, target string, lieSize bool, cutAfter int64) *ftpProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &ftpProxy{l: l, target: target, lieSize: lieSize, cutAfter: cutAfter, t: t}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		l.Close()
		p.wg.Wait()
	})
	return p
}

var (
	epsvRE = regexp.MustCompile(`^229 (.*)\(\|\|\|(\d+)\|\)`)
	sizeRE = regexp.MustCompile(`^213 (\d{1,11})\r?\n$`)
)

func (p *ftpProxy) serve() {
	defer p.wg.Done()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := p.l.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.t.Errorf("ftp proxy: %v", err)
			}
			return
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			defer c.Close()
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				p.t.Errorf("ftp proxy: %v", err)
				return
			}
			defer up.Close()
			go func() {
				io.Copy(up, c)
				up.Close()
			}()
			r := bufio.NewReader(up)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if m := sizeRE.FindStringSubmatch(line); m != nil && p.lieSize {
					n, _ := strconv.ParseInt(m[1], 10, 64)
					line = fmt.Sprintf("213 %d\r\n", n+1)
				}
				if m := epsvRE.FindStringSubmatch(line); m != nil {
					line = fmt.Sprintf("229 %s(|||%d|)\r\n", m[1], p.dataProxy(m[2]))
				}
				if _, err := io.WriteString(c, line); err != nil {
					return
				}
			}
		}()
	}
}

// dataProxy starts a proxy to the server's passive port and returns its port.
func (p *ftpProxy) dataProxy(port string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	cut := p.cutAfter
	if p.data != nil && p.data.cut.Load() {
		cut = 0
	}
	dp := startProxy(p.t, net.JoinHostPort("127.0.0.1", port), cut)
	if cut > 0 {
		p.data = dp
	}
	return dp.l.Addr().(*net.TCPAddr).Port
}

func TestFTPWrongSize(t *testing.T) {
	t.Parallel()
	srv := ftptest.Start(t, ftptest.Options{})
	proxy := startFTPProxy(t, srv.Addr(), true, 0)
	f, _ := writeRandom(t, t.TempDir(), "a.iso", 1000)
	id := tasks.NewBuildID()
	s := openEnv(t, env{url: "ftp://" + proxy.l.Addr().String() + "/pub"}, newLog(t))
	_, err := s.Put(context.Background(), id, []string{f})
	if err == nil || !strings.Contains(err.Error(), "verification failed: remote size 1001, local size 1000") {
		t.Fatalf("Put with a lying server: %v, want a verification failure", err)
	}
	ents, _ := os.ReadDir(filepath.Join(srv.Pub, id))
	if len(ents) != 1 || ents[0].Name() != MarkerName {
		t.Errorf("files left after a failed verification: %v, want the marker only", ents)
	}
}

func TestFTPResumeAfterCut(t *testing.T) {
	t.Parallel()
	srv := ftptest.Start(t, ftptest.Options{})
	const size, cut = 24 << 20, 10 << 20
	proxy := startFTPProxy(t, srv.Addr(), false, cut)
	f, b := writeRandom(t, t.TempDir(), "live.iso", size)
	id := tasks.NewBuildID()
	url := "ftp://" + proxy.l.Addr().String() + "/pub"

	log := newLog(t)
	s, err := Open(context.Background(), url, Options{Egress: egress.Open(), Logf: log.logf})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(context.Background(), id, []string{f})
	s.Close()
	if err == nil {
		t.Fatal("Put through a cut data connection succeeded")
	}
	t.Logf("cut Put: %v", err)
	dir := filepath.Join(srv.Pub, id)
	if _, err := os.Stat(filepath.Join(dir, "live.iso")); !os.IsNotExist(err) {
		t.Fatalf("a partial file is visible under the final name: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, ".live.iso.part"))
	if err != nil || fi.Size() == 0 || fi.Size() >= size {
		t.Fatalf("part file after the cut: %v, %v", fi, err)
	}

	s2 := openEnv(t, env{url: url}, log)
	if _, err := s2.Put(context.Background(), id, []string{f}); err != nil {
		t.Fatalf("resumed Put: %v", err)
	}
	if !strings.Contains(log.String(), fmt.Sprintf("resuming at byte %d", fi.Size())) {
		t.Errorf("second Put did not resume from %d; log:\n%s", fi.Size(), log)
	}
	checkStaged(t, dir, map[string][]byte{"live.iso": b})
}
