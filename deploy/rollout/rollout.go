package rollout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fedora-fbs/fbs/conf"
	"github.com/fedora-fbs/fbs/deploy"
	"github.com/fedora-fbs/fbs/deploy/remote"
)

// Options change how a rollout runs.
type Options struct {
	// Binary is the local fbs executable to install (Plan and Apply);
	// Status needs none.
	Binary string
	// AcceptNew lets the first contact with a host add its key to the
	// host's known_hosts file; without it an unknown host is an error.
	AcceptNew bool
	// Parallel is how many worker-only hosts are upgraded at once
	// (default 1).
	Parallel int
	// CheckTimeout bounds each check after a start: Redis answering,
	// /healthz, a worker's new heartbeat (default 60s).
	CheckTimeout time.Duration
	// Progress, when set, gets one line per step as the rollout goes.
	Progress io.Writer
}

// Rollout runs Plan, Apply and Status for one deploy file.
type Rollout struct {
	file *deploy.File
	opts Options
	// dial connects to a host; remote.Dial outside tests of this package.
	dial func(ctx context.Context, t remote.Target) (conn, error)

	progressMu sync.Mutex
}

// conn is what a rollout does on a host (a *remote.Conn).
type conn interface {
	Run(ctx context.Context, cmd string) ([]byte, error)
	ReadFile(ctx context.Context, path string) ([]byte, error)
	WriteFile(ctx context.Context, f deploy.InstallFile) error
	InstallBinary(ctx context.Context, local, dest string) error
	RestorePrevious(ctx context.Context, dest string) error
	OSFamily(ctx context.Context) (deploy.OSFamily, error)
	Close() error
}

var _ conn = (*remote.Conn)(nil)

// New returns a rollout of f. It fills the options' defaults and checks
// them.
func New(f *deploy.File, opts Options) (*Rollout, error) {
	if f == nil || len(f.Hosts) == 0 {
		return nil, errors.New("rollout: a deploy file with hosts is needed")
	}
	if opts.Parallel == 0 {
		opts.Parallel = 1
	}
	if opts.Parallel < 0 {
		return nil, fmt.Errorf("rollout: --parallel %d: want 1 or more", opts.Parallel)
	}
	if opts.CheckTimeout == 0 {
		opts.CheckTimeout = 60 * time.Second
	}
	if opts.CheckTimeout < time.Second {
		return nil, fmt.Errorf("rollout: check timeout %s: want at least 1s", opts.CheckTimeout)
	}
	r := &Rollout{file: f, opts: opts}
	r.dial = func(ctx context.Context, t remote.Target) (conn, error) { return remote.Dial(ctx, t) }
	return r, nil
}

// progressf writes one progress line for host h.
func (r *Rollout) progressf(h *deploy.Host, format string, args ...any) {
	if r.opts.Progress == nil {
		return
	}
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	fmt.Fprintf(r.opts.Progress, "%s: %s\n", h.Name, fmt.Sprintf(format, args...))
}

// connect opens an SSH connection to h.
func (r *Rollout) connect(ctx context.Context, h *deploy.Host) (conn, error) {
	c, err := r.dial(ctx, remote.TargetOf(h, r.opts.AcceptNew))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", h.Name, err)
	}
	return c, nil
}

// binary is the local fbs executable a plan or an apply installs.
type binary struct {
	path    string
	sha256  string
	version string // tasks/version.String of the binary, from `fbs version`
}

// localBinary reads the checksum and the version of the binary to install.
func (r *Rollout) localBinary(ctx context.Context) (*binary, error) {
	p := r.opts.Binary
	if p == "" {
		p = r.file.Binary
	}
	if p == "" {
		return nil, errors.New("no binary to install: give --binary or [deploy] binary")
	}
	p, err := filepath.Abs(p)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read the binary to install: %w", err)
	}
	sum := sha256.Sum256(data)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, p, "version").Output()
	if err != nil {
		return nil, fmt.Errorf("binary %s: %s version: %w", p, p, err)
	}
	v, ok := parseVersion(string(out))
	if !ok {
		return nil, fmt.Errorf("binary %s: `version` printed %q, not fbs's version line", p, firstLine(string(out)))
	}
	return &binary{path: p, sha256: hex.EncodeToString(sum[:]), version: v}, nil
}

// parseVersion takes the version (tasks/version.String) out of the line
// `fbs version` prints: "fbs 1.2.3 REV (go1.26, linux/amd64)".
func parseVersion(out string) (string, bool) {
	line := firstLine(out)
	rest, ok := strings.CutPrefix(line, "fbs ")
	if !ok {
		return "", false
	}
	if i := strings.LastIndex(rest, " ("); i >= 0 {
		rest = rest[:i]
	}
	rest = strings.TrimSpace(rest)
	return rest, rest != ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// hostConfig is what a rollout reads from a host's rendered fbs.conf.
type hostConfig struct {
	files    []deploy.InstallFile
	webURL   string // http://host:port of web's /healthz, as asked on the host
	monURL   string
	redisCmd string // the PING check of the Redis host
}

// render renders h's files and reads its fbs.conf with fbs's own loader.
func (r *Rollout) render(h *deploy.Host) (*hostConfig, error) {
	files, err := r.file.Render(h)
	if err != nil {
		return nil, err
	}
	hc := &hostConfig{files: files}
	for _, f := range files {
		if f.Path != deploy.ConfPath {
			continue
		}
		cfg, err := conf.Parse(h.Name+":"+f.Path, f.Content, nil)
		if err != nil {
			return nil, fmt.Errorf("read the fbs.conf of %s: %w", h.Name, err)
		}
		hc.webURL = "http://" + localAddr(cfg.Web.Listen) + "/healthz"
		hc.monURL = "http://" + localAddr(cfg.Monitor.Listen) + "/healthz"
	}
	if h.Has(deploy.RoleRedis) {
		port := h.RedisPort
		if port == 0 {
			port = deploy.DefaultRedisPort
		}
		addr := "127.0.0.1"
		if len(h.RedisBind) > 0 && !slices.Contains(h.RedisBind, "127.0.0.1") && !slices.Contains(h.RedisBind, "0.0.0.0") {
			addr = h.RedisBind[0]
		}
		hc.redisCmd = fmt.Sprintf("redis-cli -h %s -p %d ping", quote(addr), port)
	}
	return hc, nil
}

// localAddr is the address a client on the host itself reaches a server
// listening on listen at: a wildcard becomes loopback.
func localAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// phase orders hosts: Redis, monitor, web, then workers.
func phase(h *deploy.Host) int {
	switch {
	case h.Has(deploy.RoleRedis):
		return 0
	case h.Has(deploy.RoleMonitor):
		return 1
	case h.Has(deploy.RoleWeb):
		return 2
	}
	return 3
}

// ordered returns the hosts in rollout order (stable within a phase).
func (r *Rollout) ordered() []*deploy.Host {
	hs := slices.Clone(r.file.Hosts)
	slices.SortStableFunc(hs, func(a, b *deploy.Host) int { return phase(a) - phase(b) })
	return hs
}

// quote quotes s for a POSIX shell.
func quote(s string) string { return remote.Quote(s) }

// quoteAll quotes each of ss and joins them with spaces.
func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quote(s)
	}
	return strings.Join(q, " ")
}

// poll calls check every interval until it returns true, an error that
// is not worth retrying, or timeout passes; then it returns the last
// reason check gave.
func poll(ctx context.Context, timeout time.Duration, check func(ctx context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		ok, err := check(ctx)
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			return fmt.Errorf("not within %s: %w", timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
