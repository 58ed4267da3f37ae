package siderepo_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/kojitest"
	"github.com/fedora-fbs/fbs/testing/rpmtest"
	"github.com/fedora-fbs/fbs/worker/progress"
	"github.com/fedora-fbs/fbs/worker/siderepo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture is a hub with three builds:
//
//	1 fbs-hello-1.0-1: fbs-hello (x86_64, 1 MB), fbs-hello-data (noarch),
//	  fbs-hello-debuginfo (x86_64, must be skipped)
//	2 fbs-extra-2.0-3: fbs-extra-doc (noarch)
//	3 fbs-native-1-1:  fbs-native (x86_64) and its debuginfo only
type fixture struct {
	hub   *kojitest.Hub
	cache string
	log   *logBuf
}

func setup(t *testing.T) fixture {
	t.Helper()
	hub := kojitest.New(t)
	hub.AddBuild(t, 1, rpmtest.Build(t, rpmtest.Spec{Name: "fbs-hello", Version: "1.0", Release: "1", Packages: []rpmtest.Package{
		{Name: "fbs-hello", Payload: 1 << 20},
		{Name: "fbs-hello-data", NoArch: true},
		{Name: "fbs-hello-debuginfo"},
	}})...)
	hub.AddBuild(t, 2, rpmtest.Build(t, rpmtest.Spec{Name: "fbs-extra", Version: "2.0", Release: "3", Packages: []rpmtest.Package{
		{Name: "fbs-extra-doc", NoArch: true, Payload: 64 << 10},
	}})...)
	hub.AddBuild(t, 3, rpmtest.Build(t, rpmtest.Spec{Name: "fbs-native", Version: "1", Release: "1", Packages: []rpmtest.Package{
		{Name: "fbs-native"},
		{Name: "fbs-native-debuginfo"},
	}})...)
	return fixture{hub: hub, cache: t.TempDir(), log: &logBuf{}}
}

