package buildlog_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/kickstarts"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/testing/startstoptest"
	"github.com/fedora-fbs/fbs/worker/buildlog"
)

func TestLogLinesAndTail(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "build.log")
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	l, err := buildlog.Create(path, buildlog.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	l.Printf("stage %s: started", "build")
	for i := 0; i < 25; i++ {
		fmt.Fprintf(l, "tool line %d\n", i)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 26 || l.LineCount() != 26 {
		t.Fatalf("%d lines in file, LineCount() = %d; want 26", len(lines), l.LineCount())
	}
	if want := "2026-11-22T10:00:00.000Z fbs | stage build: started"; lines[0] != want {
		t.Errorf("line 1 = %q, want %q", lines[0], want)
	}
	tail := l.Tail()
	if len(tail) != buildlog.TailLines || tail[len(tail)-1] != "tool line 24" {
		t.Errorf("Tail = %q", tail)
	}
	// Reopening continues the count.
	l2, err := buildlog.Create(path, buildlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.LineCount() != 26 {
		t.Errorf("reopened LineCount() = %d, want 26", l2.LineCount())
	}
}

// TestPublisherSurvivesRedisRestart writes lines while Redis is down and
// checks that the stream ends up with every line exactly once.
func TestPublisherSurvivesRedisRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	st := builds.NewStore(srv.Client())
	id := tasks.NewBuildID()
	path := filepath.Join(t.TempDir(), "build.log")
	pub := buildlog.NewPublisher(st, id, path, buildlog.PublisherOptions{Batch: 100, Retry: 50 * time.Millisecond})
	l, err := buildlog.Create(path, buildlog.Options{Notify: pub.Wake})
	if err != nil {
		t.Fatal(err)
	}
	pub.Start(ctx)
	write := func(from, to int) {
		for i := from; i < to; i++ {
			fmt.Fprintf(l, "line %d\n", i)
		}
	}
	write(0, 500)
	waitLines(t, st, id, 500)
	srv.Restart() // empty again: what was published is gone, like a failover
	write(500, 1000)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	pub.Stop()
	if err := pub.Err(); err != nil {
		t.Fatal(err)
	}
	got, _, err := st.ReadLog(ctx, id, 0, 10000, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The restarted Redis lost lines 1-500: the publisher notices the gap
	// and publishes them again from the file, each line exactly once.
	if len(got) != 1000 {
		t.Errorf("%d lines in the stream, want 1000", len(got))
	}
	seen := map[int]bool{}
	for _, g := range got {
		if seen[g.N] {
			t.Fatalf("line %d published twice", g.N)
		}
		seen[g.N] = true
		if !strings.HasSuffix(g.Text, fmt.Sprintf("line %d", g.N-1)) {
			t.Fatalf("line %d has text %q", g.N, g.Text)
		}
	}
	for n := 1; n <= 1000; n++ {
		if !seen[n] {
			t.Fatalf("line %d lost after the Redis restart", n)
		}
	}
}

func TestPublisherCatchesUpAfterOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	st := builds.NewStore(srv.Client())
	id := tasks.NewBuildID()
	path := filepath.Join(t.TempDir(), "build.log")
	pub := buildlog.NewPublisher(st, id, path, buildlog.PublisherOptions{Batch: 64, Retry: 50 * time.Millisecond})
	l, err := buildlog.Create(path, buildlog.Options{Notify: pub.Wake})
	if err != nil {
		t.Fatal(err)
	}
	pub.Start(ctx)
	for i := 0; i < 100; i++ {
		fmt.Fprintf(l, "line %d\n", i)
	}
	waitLines(t, st, id, 100)
	srv.Stop()
	for i := 100; i < 300; i++ {
		fmt.Fprintf(l, "line %d\n", i)
	}
	l.Close()
	// Redis comes back empty (it keeps nothing): the publisher must notice
	// and publish all 300 lines again, once each.
	srv.Restart()
	pub.Stop()
	if err := pub.Err(); err != nil {
		t.Fatal(err)
	}
	got, _, _ := st.ReadLog(ctx, id, 0, 1000, 0)
	if len(got) != 300 {
		t.Fatalf("%d lines in the stream after the outage, want 300", len(got))
	}
	for i, g := range got {
		if g.N != i+1 || !strings.HasSuffix(g.Text, fmt.Sprintf("line %d", i)) {
			t.Fatalf("entry %d is line %d %q", i, g.N, g.Text)
		}
	}
}

func waitLines(t *testing.T, st *builds.Store, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		last, _ := st.LastLogLine(context.Background(), id)
		if last >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream has %d lines, want %d", last, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPublisherFileShapes publishes files written in awkward pieces (lines
// split across writes, lines longer than the publisher's buffer, empty
// lines) by a publisher that starts with part of the log already in the
// stream (a worker restarted mid-build), and checks the stream holds the
// file's lines exactly once each.
func TestPublisherFileShapes(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	st := builds.NewStore(srv.Client())
	for _, tc := range []struct {
		name      string
		batch     int
		published int // lines already in the stream
		lines     []string
	}{
		{"short lines, small batch", 64, 0, lineSet(500, 0)},
		{"lines longer than the batch", 1000, 0, lineSet(50, 5000)},
		{"resume after line 300", 4096, 300, lineSet(1000, 0)},
		{"resume inside long lines", 512, 7, lineSet(40, 3000)},
		{"empty lines", 64, 2, []string{"", "", "a", "", "b", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			id := tasks.NewBuildID()
			if tc.published > 0 {
				var pre []builds.LogLine
				for i, s := range tc.lines[:tc.published] {
					pre = append(pre, builds.LogLine{N: i + 1, Text: s})
				}
				if _, err := st.AppendLog(ctx, id, pre, 0); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(t.TempDir(), "build.log")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			pub := buildlog.NewPublisher(st, id, path, buildlog.PublisherOptions{Batch: tc.batch, Retry: 20 * time.Millisecond})
			pub.Start(ctx)
			// Write the file in pieces of odd sizes, waking the publisher
			// after each, so it often sees half a line.
			data := []byte(strings.Join(tc.lines, "\n") + "\n")
			for len(data) > 0 {
				k := min(len(data), 1+len(data)%97+len(data)%13)
				if _, err := f.Write(data[:k]); err != nil {
					t.Fatal(err)
				}
				data = data[k:]
				pub.Wake()
			}
			pub.Stop()
			if err := pub.Err(); err != nil {
				t.Fatal(err)
			}
			got, _, err := st.ReadLog(ctx, id, 0, 1e6, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.lines) {
				t.Fatalf("%d lines in the stream, want %d", len(got), len(tc.lines))
			}
			for i, g := range got {
				if g.N != i+1 || g.Text != tc.lines[i] {
					t.Fatalf("line %d: got %d %.40q, want %.40q", i+1, g.N, g.Text, tc.lines[i])
				}
			}
		})
	}
}

// lineSet makes n distinct lines; long > 0 makes every seventh line that
// many bytes long.
func lineSet(n, long int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("line %d", i+1)
		if long > 0 && i%7 == 3 {
			lines[i] += strings.Repeat("y", long)
		}
	}
	return lines
}

// TestPublisherResync checks that a quiet build's stream, lost by a Redis
// that restarted empty, is refilled on Resync without a new line.
func TestPublisherResync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	st := builds.NewStore(srv.Client())
	id := tasks.NewBuildID()
	path := filepath.Join(t.TempDir(), "build.log")
	pub := buildlog.NewPublisher(st, id, path, buildlog.PublisherOptions{Retry: time.Hour})
	l, err := buildlog.Create(path, buildlog.Options{Notify: pub.Wake})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pub.Start(ctx)
	defer pub.Stop()
	for i := 0; i < 100; i++ {
		fmt.Fprintf(l, "line %d\n", i)
	}
	waitLines(t, st, id, 100)
	srv.Restart()
	pub.Resync()
	waitLines(t, st, id, 100)
	got, _, err := st.ReadLog(ctx, id, 0, 1000, 0)
	if err != nil || len(got) != 100 || got[0].N != 1 || !strings.HasSuffix(got[99].Text, "line 99") {
		t.Fatalf("stream after Resync: %d lines, %v", len(got), err)
	}
}

// TestPublisherStartStop checks that Stop is safe when Start never ran and
// when called twice, and that lines Redis would not take are reported by
// Err and stay in the file.
func TestPublisherStartStop(t *testing.T) {
	t.Parallel()
	st := builds.NewStore(redistest.Start(t).Client())
	startstoptest.Run(t, func(t *testing.T) startstoptest.Service {
		path := filepath.Join(t.TempDir(), "build.log")
		if err := os.WriteFile(path, []byte("one\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p := buildlog.NewPublisher(st, tasks.NewBuildID(), path, buildlog.PublisherOptions{})
		t.Cleanup(func() {
			if err := p.Err(); err != nil {
				t.Errorf("Err() = %v", err)
			}
		})
		return p
	})

	t.Run("redis away", func(t *testing.T) {
		t.Parallel()
		down := redistest.Start(t)
		path := filepath.Join(t.TempDir(), "build.log")
		if err := os.WriteFile(path, []byte("one\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p := buildlog.NewPublisher(builds.NewStore(down.Client()), tasks.NewBuildID(), path,
			buildlog.PublisherOptions{Retry: 10 * time.Millisecond, FlushTimeout: 100 * time.Millisecond})
		down.Stop()
		p.Start(context.Background())
		p.Stop()
		if err := p.Err(); err == nil || !strings.Contains(err.Error(), "publish the rest of the log") {
			t.Errorf("Err() = %v, want the lines left unpublished", err)
		}
	})
}

// TestLogRedacts checks that no line reaches the file (and so the stream,
// the page, the tail in the record and the mails) with a secret of the
// build's kickstart, whether fbs or the tool writes it.
func TestLogRedacts(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "build.log")
	r := kickstarts.Redact("rootpw --plaintext hunter2root\nuser --name=a --password='pass word'\n")
	l, err := buildlog.Create(path, buildlog.Options{Redact: r.Line})
	if err != nil {
		t.Fatal(err)
	}
	l.Printf("kickstart warning: line 1: rootpw --plaintext hunter2root")
	fmt.Fprintf(l, "anaconda: user --name=a --password='pass word'\n")
	tail := l.Tail()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	for _, secret := range []string{"hunter2root", "pass word"} {
		if strings.Contains(string(data), secret) || strings.Contains(strings.Join(tail, "\n"), secret) {
			t.Errorf("log holds %q:\n%s", secret, data)
		}
	}
	if !strings.Contains(string(data), "rootpw --plaintext "+kickstarts.Mask) {
		t.Errorf("log lacks the masked line:\n%s", data)
	}
}

// TestLogSurvivesFullDisk fills a real, small tmpfs with another file while
// a build writes its log there: no line may be lost, whether the log's
// reserved space takes them or the log keeps them until the disk has room.
func TestLogSurvivesFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	for _, tc := range []struct {
		name    string
		reserve int64
		free    bool // make room again before Close
		note    bool // the log says the disk was full
	}{
		{name: "reserved", reserve: 256 << 10},
		{name: "kept until room", reserve: -1, free: true, note: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "buildlog-full", dir).CombinedOutput(); err != nil {
				t.Skipf("mount a tmpfs on %s: %v: %s", dir, err, out)
			}
			t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
			path := filepath.Join(dir, "build.log")
			l, err := buildlog.Create(path, buildlog.Options{Reserve: tc.reserve})
			if err != nil {
				t.Fatal(err)
			}
			l.Printf("stage build: started")
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			filler := filepath.Join(dir, "filler")
			fillDisk(t, filler)
			const n = 300
			for i := 1; i <= n; i++ {
				fmt.Fprintf(l, "tool line %d %s\n", i, strings.Repeat("x", 100))
				if i%50 == 0 {
					l.Sync()
				}
			}
			if tc.free {
				if err := os.Remove(filler); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			text := string(data)
			for i := 1; i <= n; i++ {
				if c := strings.Count(text, fmt.Sprintf("tool line %d x", i)); c != 1 {
					t.Fatalf("tool line %d is in the file %d times, want once", i, c)
				}
			}
			if got := strings.Contains(text, "disk of the build log is full"); got != tc.note {
				t.Errorf("the log says the disk was full: %v, want %v", got, tc.note)
			}
			var st syscall.Stat_t
			if err := syscall.Stat(path, &st); err != nil {
				t.Fatal(err)
			}
			if used := st.Blocks * 512; used > int64(len(data))+4096 {
				t.Errorf("the closed log holds %d bytes of disk for %d of text: its reserve was not given back", used, len(data))
			}
			if lines := strings.Count(text, "\n"); lines != l.LineCount() {
				t.Errorf("%d lines in the file, LineCount() = %d", lines, l.LineCount())
			}
		})
	}
}

// fillDisk writes path until its file system is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill the disk: %v", err)
			}
			return
		}
	}
}
