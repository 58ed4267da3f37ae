package staging

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/fedora-fbs/fbs/tasks"
)

// Options carries what a stager needs besides the URL: the worker's
// [staging] configuration and who asked.
type Options struct {
	// FileRoot is [staging] file_root: remote submissions may only stage
	// under it with file://. Empty means remote file:// staging is refused.
	FileRoot string
	// Remote is true when the request came from someone else (web, API,
	// queue) rather than the local user; it forbids passwords in URLs and
	// file:// outside FileRoot.
	Remote bool
	// SSHKey is [staging] ssh_key, the private key file for sftp://. Empty
	// means the user's ~/.ssh/id_ed25519, id_ecdsa and id_rsa, whichever
	// exist. Keys held by ssh-agent (SSH_AUTH_SOCK) are tried as well.
	SSHKey string
	// KnownHosts is [staging] known_hosts. Empty means ~/.ssh/known_hosts.
	KnownHosts string
	// HostKeys pins host key fingerprints ("SHA256:...") by host, or by
	// host:port; a pinned host is accepted on its fingerprint alone.
	HostKeys map[string]string
	// Passwords holds FTP (and SFTP password) credentials by host or
	// host:port, from the worker's configuration.
	Passwords map[string]string
	// CAFile is a PEM file of certificate authorities trusted for ftps://
	// besides the system's, for staging servers with a private CA.
	CAFile string
	// KnownSums are SHA256 sums (hex) of local files by path that the
	// caller computed moments ago (the pipeline's checksum stage), so the
	// upload does not read those files once more to hash them. The remote
	// copy is still verified against them.
	KnownSums map[string]string
	// Logf receives progress lines for the build log. Nil discards them.
	Logf func(format string, args ...any)
}

