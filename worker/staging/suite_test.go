package staging

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/worker/progress"
	"github.com/google/go-cmp/cmp"
)

// env is one staging area under test: its URL, the options to open it with,
// and the local directory that URL's dir is (every server runs here).
type env struct {
	url  string
	opts Options
	dir  string
	// base is the artifact URL prefix of the directory.
	base string
}

// logBuf collects Logf lines.
type logBuf struct {
	t  testing.TB
	mu sync.Mutex
	b  strings.Builder
}

func newLog(t testing.TB) *logBuf { return &logBuf{t: t} }

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, format+"\n", args...)
	l.t.Logf(format, args...)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// writeRandom makes a file of n random bytes named name in dir.
func writeRandom(t testing.TB, dir, name string, n int) (string, []byte) {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeRemote puts a file into the staging area behind the server's back,
// as an earlier interrupted or complete upload would have left it;
// directory and file are open to whichever user the server writes as.
func writeRemote(t testing.TB, dir, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o666); err != nil {
		t.Fatal(err)
	}
}

func openEnv(t testing.TB, e env, log *logBuf) Stager {
	t.Helper()
	e.opts.Logf = log.logf
	if e.opts.Egress == nil {
		// The test servers listen on loopback, which only [security]
		// opens to staging.
		e.opts.Egress = egress.New(egress.Config{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	}
	s, err := Open(context.Background(), e.url, e.opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", e.url, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// checkStaged compares the build directory with the files wanted and
// makes sure no temporary file is left. A build's own directory holds the
// marker besides.
func checkStaged(t testing.TB, dir string, want map[string][]byte) {
	t.Helper()
	if id := filepath.Base(dir); tasks.ValidBuildID(id) {
		want = maps.Clone(want)
		want[MarkerName] = markerText(id)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got[e.Name()] = sum(b)
	}
	w := map[string]string{}
	for n, b := range want {
		w[n] = sum(b)
	}
	if d := cmp.Diff(w, got); d != "" {
		t.Errorf("staged files (name: sha256) (-want +got):\n%s", d)
	}
}

// runSuite runs the guarantees every scheme shares against one
// staging area.
func runSuite(t *testing.T, newEnv func(t *testing.T) env) {
	e := newEnv(t)
	const mib = 1 << 20

	t.Run("put", func(t *testing.T) {
		src := t.TempDir()
		iso, isoB := writeRandom(t, src, "image.iso", 3*mib+17)
		ck, ckB := writeRandom(t, src, "CHECKSUM", 100)
		empty, _ := writeRandom(t, src, "empty.log", 0)
		id := tasks.NewBuildID()
		log := newLog(t)
		s := openEnv(t, e, log)
		got, err := s.Put(context.Background(), id, []string{iso, ck, empty})
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
		want := []tasks.Artifact{
			{Name: "image.iso", Size: int64(len(isoB)), SHA256: sum(isoB), URL: e.base + "/" + id + "/image.iso"},
			{Name: "CHECKSUM", Size: 100, SHA256: sum(ckB), URL: e.base + "/" + id + "/CHECKSUM"},
			{Name: "empty.log", Size: 0, SHA256: sum(nil), URL: e.base + "/" + id + "/empty.log"},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("Put artifacts (-want +got):\n%s", d)
		}
		checkStaged(t, filepath.Join(e.dir, id), map[string][]byte{"image.iso": isoB, "CHECKSUM": ckB, "empty.log": nil})

		// Again: everything is there already.
		got2, err := s.Put(context.Background(), id, []string{iso, ck, empty})
		if err != nil {
			t.Fatalf("second Put: %v", err)
		}
		if d := cmp.Diff(want, got2); d != "" {
			t.Errorf("second Put artifacts (-want +got):\n%s", d)
		}
		if n := strings.Count(log.String(), "already staged"); n != 3 {
			t.Errorf("second Put skipped %d files, want 3; log:\n%s", n, log)
		}
	})

	t.Run("progress", func(t *testing.T) {
		src := t.TempDir()
		iso, isoB := writeRandom(t, src, "progress.iso", 3*mib)
		id := tasks.NewBuildID()
		log := newLog(t)
		var mu sync.Mutex
		var pubs []tasks.Progress
		// A clock that moves 10 ms each time the meter reads it (once a
		// chunk): a report every ten chunks or so, as a slow link would
		// make them every two seconds.
		var clk atomic.Int64
		pe := e
		pe.opts.Progress = &progress.Reporter{
			Log:      log.logf,
			Publish:  func(p tasks.Progress) { mu.Lock(); pubs = append(pubs, p); mu.Unlock() },
			Interval: 100 * time.Millisecond,
			Now:      func() time.Time { return time.Unix(0, clk.Add(int64(10*time.Millisecond))) },
		}
		s := openEnv(t, pe, log)
		if _, err := s.Put(context.Background(), id, []string{iso}); err != nil {
			t.Fatalf("Put: %v", err)
		}
		checkStaged(t, filepath.Join(e.dir, id), map[string][]byte{"progress.iso": isoB})
		var lines []tasks.Progress
		for _, l := range strings.Split(log.String(), "\n") {
			if p, ok := tasks.ParseProgressLine(l); ok {
				lines = append(lines, p)
			}
		}
		if strings.Contains(log.String(), "hard link") {
			// Nothing was copied: nothing to report.
			if len(lines) != 0 {
				t.Errorf("%d progress lines for a hard link, want none", len(lines))
			}
			return
		}
		if len(lines) < 3 {
			t.Fatalf("%d progress lines, want several; log:\n%s", len(lines), log)
		}
		for i, p := range lines {
			if p.Stage != tasks.StageTransfer || p.Item != "progress.iso" || p.Total != int64(len(isoB)) || p.Done > p.Total || p.Rate <= 0 {
				t.Errorf("progress line %d: %+v", i, p)
			}
			if i > 0 && p.Done <= lines[i-1].Done {
				t.Errorf("progress line %d: %d bytes done, not more than before (%d)", i, p.Done, lines[i-1].Done)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if last := pubs[len(pubs)-1]; last.Done != int64(len(isoB)) {
			t.Errorf("last report: %+v, want all %d bytes done", last, len(isoB))
		}
	})

	t.Run("resume", func(t *testing.T) {
		src := t.TempDir()
		iso, isoB := writeRandom(t, src, "big.iso", 9*mib+5)
		id := tasks.NewBuildID()
		writeRemote(t, filepath.Join(e.dir, id), ".big.iso.part", isoB[:6*mib])
		log := newLog(t)
		s := openEnv(t, e, log)
		if _, err := s.Put(context.Background(), id, []string{iso}); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if !strings.Contains(log.String(), fmt.Sprintf("resuming at byte %d of %d", 6*mib, len(isoB))) {
			t.Errorf("upload did not resume from the part file; log:\n%s", log)
		}
		if strings.Contains(log.String(), "from the start") {
			t.Errorf("resume fell back to a full upload; log:\n%s", log)
		}
		checkStaged(t, filepath.Join(e.dir, id), map[string][]byte{"big.iso": isoB})
	})

	t.Run("corrupt part", func(t *testing.T) {
		src := t.TempDir()
		iso, isoB := writeRandom(t, src, "big.iso", 9*mib)
		id := tasks.NewBuildID()
		bad := bytes.Clone(isoB[:6*mib])
		bad[100] ^= 0xff
		writeRemote(t, filepath.Join(e.dir, id), ".big.iso.part", bad)
		log := newLog(t)
		s := openEnv(t, e, log)
		if _, err := s.Put(context.Background(), id, []string{iso}); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if !strings.Contains(log.String(), "uploading again from the start") {
			t.Errorf("a corrupt part file was not detected; log:\n%s", log)
		}
		checkStaged(t, filepath.Join(e.dir, id), map[string][]byte{"big.iso": isoB})
	})

	t.Run("replace stale", func(t *testing.T) {
		src := t.TempDir()
		f, b := writeRandom(t, src, "boot.iso", 1000)
		id := tasks.NewBuildID()
		stale := bytes.Repeat([]byte{'x'}, 1000)
		writeRemote(t, filepath.Join(e.dir, id), "boot.iso", stale)
		s := openEnv(t, e, newLog(t))
		if _, err := s.Put(context.Background(), id, []string{f}); err != nil {
			t.Fatalf("Put: %v", err)
		}
		checkStaged(t, filepath.Join(e.dir, id), map[string][]byte{"boot.iso": b})
	})

	t.Run("cancelled", func(t *testing.T) {
		f, _ := writeRandom(t, t.TempDir(), "a.iso", 1000)
		s := openEnv(t, e, newLog(t))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		id := tasks.NewBuildID()
		if _, err := s.Put(ctx, id, []string{f}); !errors.Is(err, context.Canceled) {
			t.Errorf("Put with a cancelled context: %v, want context.Canceled", err)
		}
		if _, err := os.Stat(filepath.Join(e.dir, id, "a.iso")); !os.IsNotExist(err) {
			t.Errorf("file staged despite the cancelled context: %v", err)
		}
	})

	t.Run("folder of a build", func(t *testing.T) {
		src := t.TempDir()
		f, b := writeRandom(t, src, "program.log", 300)
		s := openEnv(t, e, newLog(t))
		id := tasks.NewBuildID()
		arts, err := s.Put(context.Background(), id+"/logs/anaconda", []string{f})
		if err != nil {
			t.Fatal(err)
		}
		checkStaged(t, filepath.Join(e.dir, id, "logs", "anaconda"), map[string][]byte{"program.log": b})
		want := []tasks.Artifact{{Name: "program.log", Size: 300, SHA256: sum(b), URL: e.base + "/" + id + "/logs/anaconda/program.log"}}
		if d := cmp.Diff(want, arts); d != "" {
			t.Errorf("artifacts (-want +got):\n%s", d)
		}
	})

	t.Run("remove", func(t *testing.T) {
		src := t.TempDir()
		f, _ := writeRandom(t, src, "a.iso", 1000)
		l, _ := writeRandom(t, src, "program.log", 10)
		s := openEnv(t, e, newLog(t))
		id := tasks.NewBuildID()
		if _, err := s.Put(context.Background(), id, []string{f}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(context.Background(), id+"/logs/anaconda", []string{l}); err != nil {
			t.Fatal(err)
		}
		// A directory with a build's name that fbs did not stage stays.
		other := tasks.NewBuildID()
		writeRemote(t, filepath.Join(e.dir, other), "mine.iso", []byte("not fbs's"))
		if err := s.Remove(context.Background(), other); !errors.Is(err, ErrNoMarker) {
			t.Errorf("Remove(unmarked) = %v, want ErrNoMarker", err)
		}
		if _, err := os.Stat(filepath.Join(e.dir, other, "mine.iso")); err != nil {
			t.Errorf("unmarked directory touched: %v", err)
		}
		if err := s.Remove(context.Background(), tasks.NewBuildID()); !errors.Is(err, ErrNoMarker) {
			t.Errorf("Remove(missing) = %v, want ErrNoMarker", err)
		}
		if err := s.Remove(context.Background(), "../"+id); err == nil || !strings.Contains(err.Error(), "bad build ID") {
			t.Errorf("Remove(../id) = %v, want bad build ID", err)
		}
		if err := s.Remove(context.Background(), id); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		if _, err := os.Stat(filepath.Join(e.dir, id)); !os.IsNotExist(err) {
			t.Errorf("staged directory still there after Remove: %v", err)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		src := t.TempDir()
		f, _ := writeRandom(t, src, "a.iso", 10)
		s := openEnv(t, e, newLog(t))
		for _, tc := range []struct {
			id    string
			files []string
			want  string
		}{
			{"../../etc", []string{f}, `bad build ID "../../etc"`},
			{tasks.NewBuildID() + "/../x", []string{f}, `bad folder name ".."`},
			{tasks.NewBuildID() + "/", []string{f}, "bad build directory"},
			{tasks.NewBuildID() + "/logs/.hidden", []string{f}, `bad folder name ".hidden"`},
			{tasks.NewBuildID(), []string{filepath.Join(src, "missing.iso")}, "missing.iso: no such file"},
			{tasks.NewBuildID(), []string{src}, "not a regular file"},
			{tasks.NewBuildID(), []string{f, f}, "same name as"},
		} {
			_, err := s.Put(context.Background(), tc.id, tc.files)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Put(%q, %q) = %v, want error containing %q", tc.id, tc.files, err, tc.want)
			}
		}
	})
}