func (f fixture) resolver(t *testing.T, mod func(*siderepo.Config)) *siderepo.Resolver {
	t.Helper()
	cfg := siderepo.Config{
		HubURL: f.hub.URL, PackagesURL: f.hub.PackagesURL, CacheDir: f.cache,
		HubTimeout: 5 * time.Second, Retries: 2, Backoff: time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	r, err := siderepo.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// logBuf collects progress lines.
type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logBuf) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// repoquery lists a repository's packages with Debian's dnf.
func repoquery(t *testing.T, dir string) []string {
	t.Helper()
	return rpmtest.RepoQuery(t, dir)
}

func TestBuild(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.resolver(t, nil)
	dir := filepath.Join(t.TempDir(), "repo")
	var pubs []tasks.Progress
	var mu sync.Mutex
	// A clock moving a second per reading, reports due every second:
	// each chunk of the downloads is reported.
	var clk atomic.Int64
	rep := &progress.Reporter{
		Log:      f.log.logf,
		Publish:  func(p tasks.Progress) { mu.Lock(); pubs = append(pubs, p); mu.Unlock() },
		Interval: time.Second,
		Now:      func() time.Time { return time.Unix(clk.Add(1), 0) },
	}
	got, err := r.Build(context.Background(), dir, "x86_64", []string{"fbs-hello-1.0-1"}, []string{"2", "1"}, rep)
	if err != nil {
		t.Fatalf("Build: %v\nlog:\n%s", err, f.log)
	}
	if got != dir {
		t.Errorf("Build returned %q, want %q", got, dir)
	}
	want := []string{"fbs-extra-doc-2.0-3.noarch", "fbs-hello-1.0-1.x86_64", "fbs-hello-data-1.0-1.noarch"}
	if diff := cmp.Diff(want, repoquery(t, dir)); diff != "" {
		t.Errorf("dnf repoquery (-want +got):\n%s", diff)
	}
	for _, line := range []string{"side repo: 3 RPMs", "[3/3]", "side repo: ready"} {
		if !f.log.has(line) {
			t.Errorf("log lacks %q:\n%s", line, f.log)
		}
	}
	if n := f.hub.Gets("fbs-hello-debuginfo-1.0-1.x86_64.rpm"); n != 0 {
		t.Errorf("debuginfo was downloaded %d times", n)
	}
	// The three downloads count as one: progress lines in the log, and
	// a last report of every byte.
	lines := 0
	for _, l := range strings.Split(f.log.String(), "\n") {
		if p, ok := tasks.ParseProgressLine(l); ok {
			lines++
			if p.Stage != tasks.StageSideRepo || p.Item != "3 RPMs from Koji" || p.Total <= 0 || p.Done > p.Total {
				t.Errorf("progress line %q", l)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if lines == 0 || len(pubs) != lines+1 {
		t.Fatalf("%d progress lines, %d reports; want some, and one more report than lines:\n%s", lines, len(pubs), f.log)
	}
	if last := pubs[len(pubs)-1]; last.Done != last.Total {
		t.Errorf("last report %+v: want every byte done", last)
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.resolver(t, nil)
	got, err := r.Lookup(context.Background(), "aarch64", nil, []string{"1"})
	if err != nil {
		t.Fatal(err)
	}
	// Only noarch for aarch64; the URL follows Koji's packages layout.
	want := []siderepo.RPM{{
		Name: "fbs-hello-data", Version: "1.0", Release: "1", Arch: "noarch", Build: "fbs-hello-1.0-1",
		URL: f.hub.PackagesURL + "/fbs-hello/1.0/1/noarch/fbs-hello-data-1.0-1.noarch.rpm",
	}}
	if diff := cmp.Diff(want, got, cmp.FilterPath(func(p cmp.Path) bool {
		n := p.Last().String()
		return n == ".Size" || n == ".PayloadHash"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("Lookup (-want +got):\n%s", diff)
	}
	if got[0].Size <= 0 || len(got[0].PayloadHash) != 32 {
		t.Errorf("Lookup gave size %d, payloadhash %q", got[0].Size, got[0].PayloadHash)
	}
}

func TestLookupErrors(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.hub.AddBuild(t, 4, rpmtest.Build(t, rpmtest.Spec{Name: "fbs-gone", Version: "1", Release: "1", Packages: []rpmtest.Package{{Name: "fbs-gone"}}})...)
	f.hub.SetState(4, kojitest.StateDeleted)
	r := f.resolver(t, nil)
	tests := []struct {
		name       string
		arch       string
		nvrs, bids []string
		want       error
		mention    string
	}{
		{"unknown NVR", "x86_64", []string{"fbs-hello-9-9"}, nil, siderepo.ErrUnknownBuild, `NVR fbs-hello-9-9`},
		{"unknown build ID", "x86_64", nil, []string{"999"}, siderepo.ErrUnknownBuild, "build ID 999"},
		{"deleted build", "x86_64", nil, []string{"4"}, siderepo.ErrUnknownBuild, "fbs-gone-1-1 (build ID 4) is deleted"},
		{"no RPM for arch", "aarch64", []string{"fbs-native-1-1"}, nil, siderepo.ErrNoRPMs, "fbs-native-1-1 (NVR fbs-native-1-1) has no RPM for aarch64"},
		{"malformed NVR", "x86_64", []string{"wget"}, nil, siderepo.ErrMalformed, `"wget"`},
		{"malformed NVR with slash", "x86_64", []string{"a/b-1-1"}, nil, siderepo.ErrMalformed, `"a/b-1-1"`},
		{"malformed build ID", "x86_64", nil, []string{"12a"}, siderepo.ErrMalformed, `"12a"`},
		{"signed build ID", "x86_64", nil, []string{"+5"}, siderepo.ErrMalformed, `"+5"`},
		{"bad arch", "sparc", nil, []string{"1"}, siderepo.ErrMalformed, `"sparc"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := r.Lookup(context.Background(), tt.arch, tt.nvrs, tt.bids)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("Lookup error = %v, want %v mentioning %q", err, tt.want, tt.mention)
			}
		})
	}
}

func TestHubUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/kojihub"
	l.Close()
	r, err := siderepo.New(siderepo.Config{HubURL: url, PackagesURL: "http://127.0.0.1:1/packages", Retries: 2, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Lookup(context.Background(), "x86_64", []string{"fbs-hello-1.0-1"}, nil)
	if !errors.Is(err, siderepo.ErrHubUnavailable) || !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "3 attempts") {
		t.Errorf("Lookup error = %v, want ErrHubUnavailable naming %s after 3 attempts", err, url)
	}
}

func TestHubSlow(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.hub.Stall()
	r := f.resolver(t, func(c *siderepo.Config) { c.HubTimeout = 100 * time.Millisecond; c.Retries = 1 })
	_, err := r.Lookup(context.Background(), "x86_64", []string{"fbs-hello-1.0-1"}, nil)
	if !errors.Is(err, siderepo.ErrHubUnavailable) {
		t.Errorf("Lookup error = %v, want ErrHubUnavailable", err)
	}
	if n := f.hub.Calls("getBuild"); n != 2 {
		t.Errorf("hub got %d getBuild calls, want 2 (one retry)", n)
	}
}

func TestResume(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const file = "fbs-hello-1.0-1.x86_64.rpm"
	f.hub.CutAfter(file, 300<<10, 2) // two drops: resumes at 300 KiB, then 600 KiB
	r := f.resolver(t, nil)
	dir := filepath.Join(t.TempDir(), "repo")
	if _, err := r.Build(context.Background(), dir, "x86_64", []string{"fbs-hello-1.0-1"}, nil, &progress.Reporter{Log: f.log.logf}); err != nil {
		t.Fatalf("Build: %v\nlog:\n%s", err, f.log)
	}
	want := []string{file + " bytes=307200-", file + " bytes=614400-"}
	if diff := cmp.Diff(want, f.hub.Ranges()); diff != "" {
		t.Errorf("Range requests (-want +got):\n%s", diff)
	}
	if !f.log.has("resuming " + file + " at 307200") {
		t.Errorf("log does not tell of the resume:\n%s", f.log)
	}
	if diff := cmp.Diff([]string{"fbs-hello-1.0-1.x86_64", "fbs-hello-data-1.0-1.noarch"}, repoquery(t, dir)); diff != "" {
		t.Errorf("dnf repoquery (-want +got):\n%s", diff)
	}
}

func TestChecksumMismatch(t *testing.T) {
	t.Parallel()
	const file = "fbs-extra-doc-2.0-3.noarch.rpm"
	tests := []struct {
		name    string
		corrupt int
		wantErr bool
	}{
		{"refetched once", 1, false},
		{"fails after refetch", 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.hub.Corrupt(file, tt.corrupt)
			r := f.resolver(t, nil)
			_, err := r.Build(context.Background(), t.TempDir(), "x86_64", nil, []string{"2"}, &progress.Reporter{Log: f.log.logf})
			if tt.wantErr != (err != nil) {
				t.Fatalf("Build error = %v, want error %v\nlog:\n%s", err, tt.wantErr, f.log)
			}
			if err != nil && (!errors.Is(err, siderepo.ErrChecksum) || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "RPMTAG_SIGMD5")) {
				t.Errorf("Build error = %v, want ErrChecksum naming %s and the payload MD5", err, file)
			}
			if n := f.hub.Gets(file); n != 2 {
				t.Errorf("%s fetched %d times, want 2", file, n)
			}
		})
	}
}

func TestCacheHit(t *testing.T) {
	t.Parallel()
	f := setup(t)
	r := f.resolver(t, nil)
	ctx := context.Background()
	before, err := r.Lookup(ctx, "x86_64", []string{"fbs-hello-1.0-1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range before {
		if p.Cached {
			t.Errorf("Lookup sees %s in an empty cache", p.File())
		}
	}
	first := filepath.Join(t.TempDir(), "first")
	if _, err := r.Build(ctx, first, "x86_64", []string{"fbs-hello-1.0-1"}, nil, &progress.Reporter{Log: f.log.logf}); err != nil {
		t.Fatal(err)
	}
	gets := f.hub.TotalGets()
	if gets != 2 {
		t.Errorf("first build made %d GETs, want 2", gets)
	}
	// A second resolver on the same cache directory, as after a restart.
	r2 := f.resolver(t, nil)
	second := filepath.Join(t.TempDir(), "second")
	log := &logBuf{}
	if _, err := r2.Build(ctx, second, "x86_64", []string{"fbs-hello-1.0-1"}, nil, &progress.Reporter{Log: log.logf}); err != nil {
		t.Fatal(err)
	}
	if n := f.hub.TotalGets(); n != gets {
		t.Errorf("second build made %d GETs, want none", n-gets)
	}
	if !log.has("(2 from cache)") {
		t.Errorf("log does not tell of the cache hits:\n%s", log)
	}
	if diff := cmp.Diff(repoquery(t, first), repoquery(t, second)); diff != "" {
		t.Errorf("repos differ (-first +second):\n%s", diff)
	}
	rpms, err := r2.Lookup(ctx, "x86_64", []string{"fbs-hello-1.0-1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rpms {
		if !p.Cached {
			t.Errorf("Lookup does not see %s in the cache", p.File())
		}
	}
}

func TestEviction(t *testing.T) {
	t.Parallel()
	f := setup(t)
	// Room for build 1 (about 1 MB) or build 2, not both.
	r := f.resolver(t, func(c *siderepo.Config) { c.CacheMax = 1100 << 10 })
	ctx := context.Background()
	build := func(bid string) {
		t.Helper()
		if _, err := r.Build(ctx, t.TempDir(), "x86_64", nil, []string{bid}, &progress.Reporter{Log: f.log.logf}); err != nil {
			t.Fatal(err)
		}
	}
	const big, small = "fbs-hello-1.0-1.x86_64.rpm", "fbs-extra-doc-2.0-3.noarch.rpm"
	build("1")
	build("2") // evicts build 1's RPMs, the least recently used
	build("2") // cache hit
	build("1") // downloads again
	got := map[string]int{big: f.hub.Gets(big), small: f.hub.Gets(small)}
	if diff := cmp.Diff(map[string]int{big: 2, small: 1}, got); diff != "" {
		t.Errorf("GETs (-want +got):\n%s", diff)
	}
	if !f.log.has("evicted") {
		t.Errorf("log does not tell of evictions:\n%s", f.log)
	}
	var total int64
	blobs, _ := filepath.Glob(filepath.Join(f.cache, "verified", "*.rpm"))
	for _, b := range blobs {
		fi, err := os.Stat(b)
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
	}
	if total > 1100<<10 {
		t.Errorf("cache holds %d bytes, more than its cap", total)
	}
}

// TestCacheMigration starts a resolver on a cache left by the layout fbs used
// before the cache was addressed by Koji's checksum (blobs/<sha256>.rpm and
// index/<payloadhash>-<size> naming the blob): a blob the index vouches for
// is kept and served without downloading; one whose size is wrong, or that
// no index entry names, is not served and the RPM is fetched again; the old
// directories are gone afterwards.
func TestCacheMigration(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	r := f.resolver(t, nil)
	if _, err := r.Build(ctx, t.TempDir(), "x86_64", nil, []string{"1", "2"}, &progress.Reporter{Log: f.log.logf}); err != nil {
		t.Fatal(err)
	}
	rpms, err := r.Lookup(ctx, "x86_64", nil, []string{"1", "2"})
	if err != nil {
		t.Fatal(err)
	}
	const kept, shortened, unindexed = "fbs-hello-1.0-1.x86_64.rpm", "fbs-hello-data-1.0-1.noarch.rpm", "fbs-extra-doc-2.0-3.noarch.rpm"
	// Rewrite the cache into the old layout.
	for _, d := range []string{"blobs", "index"} {
		if err := os.Mkdir(filepath.Join(f.cache, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range rpms {
		key := fmt.Sprintf("%s-%d", p.PayloadHash, p.Size)
		file := filepath.Join(f.cache, "verified", key+".rpm")
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		sum := fmt.Sprintf("%x", sha256.Sum256(b))
		blob := filepath.Join(f.cache, "blobs", sum+".rpm")
		if err := os.Rename(file, blob); err != nil {
			t.Fatal(err)
		}
		switch p.File() {
		case shortened:
			if err := os.Truncate(blob, p.Size-1); err != nil {
				t.Fatal(err)
			}
		case unindexed:
			continue
		}
		if err := os.WriteFile(filepath.Join(f.cache, "index", key), []byte(sum+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(f.cache, "index", "not-a-key.tmp"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	r2 := f.resolver(t, nil)
	dir := filepath.Join(t.TempDir(), "repo")
	if _, err := r2.Build(ctx, dir, "x86_64", nil, []string{"1", "2"}, &progress.Reporter{Log: f.log.logf}); err != nil {
		t.Fatalf("Build on the old cache layout: %v\nlog:\n%s", err, f.log)
	}
	got := map[string]int{kept: f.hub.Gets(kept), shortened: f.hub.Gets(shortened), unindexed: f.hub.Gets(unindexed)}
	if diff := cmp.Diff(map[string]int{kept: 1, shortened: 2, unindexed: 2}, got); diff != "" {
		t.Errorf("GETs after migration (-want +got):\n%s", diff)
	}
	for _, d := range []string{"blobs", "index"} {
		if _, err := os.Stat(filepath.Join(f.cache, d)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("old cache directory %s still there (%v)", d, err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(f.cache, "verified", "*.rpm"))
	if len(files) != 3 {
		t.Errorf("cache holds %d RPMs, want 3: %v", len(files), files)
	}
	want := []string{"fbs-extra-doc-2.0-3.noarch", "fbs-hello-1.0-1.x86_64", "fbs-hello-data-1.0-1.noarch"}
	if diff := cmp.Diff(want, repoquery(t, dir)); diff != "" {
		t.Errorf("dnf repoquery (-want +got):\n%s", diff)
	}
}
