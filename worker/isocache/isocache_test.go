package isocache

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/testing/netnstest"
	"github.com/fedora-fbs/fbs/worker/progress"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// isoServer serves body at /boot.iso on 127.0.0.1 and counts requests.
type isoServer struct {
	*httptest.Server
	body     []byte
	requests atomic.Int32
}

func newISOServer(t *testing.T, size int) *isoServer {
	t.Helper()
	s := &isoServer{body: make([]byte, size)}
	if _, err := rand.Read(s.body); err != nil {
		t.Fatal(err)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.URL.Path != "/boot.iso" {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "boot.iso", time.Time{}, bytes.NewReader(s.body))
	}))
	t.Cleanup(s.Close)
	return s
}

// logs collects logf lines.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logs) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, substr) {
			n++
		}
	}
	return n
}

func checkContent(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %d bytes differing from the served %d", path, len(got), len(want))
	}
}

func TestResolveDownload(t *testing.T) {
	t.Parallel()
	srv := newISOServer(t, 1<<20)
	opts := Options{CacheDir: t.TempDir(), Egress: egress.Open()}
	ref := srv.URL + "/boot.iso"
	var l logs
	ctx := context.Background()

	p1, err := Resolve(ctx, ref, opts, l.logf)
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, p1, srv.body)

	p2, err := Resolve(ctx, ref, opts, l.logf)
	if err != nil {
		t.Fatal(err)
	}
	if p2 != p1 || srv.requests.Load() != 1 {
		t.Errorf("second Resolve: path %s (first %s), %d requests; want the cached copy and 1 request", p2, p1, srv.requests.Load())
	}

	// A corrupted cached copy is detected and downloaded again.
	if err := os.WriteFile(p1, []byte("corrupt"), 0o644); err != nil {
		t.Fatal(err)
	}
	p3, err := Resolve(ctx, ref, opts, l.logf)
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, p3, srv.body)
	if srv.requests.Load() != 2 {
		t.Errorf("after corruption: %d requests, want 2", srv.requests.Load())
	}
	entries, err := os.ReadDir(opts.CacheDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".part-") {
			t.Errorf("temporary file %s left in the cache", e.Name())
		}
	}
}

func TestResolveConcurrent(t *testing.T) {
	t.Parallel()
	srv := newISOServer(t, 4<<20)
	opts := Options{CacheDir: t.TempDir(), Egress: egress.Open()}
	ref := srv.URL + "/boot.iso"
	const n = 4
	paths := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { paths[i], errs[i] = Resolve(context.Background(), ref, opts, nil) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if paths[i] != paths[0] {
			t.Errorf("caller %d got %s, caller 0 %s", i, paths[i], paths[0])
		}
	}
	checkContent(t, paths[0], srv.body)
	if got := srv.requests.Load(); got != 1 {
		t.Errorf("%d requests for %d concurrent callers, want 1", got, n)
	}
}

func TestResolveDownloadErrors(t *testing.T) {
	t.Parallel()
	srv := newISOServer(t, 64<<10)
	tests := []struct {
		name string
		ref  string
		opts Options
		want string
	}{
		{"not found", srv.URL + "/nope.iso", Options{Egress: egress.Open()}, "HTTP 404"},
		{"over the size limit", srv.URL + "/boot.iso", Options{Egress: egress.Open(), MaxSize: 1000}, "over the limit of 1000"},
		{"no host", "http:///boot.iso", Options{Egress: egress.Open()}, "URL has no host"},
		{"other scheme", "ftp://example.org/boot.iso", Options{}, "unsupported URL scheme"},
	}
	for _, tt := range tests {
		tt.opts.CacheDir = t.TempDir()
		_, err := Resolve(context.Background(), tt.ref, tt.opts, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.ref) {
			t.Errorf("%s: err = %v, want one naming %q and containing %q", tt.name, err, tt.ref, tt.want)
		}
		entries, _ := os.ReadDir(tt.opts.CacheDir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".iso") || strings.Contains(e.Name(), ".part-") {
				t.Errorf("%s: %s left in the cache", tt.name, e.Name())
			}
		}
	}
}

