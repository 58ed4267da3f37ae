package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/ini.v1"

	"github.com/fedora-fbs/fbs/conf/inilines"
)

// Role is a part of the service a host runs.
type Role string

// The roles a host can have.
const (
	// RoleWeb runs `fbs web` as fbs-web.service.
	RoleWeb Role = "web"
	// RoleMonitor runs `fbs monitor` as fbs-monitor.service.
	RoleMonitor Role = "monitor"
	// RoleWorker runs `fbs worker` as fbs-worker.service.
	RoleWorker Role = "worker"
	// RoleRedis runs the Redis server every fbs process uses, as
	// fbs-redis.service.
	RoleRedis Role = "redis"
)

// Roles lists every role in the order units are rendered.
var roleOrder = []Role{RoleRedis, RoleWeb, RoleMonitor, RoleWorker}

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range roleOrder {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (want web, monitor, worker or redis)", s)
}

// Where things go on a host.
const (
	// BinaryPath is where the fbs binary is installed; the one it replaced
	// is kept as BinaryPath + ".prev".
	BinaryPath = "/usr/local/bin/fbs"
	// ConfPath is the service configuration every fbs unit reads.
	ConfPath = "/etc/fbs/fbs.conf"
	// SecretsDir holds the secret files, each mode 0600.
	SecretsDir = "/etc/fbs/secrets"
	// RedisConfPath is the Redis host's server configuration.
	RedisConfPath = "/etc/fbs/redis.conf"
	// UnitDir is where the systemd units go.
	UnitDir = "/etc/systemd/system"
	// ServiceUser is the system user fbs-web and fbs-monitor run as and
	// that owns the secret files of a host running either. It must exist
	// before the files are installed (useradd --system fbs).
	ServiceUser = "fbs"
	// DataDir is [worker] data_dir unless the deploy file sets it: the
	// same on every host, whoever runs the service.
	DataDir = "/var/lib/fbs"
	// DefaultRedisPort is the Redis host's port unless [deploy]
	// redis_port says otherwise.
	DefaultRedisPort = 6379
)

// Host is one machine of the deployment.
type Host struct {
	// Name is unique in the file: the [host NAME] section's name, or the
	// address in the original form.
	Name string
	// Addr is the SSH address (a name or an IP address) and Port its port
	// (default 22).
	Addr string
	Port int
	// User is the SSH login (default root).
	User string
	// KeyFile is the SSH private key; "" means the ssh-agent and the
	// usual ~/.ssh/id_* keys (deploy/remote decides).
	KeyFile string
	// KnownHosts is the known_hosts file host keys are checked against;
	// "" means ~/.ssh/known_hosts.
	KnownHosts string
	// Roles are what the host runs, in render order (redis, web, monitor,
	// worker).
	Roles []Role
	// Arch, Releases and Concurrency are a worker's; Arch "" means the
	// host's own, Releases nil every release of [releases] list.
	Arch        string
	Releases    []string
	Concurrency int
	// RedisBind are the addresses a Redis host's server listens on, and
	// RedisPort its port.
	RedisBind []string
	RedisPort int
	// Config holds the fbs.conf keys of this host (section -> key ->
	// value) after defaults and per-host overrides. Secret keys hold the
	// path of the installed secret file, never the secret.
	Config map[string]map[string]string
	// Secrets are the secret files the host gets, by path.
	Secrets []Secret
	// line is where the host was declared; origins where each
	// "section.key" of Config was set, for messages.
	line    int
	origins map[string]origin
}

// origin is where a value was set in the deploy file.
type origin struct {
	line int
	// key is "[section] key" as the deploy file wrote it.
	key string
}

// Has reports whether h runs r.
func (h *Host) Has(r Role) bool { return slices.Contains(h.Roles, r) }

// Owner is the user that owns the host's secret files: ServiceUser when
// the host runs web or monitor (they run as that user), else root (the
// worker runs as root).
func (h *Host) Owner() string {
	if h.Has(RoleWeb) || h.Has(RoleMonitor) {
		return ServiceUser
	}
	return "root"
}

// Secret is one secret file a host gets.
type Secret struct {
	// Key is the fbs.conf key naming it ("smtp.password_file"), or "" for
	// a file no key names.
	Key string
	// Path is where it is installed, under SecretsDir.
	Path string
	// Source says where the content came from: the local file, or the
	// line of an inline value in the original form. Never the content.
	Source  string
	content []byte
}

// String describes s without its content.
func (s Secret) String() string { return s.Path + " (from " + s.Source + ")" }

// File is a loaded deploy file.
type File struct {
	// Path is the file read.
	Path string
	// Original is set when the file is the original service's
	// deploy.conf.
	Original bool
	// Hosts are the hosts in file order.
	Hosts []*Host
	// Warnings are the things that were read but do not apply as written
	// (the original form's RabbitMQ broker, work directories...).
	Warnings []Warning
	// RedisURL is the Redis every host's fbs uses ([redis] url).
	RedisURL string
	// Binary is the local fbs binary to install; "" means the running
	// fbs executable.
	Binary string
}

// Host returns the host called name.
func (f *File) Host(name string) (*Host, error) {
	for _, h := range f.Hosts {
		if h.Name == name {
			return h, nil
		}
	}
	names := make([]string, len(f.Hosts))
	for i, h := range f.Hosts {
		names[i] = h.Name
	}
	return nil, fmt.Errorf("%s: no host %q (hosts: %s)", f.Path, name, strings.Join(names, ", "))
}

// Warning is something in the file that is accepted but does not apply
// as written.
type Warning struct {
	File string
	Line int
	// Key is "[section] key", or "[section]" for a whole section.
	Key     string
	Message string
}

