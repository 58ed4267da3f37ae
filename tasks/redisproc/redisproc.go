// Package redisproc runs redis-server as a child process of `fbs serve`, so
// that local mode keeps its builds, logs and unsent mails across restarts:
// the data lives in one directory (the append-only file on, no RDB
// snapshots), the server listens on a unix socket in that directory (or on
// a free loopback port when the socket path would be too long), logs to its
// own file there, and is stopped by Stop after everything else of fbs has
// stopped.
//
// One fbs owns a directory at a time (a lock file). A redis-server left
// running by an fbs that crashed (found by its pid file and working
// directory) is stopped before a new one starts; the child also gets
// SIGTERM from the kernel if fbs dies without stopping it.
//
// It does not own the in-memory fallback (tasks/broker) nor decide when to
// use it: the command does, when Find reports no redis-server.
package redisproc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks/redisurl"
)

// Files in the data directory.
const (
	SocketName  = "redis.sock"
	LogName     = "redis.log"
	PidName     = "redis.pid"
	lockName    = "fbs-serve.lock"
	maxSockPath = 100 // sun_path is 108 bytes on Linux
)

// Config says where and how to run the server.
type Config struct {
	// Dir holds the server's data, socket, pid and log files; created
	// (mode 0700) if missing.
	Dir string
	// Bin is the redis-server program; empty means Find's.
	Bin string
	// ReadyTimeout bounds the wait for the server to answer. Default 30s
	// (replaying a large append-only file takes time).
	ReadyTimeout time.Duration
	// StopTimeout bounds the wait for the server to write its files and
	// exit after SIGTERM, before it is killed. Default 30s.
	StopTimeout time.Duration
	// Logger receives start and stop lines. Default slog.Default().
	Logger *slog.Logger
}

// Server is a running redis-server child.
type Server struct {
	cfg  Config
	url  string
	cmd  *exec.Cmd
	done chan struct{}
	lock *os.File
}

// Find returns the path of redis-server on PATH, or an error saying it is
// missing and how to install it.
func Find() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("redis-server not found on PATH (apt-get install redis-server, or dnf install redis): %w", err)
	}
	return bin, nil
}

// Start runs redis-server on cfg.Dir and returns once it answers PING.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("redis child: no data directory")
	}
	if cfg.Bin == "" {
		bin, err := Find()
		if err != nil {
			return nil, err
		}
		cfg.Bin = bin
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 30 * time.Second
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("redis child: data directory %s: %w", cfg.Dir, err)
	}
	cfg.Dir = dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("redis child: create data directory: %w", err)
	}
	s := &Server{cfg: cfg}
	if err := s.takeLock(); err != nil {
		return nil, err
	}
	if err := s.stopStale(); err != nil {
		s.unlock()
		return nil, err
	}
	if err := s.run(ctx); err != nil {
		s.unlock()
		return nil, err
	}
	return s, nil
}

// takeLock makes sure no other fbs runs a server on the same directory.
func (s *Server) takeLock() error {
	f, err := os.OpenFile(filepath.Join(s.cfg.Dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("redis child: lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("redis child: %s is in use by another fbs serve (lock %s held)", s.cfg.Dir, lockName)
		}
		return fmt.Errorf("redis child: lock %s: %w", f.Name(), err)
	}
	s.lock = f
	return nil
}

func (s *Server) unlock() {
	if s.lock != nil {
		s.lock.Close() // releases the flock
		s.lock = nil
	}
}

// stopStale stops a redis-server that an earlier fbs left running on this
// directory: its pid file names a live process whose working directory is
// the data directory (redis-server changes into its --dir).
func (s *Server) stopStale() error {
	pidFile := filepath.Join(s.cfg.Dir, PidName)
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("redis child: read %s: %w", pidFile, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return os.Remove(pidFile)
	}
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err != nil || cwd != s.cfg.Dir {
		// Gone, or a pid reused by another program.
		return os.Remove(pidFile)
	}
	s.cfg.Logger.Warn("stopping redis-server left running by an earlier fbs serve", "pid", pid, "dir", s.cfg.Dir)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("redis child: stop stale redis-server %d: %w", pid, err)
	}
	deadline := time.Now().Add(s.cfg.StopTimeout)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = os.Remove(pidFile)
	return nil
}

