// Package redistest starts a real redis-server for tests, on a free loopback
// port, with nothing persisted (or, with StartWith and Options.AppendOnly,
// an append-only file that a restart reads back), and stops it when the
// test ends.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a running redis-server owned by one test.
type Server struct {
	// Addr is host:port of the server.
	Addr string
	// URL is the redis:// URL of database 0.
	URL  string
	cmd  *exec.Cmd
	dir  string
	tb   testing.TB
	opts Options
}

// Options change the server from its defaults.
type Options struct {
	// AppendOnly turns on the append-only file (appendfsync everysec, as a
	// production broker runs): a restart, even after kill -9, reads it
	// back, losing at most the last second of writes.
	AppendOnly bool
}

// Start runs redis-server on a free port of 127.0.0.1. It fails the test if
// redis-server is not installed (CI installs it; see .ci/run).
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartWith(tb, Options{})
}

// StartWith is Start with options.
func StartWith(tb testing.TB, opts Options) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redis-server not found: install it with \"apt-get install redis-server\" or \"dnf install redis\"")
	}
	s := &Server{dir: tb.TempDir(), tb: tb, opts: opts}
	s.start(bin, freePort(tb))
	tb.Cleanup(s.Stop)
	return s
}

func (s *Server) start(bin string, port int) {
	s.tb.Helper()
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.URL = "redis://" + s.Addr + "/0"
	aof := "no"
	if s.opts.AppendOnly {
		aof = "yes"
	}
	s.cmd = exec.Command(bin,
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", aof, "--appendfsync", "everysec", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"))
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("start redis-server: %v", err)
	}
	s.waitReady()
}

func (s *Server) waitReady() {
	s.tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			s.tb.Fatalf("redis-server on %s not ready: %v\n%s", s.Addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends the server; safe to call more than once.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart stops the server and starts it again on the same port, empty
// (nothing is persisted) unless Options.AppendOnly, as after a crash of the
// broker.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	s.Revive()
}

// Shutdown stops the server with SIGTERM, as a service manager does: with
// Options.AppendOnly it flushes its append-only file first. Safe to call
// more than once.
func (s *Server) Shutdown() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Revive starts a stopped server again on the same port and directory
// (so on its append-only file, if any); it does nothing while it runs.
func (s *Server) Revive() {
	s.tb.Helper()
	if s.cmd != nil {
		return
	}
	_, p, _ := net.SplitHostPort(s.Addr)
	port, _ := strconv.Atoi(p)
	bin, _ := exec.LookPath("redis-server")
	s.start(bin, port)
}

// Client returns a go-redis client for the server, closed at cleanup.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	s.tb.Cleanup(func() { c.Close() })
	return c
}

// Log returns the server's log so far, for failure messages.
func (s *Server) Log() string {
	f, err := os.Open(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return ""
	}
	defer f.Close()
	var out string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out += sc.Text() + "\n"
	}
	return out
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// String describes the server for logs.
func (s *Server) String() string { return fmt.Sprintf("redis-server %s", s.Addr) }
