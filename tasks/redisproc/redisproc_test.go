package redisproc_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks/redisproc"
	"github.com/fedora-fbs/fbs/tasks/redisurl"
)

func connect(t *testing.T, url string) redis.UniversalClient {
	t.Helper()
	opt, err := redisurl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewUniversalClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func start(t *testing.T, dir string) *redisproc.Server {
	t.Helper()
	if _, err := redisproc.Find(); err != nil {
		t.Fatal(err)
	}
	s, err := redisproc.Start(context.Background(), redisproc.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

// TestRemembers writes a key, stops the server, starts it again on the
// same directory and reads the key back from the append-only file.
func TestRemembers(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, scheme string
		dir          func(t *testing.T) string
	}{
		{"unix socket", "unix://", func(t *testing.T) string { return filepath.Join(t.TempDir(), "redis") }},
		// A path too long for a unix socket: a loopback port.
		{"loopback port", "redis://127.0.0.1:", func(t *testing.T) string {
			return filepath.Join(t.TempDir(), strings.Repeat("d", 90), "redis")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := tt.dir(t)
			s := start(t, dir)
			if !strings.HasPrefix(s.URL(), tt.scheme) {
				t.Fatalf("URL %s, want %s...", s.URL(), tt.scheme)
			}
			ctx := context.Background()
			if err := connect(t, s.URL()).Set(ctx, "k", "kept", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := s.Stop(); err != nil {
				t.Fatal(err)
			}
			if err := s.Stop(); err != nil {
				t.Fatalf("second Stop: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, redisproc.PidName)); !os.IsNotExist(err) {
				t.Errorf("pid file after stop: %v", err)
			}
			s2 := start(t, dir)
			got, err := connect(t, s2.URL()).Get(ctx, "k").Result()
			if err != nil || got != "kept" {
				t.Fatalf("after restart GET k = %q, %v; want \"kept\"\n%s", got, err, s2.LogTail(20))
			}
		})
	}
}

// TestStale starts a redis-server as a crashed fbs would have left it
// (pid file, socket, data) and checks that Start stops it, keeps its data
// and runs its own; and that a second Start on a directory in use fails.
func TestStale(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "redis")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	bin, err := redisproc.Find()
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, redisproc.SocketName)
	stale := exec.Command(bin, "--dir", dir, "--port", "0", "--unixsocket", sock, "--appendonly", "yes",
		"--save", "", "--pidfile", filepath.Join(dir, redisproc.PidName), "--logfile", filepath.Join(dir, "stale.log"))
	if err := stale.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = stale.Wait(); close(exited) }()
	t.Cleanup(func() { _ = stale.Process.Kill(); <-exited })
	ctx := context.Background()
	old := connect(t, "unix://"+sock)
	deadline := time.Now().Add(10 * time.Second)
	for old.Set(ctx, "k", "from the stale server", 0).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("stale redis-server did not answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for { // its pid file is written after it answers
		if _, err := os.Stat(filepath.Join(dir, redisproc.PidName)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("stale redis-server wrote no pid file")
		}
		time.Sleep(20 * time.Millisecond)
	}

	s := start(t, dir)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the stale redis-server still runs after Start")
	}
	if s.Pid() == stale.Process.Pid {
		t.Fatal("Start adopted the stale server")
	}
	got, err := connect(t, s.URL()).Get(ctx, "k").Result()
	if err != nil || got != "from the stale server" {
		t.Fatalf("GET k = %q, %v; want the stale server's data", got, err)
	}

	_, err = redisproc.Start(ctx, redisproc.Config{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "in use by another fbs serve") {
		t.Fatalf("second Start on %s: %v, want in use", dir, err)
	}
	if syscall.Kill(s.Pid(), 0) != nil {
		t.Fatal("the failed second Start stopped the first's server")
	}
}