func (o *Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// Stager uploads a build's files into a staging area over one connection.
// It is used by one goroutine at a time. A Put whose context is cancelled
// closes the connection; Open a new Stager to go on (a retry resumes).
type Stager interface {
	// Put uploads files (local paths) into <dir>/<buildID>/ at the staging
	// URL (into <dir> itself when buildID is empty), each atomically (temp
	// name + rename), verified (size + SHA256), resuming partial uploads
	// left by an earlier call. It returns one Artifact per file, whose URL
	// carries no credentials.
	Put(ctx context.Context, buildID string, files []string) ([]tasks.Artifact, error)
	// Close releases the connection. It is safe to call more than once.
	Close() error
}

// Scheme names as they appear in staging URLs.
const (
	schemeFile = "file"
	schemeSFTP = "sftp"
	schemeFTP  = "ftp"
	schemeFTPS = "ftps"
)

// target is a parsed staging URL.
type target struct {
	scheme   string
	user     string // empty: anonymous FTP, or the local user for sftp
	password string // only ever from a local user's URL
	hasPass  bool
	host     string // host name or address, without brackets or port
	port     int
	dir      string // remote directory; for file:// a local absolute path
}

// hostport is host:port as net.Dial wants it.
func (t *target) hostport() string { return net.JoinHostPort(t.host, strconv.Itoa(t.port)) }

// String is the URL without any password, for artifacts, logs and errors.
func (t *target) String() string {
	if t.scheme == schemeFile {
		return (&url.URL{Scheme: schemeFile, Path: t.dir}).String()
	}
	u := &url.URL{Scheme: t.scheme, Host: t.host}
	if t.port != defaultPort(t.scheme) {
		u.Host = t.hostport()
	} else if strings.Contains(t.host, ":") {
		u.Host = "[" + t.host + "]"
	}
	if t.user != "" {
		u.User = url.User(t.user)
	}
	u.Path = "/" + strings.TrimPrefix(t.dir, "/")
	if !strings.HasPrefix(t.dir, "/") {
		// A relative remote directory (relative to the login directory)
		// is written as /~/dir, the form sftp(1) users know.
		u.Path = "/~/" + t.dir
		if t.dir == "" || t.dir == "." {
			u.Path = "/~/"
		}
	}
	return u.String()
}

// fileURL is the artifact URL of name inside sub (the build directory).
func (t *target) fileURL(sub, name string) string {
	s := strings.TrimSuffix(t.String(), "/")
	if sub != "" {
		s += "/" + url.PathEscape(sub)
	}
	return s + "/" + url.PathEscape(name)
}

func defaultPort(scheme string) int {
	switch scheme {
	case schemeSFTP:
		return 22
	case schemeFTP, schemeFTPS:
		return 21
	}
	return 0
}

// credKeys are the keys credentials are looked up under, most specific first.
func (t *target) credKeys() []string {
	return []string{t.hostport(), t.host}
}

// lookup returns m's entry for the target's host:port or host.
func (t *target) lookup(m map[string]string) (string, bool) {
	for _, k := range t.credKeys() {
		if v, ok := m[k]; ok {
			return v, true
		}
	}
	return "", false
}

// parse turns a staging URL into a target. Errors never quote the password.
func parse(raw string) (*target, error) {
	if raw == "" {
		return nil, errors.New("empty staging URL")
	}
	if !strings.Contains(raw, "://") {
		// The original service's bare host: anonymous FTP into pub/.
		h, p, err := splitHostPort(raw, 21)
		if err != nil || !bareHostRE().MatchString(raw) {
			shown := strconv.Quote(raw)
			if strings.Contains(raw, "@") {
				shown = "value" // user:password@host typed without a scheme
			}
			return nil, fmt.Errorf("staging %s: neither a URL (file://, sftp://, ftp://, ftps://) nor a bare FTP host name", shown)
		}
		return &target{scheme: schemeFTP, host: h, port: p, dir: "/pub"}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, which may hold a password.
		return nil, fmt.Errorf("staging URL %s: malformed", redact(raw))
	}
	t := &target{scheme: strings.ToLower(u.Scheme)}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("staging URL %s: query and fragment are not allowed", redactURL(u))
	}
	switch t.scheme {
	case schemeFile:
		if u.User != nil || (u.Host != "" && u.Host != "localhost") {
			return nil, fmt.Errorf("staging URL %s: file:// takes no host or user (file:///dir)", redactURL(u))
		}
		if u.Path == "" || !path.IsAbs(u.Path) {
			return nil, fmt.Errorf("staging URL %s: file:// needs an absolute directory (file:///dir)", redactURL(u))
		}
		t.dir = filepath.Clean(filepath.FromSlash(u.Path))
		return t, nil
	case schemeSFTP, schemeFTP, schemeFTPS:
	default:
		return nil, fmt.Errorf("staging URL %s: unknown scheme %q (want file, sftp, ftp or ftps)", redactURL(u), u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("staging URL %s: no host", redactURL(u))
	}
	t.host, t.port, err = splitHostPort(u.Host, defaultPort(t.scheme))
	if err != nil {
		return nil, fmt.Errorf("staging URL %s: %v", redactURL(u), err)
	}
	if u.User != nil {
		t.user = u.User.Username()
		t.password, t.hasPass = u.User.Password()
		if t.user == "" {
			return nil, fmt.Errorf("staging URL %s: empty user name", redactURL(u))
		}
	}
	if t.scheme == schemeSFTP && t.user == "" {
		cur, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("staging URL %s: no user given and the local user is unknown: %w", redactURL(u), err)
		}
		t.user = cur.Username
	}
	p := u.Path
	switch {
	case p == "" || p == "/":
		t.dir = "/"
		if t.scheme == schemeSFTP {
			t.dir = "."
		}
	case t.scheme == schemeSFTP && (p == "/~" || strings.HasPrefix(p, "/~/")):
		t.dir = strings.TrimPrefix(strings.TrimPrefix(p, "/~"), "/")
		if t.dir == "" {
			t.dir = "."
		}
	default:
		t.dir = p
	}
	if t.dir != "." && t.dir != "/" {
		clean := path.Clean(t.dir)
		if strings.HasPrefix(clean, "../") || clean == ".." {
			return nil, fmt.Errorf("staging URL %s: directory leaves the login directory", redactURL(u))
		}
		t.dir = clean
	}
	return t, nil
}