func (s *Server) args() ([]string, string, error) {
	common := []string{
		"--dir", s.cfg.Dir,
		"--daemonize", "no",
		"--appendonly", "yes",
		"--appendfsync", "everysec",
		"--save", "", // no RDB snapshots: the append-only file is the data
		"--pidfile", filepath.Join(s.cfg.Dir, PidName),
		"--logfile", filepath.Join(s.cfg.Dir, LogName),
		"--protected-mode", "yes",
	}
	sock := filepath.Join(s.cfg.Dir, SocketName)
	if len(sock) <= maxSockPath {
		return append(common, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700"),
			"unix://" + sock, nil
	}
	// The socket path would not fit in sun_path: a loopback port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("redis child: find a free loopback port: %w", err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	return append(common, "--bind", "127.0.0.1", "--port", port), "redis://127.0.0.1:" + port + "/0", nil
}

func (s *Server) run(ctx context.Context) error {
	args, url, err := s.args()
	if err != nil {
		return err
	}
	s.url = url
	s.cmd = exec.Command(s.cfg.Bin, args...)
	// Its own process group, so a Ctrl-C on the terminal reaches fbs only
	// and fbs stops the server last; SIGTERM from the kernel if fbs dies.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("redis child: start %s: %w", s.cfg.Bin, err)
	}
	s.done = make(chan struct{})
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.kill()
		return err
	}
	s.cfg.Logger.Info("redis-server child started", "pid", s.cmd.Process.Pid, "url", url, "dir", s.cfg.Dir)
	return nil
}

func (s *Server) waitReady(ctx context.Context) error {
	opt, err := redisurl.Parse(s.url)
	if err != nil {
		return fmt.Errorf("redis child: %w", err)
	}
	rdb := redis.NewUniversalClient(opt)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReadyTimeout)
	defer cancel()
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		err := rdb.Ping(pctx).Err()
		pcancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("redis child exited at start (%s): %s", s.cmd.ProcessState, s.LogTail(10))
		case <-ctx.Done():
			return fmt.Errorf("redis child did not answer within %s: %v; %s", s.cfg.ReadyTimeout, err, s.LogTail(10))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// LocalURL returns the unix:// URL of the socket of a server running on
// dir, if there is one: commands run beside `fbs serve` with no Redis
// configured use it.
func LocalURL(dir string) (string, bool) {
	sock := filepath.Join(dir, SocketName)
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Type() != os.ModeSocket {
		return "", false
	}
	return "unix://" + sock, true
}

// URL is the URL fbs connects to: unix://<dir>/redis.sock, or
// redis://127.0.0.1:<port>/0.
func (s *Server) URL() string { return s.url }

// Dir is the data directory.
func (s *Server) Dir() string { return s.cfg.Dir }

// Pid is the child's process ID.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stop asks the server to write its files and exit (SIGTERM), waits up to
// StopTimeout, then kills it. It is safe to call more than once.
func (s *Server) Stop() error {
	if s == nil || s.cmd == nil {
		return nil
	}
	defer s.unlock()
	select {
	case <-s.done:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("redis child: stop: %w", err)
	}
	select {
	case <-s.done:
		s.cfg.Logger.Info("redis-server child stopped", "dir", s.cfg.Dir)
		return nil
	case <-time.After(s.cfg.StopTimeout):
		s.kill()
		return fmt.Errorf("redis child did not stop within %s after SIGTERM; killed (%s)", s.cfg.StopTimeout, s.LogTail(5))
	}
}

func (s *Server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// LogTail returns the last n lines of the server's log file.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(filepath.Join(s.cfg.Dir, LogName))
	if err != nil {
		return "no log: " + err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "log " + filepath.Join(s.cfg.Dir, LogName) + ":\n" + strings.Join(lines, "\n")
}