// String formats w as "deploy.conf:3: [broker] i686: message".
func (w Warning) String() string { return where(w.File, w.Line, w.Key) + w.Message }

// Error is one problem with a deploy file.
type Error struct {
	File string
	Line int
	// Key is "[section] key", "[section]" or "".
	Key    string
	Reason string
}

// Error formats e as "deploy.conf:12: [host w1] arch: reason".
func (e *Error) Error() string { return where(e.File, e.Line, e.Key) + e.Reason }

func where(file string, line int, key string) string {
	s := file
	if line > 0 {
		s = fmt.Sprintf("%s:%d", file, line)
	}
	if key != "" {
		s += ": " + key
	}
	return s + ": "
}

// Errors is every problem found; Load returns it as its error.
type Errors []*Error

// Error formats the errors one per line.
func (e Errors) Error() string {
	s := make([]string, len(e))
	for i, err := range e {
		s[i] = err.Error()
	}
	return strings.Join(s, "\n")
}

// Load reads the deploy file at path, in fbs's form or the original
// service's, and checks every host's configuration by loading its rendered
// fbs.conf with conf's own loader. Local files the deploy file names (keys,
// secrets, the binary) are relative to its directory. Problems are returned
// together as Errors, each naming the file, line and key.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read deploy file: %w", err)
	}
	return parse(path, data, os.ReadFile)
}

// readFunc reads a local file the deploy file names (os.ReadFile; the
// fuzz target passes one that reads nothing).
type readFunc func(string) ([]byte, error)

// parse reads data, the content of the deploy file at path.
func parse(path string, data []byte, read readFunc) (*File, error) {
	idx := inilines.Scan(data, false)
	var errs Errors
	for _, e := range idx.Errors {
		errs = append(errs, &Error{File: path, Line: e.Line, Key: sectionKey(e.Section, ""), Reason: e.Reason})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	sections, err := ini.LoadSources(ini.LoadOptions{IgnoreInlineComment: true, IgnoreContinuation: true}, data)
	if err != nil {
		return nil, Errors{{File: path, Reason: "read INI: " + err.Error()}}
	}
	for _, d := range idx.Duplicates() {
		if d.Key != "" {
			errs = append(errs, &Error{File: path, Line: d.Lines[1], Key: sectionKey(d.Section, d.Key),
				Reason: fmt.Sprintf("set again (first on line %d)", d.Lines[0])})
		} else {
			errs = append(errs, &Error{File: path, Line: d.Lines[1], Key: sectionKey(d.Section, ""),
				Reason: fmt.Sprintf("section repeated (first on line %d)", d.Lines[0])})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	r := &reader{path: path, dir: filepath.Dir(path), idx: idx, ini: sections, read: read, f: &File{Path: path}}
	if isOriginal(sections) {
		r.f.Original = true
		r.original()
	} else {
		r.fbsForm()
	}
	if len(r.errs) == 0 {
		r.finish()
	}
	if len(r.errs) > 0 {
		slices.SortStableFunc(r.errs, func(a, b *Error) int { return lineOrder(a) - lineOrder(b) })
		return nil, r.errs
	}
	slices.SortStableFunc(r.f.Warnings, func(a, b Warning) int { return a.Line - b.Line })
	return r.f, nil
}

func lineOrder(e *Error) int {
	if e.Line == 0 {
		return 1 << 30
	}
	return e.Line
}

// reader holds the state of one parse.
type reader struct {
	path string
	// dir is the deploy file's directory, the base of relative local
	// paths.
	dir  string
	idx  *inilines.Index
	ini  *ini.File
	read readFunc
	f    *File
	errs Errors
	// redisAt is where the Redis URL comes from.
	redisAt origin
}

func (r *reader) errorf(line int, section, key, format string, args ...any) {
	r.errs = append(r.errs, &Error{File: r.path, Line: line, Key: sectionKey(section, key), Reason: fmt.Sprintf(format, args...)})
}

func (r *reader) warnf(line int, section, key, format string, args ...any) {
	r.f.Warnings = append(r.f.Warnings, Warning{File: r.path, Line: line, Key: sectionKey(section, key), Message: fmt.Sprintf(format, args...)})
}

// keyLine is where key is set in section.
func (r *reader) keyLine(section, key string) int { return r.idx.KeyLine(section, key) }

func sectionKey(section, key string) string {
	switch {
	case section == "" || section == inilines.DefaultSection:
		return key
	case key == "":
		return "[" + section + "]"
	}
	return "[" + section + "] " + key
}

// localPath resolves a path the deploy file names on this machine:
// relative to the file's directory, ~/ in the user's home.
func (r *reader) localPath(p string) (string, error) {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("expand ~ in %s: %w", p, err)
		}
		return filepath.Join(home, rest), nil
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p), nil
	}
	return filepath.Join(r.dir, p), nil
}

// readSecret reads the local secret file p for key at line.
func (r *reader) readSecret(line int, section, key, p string) ([]byte, string, bool) {
	lp, err := r.localPath(p)
	if err != nil {
		r.errorf(line, section, key, "%v", err)
		return nil, "", false
	}
	b, err := r.read(lp)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			r.errorf(line, section, key, "secret file %s does not exist", lp)
		} else {
			r.errorf(line, section, key, "read secret file: %v", err)
		}
		return nil, "", false
	}
	if len(bytes.TrimSpace(b)) == 0 {
		r.errorf(line, section, key, "secret file %s is empty", lp)
		return nil, "", false
	}
	return b, lp, true
}