// bareHostRE is a host name or IPv4 address, with an optional port.
var bareHostRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$`)
})

func splitHostPort(hp string, def int) (string, int, error) {
	host, portStr := hp, ""
	if h, p, err := net.SplitHostPort(hp); err == nil {
		host, portStr = h, p
	} else if strings.HasPrefix(hp, "[") && strings.HasSuffix(hp, "]") {
		host = hp[1 : len(hp)-1]
	}
	if host == "" || strings.ContainsAny(host, " /\\@[]") {
		return "", 0, fmt.Errorf("bad host %q", hp)
	}
	port := def
	if portStr != "" {
		n, err := strconv.Atoi(portStr)
		if err != nil || n <= 0 || n > 65535 {
			return "", 0, fmt.Errorf("bad port %q", portStr)
		}
		port = n
	}
	return host, port, nil
}

// redactURL renders u with any password replaced.
func redactURL(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment = "", ""
	return c.Redacted()
}

// redact hides a password in a URL that did not parse.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "(unparsable)"
	}
	auth, tail, _ := strings.Cut(rest, "/")
	if at := strings.LastIndex(auth, "@"); at >= 0 {
		if u, _, ok := strings.Cut(auth[:at], ":"); ok {
			auth = u + ":xxxxx" + auth[at:]
		}
	}
	return scheme + "://" + auth + "/" + tail
}

// Check validates a staging URL at submit time without connecting: scheme
// and form, the file_root rule and the ban on passwords when opts.Remote.
func Check(rawURL string, opts Options) error {
	_, err := check(rawURL, opts)
	return err
}

func check(rawURL string, opts Options) (*target, error) {
	t, err := parse(rawURL)
	if err != nil {
		return nil, err
	}
	if !opts.Remote {
		return t, nil
	}
	if t.hasPass {
		return nil, fmt.Errorf("staging URL %s: a password in the URL is refused for remote submissions; the worker's configuration holds credentials by host", t)
	}
	if t.scheme == schemeFile {
		if _, err := underRoot(t.dir, opts.FileRoot, false); err != nil {
			return nil, fmt.Errorf("staging URL %s: %w", t, err)
		}
	}
	return t, nil
}

// underRoot checks that dir lies inside root once both are cleaned and,
// when resolve is set, their symlinks resolved as far as they exist. It
// returns dir resolved.
func underRoot(dir, root string, resolve bool) (string, error) {
	if root == "" {
		return "", errors.New("file:// staging is not allowed for remote submissions on this worker (no [staging] file_root)")
	}
	root, dir = filepath.Clean(root), filepath.Clean(dir)
	if resolve {
		var err error
		if root, err = filepath.EvalSymlinks(root); err != nil {
			return "", fmt.Errorf("resolve [staging] file_root %s: %w", root, err)
		}
		if dir, err = resolveExisting(dir); err != nil {
			return "", err
		}
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%s is outside the staging root %s", dir, root)
	}
	return dir, nil
}

// resolveExisting resolves the symlinks of the longest existing prefix of
// p, so a directory not made yet is judged by where it would be made.
func resolveExisting(p string) (string, error) {
	var tail []string
	cur := p
	for {
		r, err := filepath.EvalSymlinks(cur)
		if err == nil {
			for i := len(tail) - 1; i >= 0; i-- {
				r = filepath.Join(r, tail[i])
			}
			return r, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("resolve %s: %w", p, err)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return "", fmt.Errorf("resolve %s: %w", p, err)
		}
		tail = append(tail, filepath.Base(cur))
		cur = parent
	}
}

// Open checks rawURL like Check and connects to the staging area. The
// caller must Close the Stager.
func Open(ctx context.Context, rawURL string, opts Options) (Stager, error) {
	t, err := check(rawURL, opts)
	if err != nil {
		return nil, err
	}
	switch t.scheme {
	case schemeFile:
		return openFile(t, opts)
	case schemeSFTP:
		return openSFTP(ctx, t, opts)
	default:
		return openFTP(ctx, t, opts)
	}
}

// localFile is a file to upload, with its size and, once known, its hash.
type localFile struct {
	path string
	name string
	size int64
	sum  string // hex SHA256, empty until computed
}

// statLocal opens nothing; it checks each file exists, is regular, and that
// no two have the same base name (they would overwrite each other).
func statLocal(files []string) ([]*localFile, error) {
	seen := map[string]string{}
	out := make([]*localFile, 0, len(files))
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("stage %s: %w", f, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("stage %s: not a regular file", f)
		}
		name := filepath.Base(f)
		if prev, ok := seen[name]; ok {
			return nil, fmt.Errorf("stage %s: same name as %s", f, prev)
		}
		seen[name] = f
		out = append(out, &localFile{path: f, name: name, size: fi.Size()})
	}
	return out, nil
}

// hash returns lf's SHA256, computing it once unless the caller knew it.
func (lf *localFile) hash(ctx context.Context) (string, error) {
	if lf.sum != "" {
		return lf.sum, nil
	}
	f, err := os.Open(lf.path)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", lf.path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, f}); err != nil {
		return "", fmt.Errorf("hash %s: %w", lf.path, err)
	}
	lf.sum = hex.EncodeToString(h.Sum(nil))
	return lf.sum, nil
}

// ctxReader stops a long copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// partName is the temporary name a file is written under: hidden from
// listings and from globs like *.iso.
func partName(name string) string { return "." + name + ".part" }

// checkBuildID refuses anything but a build ID or "" as a directory name.
func checkBuildID(id string) error {
	if id != "" && !tasks.ValidBuildID(id) {
		return fmt.Errorf("bad build ID %q", id)
	}
	return nil
}