// TestResolveRefused downloads from a loopback canary by address, by
// localhost, by a name that resolves to loopback only when dialled (DNS
// rebinding) and through a redirect: each is refused by the policy before
// the canary is reached, and the canary is reachable once [security]
// allows it. It runs in a loopback-only network namespace.
func TestResolveRefused(t *testing.T) {
	if !netnstest.Isolate(t) {
		return
	}
	srv := newISOServer(t, 64<<10)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	rebound := "http://" + netnstest.LoopbackName + ":" + port + "/boot.iso"
	redirect := httptest.NewServer(http.RedirectHandler(rebound, http.StatusFound))
	defer redirect.Close()
	byName := egress.New(egress.Config{AllowHosts: []string{"127.0.0.1"}})
	for _, tt := range []struct {
		name string
		ref  string
		pol  *egress.Policy
	}{
		{"loopback address", srv.URL + "/boot.iso", nil},
		{"localhost", "http://localhost:" + port + "/boot.iso", egress.New(egress.Config{})},
		{"v4-mapped loopback", "http://[::ffff:127.0.0.1]:" + port + "/boot.iso", nil},
		{"name resolving to loopback", rebound, nil},
		{"redirect to a name resolving to loopback", redirect.URL + "/boot.iso", byName},
	} {
		_, err := Resolve(context.Background(), tt.ref, Options{CacheDir: t.TempDir(), Egress: tt.pol}, nil)
		if !errors.Is(err, egress.ErrRefused) {
			t.Errorf("%s: err = %v, want a refusal of the policy", tt.name, err)
		}
	}
	if n := srv.requests.Load(); n != 0 {
		t.Fatalf("the canary was reached %d times", n)
	}
	allow := egress.New(egress.Config{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	if _, err := Resolve(context.Background(), rebound, Options{CacheDir: t.TempDir(), Egress: allow}, nil); err != nil {
		t.Fatalf("download allowed by [security]: %v", err)
	}
}

func TestResolveLocal(t *testing.T) {
	t.Parallel()
	isoDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(isoDir, "f41-boot.iso"), []byte("iso"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(isoDir, "dir.iso"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		ref        string
		allowLocal bool
		want       string // path, or "" for an error
		wantErr    string
	}{
		{"bare name", "f41-boot.iso", false, filepath.Join(isoDir, "f41-boot.iso"), ""},
		{"missing name", "f40-boot.iso", false, "", "no such file"},
		{"directory name", "dir.iso", false, "", "not a regular file"},
		{"dot dot", "..", false, "", "not a file name"},
		{"relative escape", "../x", false, "", "paths are allowed only for local builds"},
		{"absolute path", "/etc/passwd", false, "", "paths are allowed only for local builds"},
		{"absolute path, local build", "/etc/passwd", true, "/etc/passwd", ""},
		{"directory, local build", "/etc", true, "", "not a regular file"},
		{"empty", "", true, "", "iso is empty"},
	}
	for _, tt := range tests {
		got, err := Resolve(context.Background(), tt.ref, Options{ISODir: isoDir, AllowLocal: tt.allowLocal}, nil)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.ref)) {
				t.Errorf("%s: Resolve(%q) = %q, %v; want an error naming it and containing %q", tt.name, tt.ref, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: Resolve(%q) = %q, %v; want %q", tt.name, tt.ref, got, err, tt.want)
		}
	}
}

func TestResolveCancel(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.Write(make([]byte, 1000))
		w.(http.Flusher).Flush()
		close(started)
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := Options{CacheDir: t.TempDir(), Egress: egress.Open()}
	errc := make(chan error, 1)
	go func() {
		_, err := Resolve(ctx, srv.URL+"/boot.iso", opts, nil)
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want one wrapping context.Canceled", err)
	}
	entries, _ := os.ReadDir(opts.CacheDir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".iso") || strings.Contains(e.Name(), ".part-") {
			t.Errorf("%s left in the cache", e.Name())
		}
	}
}

// newThrottledServer serves size random bytes at /boot.iso in 64 KiB
// pieces, pause apart, as a slow mirror does.
func newThrottledServer(t *testing.T, size int, pause time.Duration) *isoServer {
	t.Helper()
	s := &isoServer{body: make([]byte, size)}
	if _, err := rand.Read(s.body); err != nil {
		t.Fatal(err)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		w.Header().Set("Content-Length", fmt.Sprint(len(s.body)))
		rc := http.NewResponseController(w)
		for off := 0; off < len(s.body); off += 64 << 10 {
			if _, err := w.Write(s.body[off:min(off+64<<10, len(s.body))]); err != nil {
				return
			}
			rc.Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(pause):
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// TestResolveDownloadProgress downloads from a slow server: the log gets
// progress lines with the bytes done of the total, the rate and the URL
// without its query (which may carry a token), and the reporter's
// publisher gets each report plus the final count.
func TestResolveDownloadProgress(t *testing.T) {
	t.Parallel()
	const size = 1 << 20
	srv := newThrottledServer(t, size, 40*time.Millisecond)
	var l logs
	var mu sync.Mutex
	var pubs []tasks.Progress
	opts := Options{CacheDir: t.TempDir(), Egress: egress.Open(), Progress: &progress.Reporter{
		Log:      l.logf,
		Publish:  func(p tasks.Progress) { mu.Lock(); pubs = append(pubs, p); mu.Unlock() },
		Interval: 100 * time.Millisecond,
	}}
	ref := srv.URL + "/boot.iso?token=s3cret"
	p, err := Resolve(context.Background(), ref, opts, l.logf)
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, p, srv.body)
	l.mu.Lock()
	var got []tasks.Progress
	for _, line := range l.lines {
		if pr, ok := tasks.ParseProgressLine(line); ok {
			got = append(got, pr)
		}
	}
	l.mu.Unlock()
	if len(got) < 3 {
		t.Fatalf("%d progress lines, want several:\n%s", len(got), strings.Join(l.lines, "\n"))
	}
	for i, pr := range got {
		if pr.Stage != tasks.StageFetch || pr.Total != size || pr.Item != srv.URL+"/boot.iso" || pr.Rate <= 0 {
			t.Errorf("progress line %d: %+v; want stage fetch, total %d, item %s/boot.iso, a rate", i, pr, size, srv.URL)
		}
		if i > 0 && pr.Done < got[i-1].Done {
			t.Errorf("progress line %d: %d bytes done, fewer than before (%d)", i, pr.Done, got[i-1].Done)
		}
	}
	if n := l.count("s3cret"); n > 0 {
		t.Errorf("%d log lines show the URL's token", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(pubs) != len(got)+1 || pubs[len(pubs)-1].Done != size {
		t.Errorf("published %d reports (last %+v), want %d and the final count of %d bytes", len(pubs), pubs[len(pubs)-1], len(got)+1, size)
	}
}
