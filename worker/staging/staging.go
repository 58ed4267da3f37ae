package staging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/worker/progress"
	"github.com/fedora-fbs/fbs/worker/sha256sum"
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
	// Egress is the outbound-address policy every connection to an SFTP
	// or FTP server (control and data) is checked against, on the address
	// it is made to; nil is the default policy (tasks/egress), which
	// refuses loopback, link-local and private addresses.
	Egress *egress.Policy
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
	// Progress receives each file's transfer progress (bytes sent of its
	// size and the rate, every few seconds); nil means lines to Logf at
	// the default interval.
	Progress *progress.Reporter
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
	// URL (into <dir> itself when buildID is empty, into a folder of the
	// build's directory when buildID goes on with folder names, as in
	// "<id>/logs/anaconda"), each atomically (temp
	// name + rename), verified (size + SHA256), resuming partial uploads
	// left by an earlier call. It returns one Artifact per file, whose URL
	// carries no credentials.
	Put(ctx context.Context, buildID string, files []string) ([]tasks.Artifact, error)
	// Remove deletes the directory <dir>/<buildID> and everything in it,
	// only if it holds the marker Put writes into each build directory
	// (MarkerName); otherwise it returns ErrNoMarker and touches nothing.
	Remove(ctx context.Context, buildID string) error
	// Close releases the connection. It is safe to call more than once.
	Close() error
}

// Scheme names as they appear in staging URLs.
const (
	schemeFile = tasks.SchemeFile
	schemeSFTP = tasks.SchemeSFTP
	schemeFTP  = tasks.SchemeFTP
	schemeFTPS = tasks.SchemeFTPS
)

// target is a parsed staging URL, as the transfers use it.
type target struct {
	scheme   string
	user     string // empty: anonymous FTP, or the local user for sftp
	password string // only ever from a local user's URL
	hasPass  bool
	host     string // host name or address, without brackets or port
	port     int
	dir      string // remote directory; for file:// a local absolute path
}

// url is the target as the domain's staging URL.
func (t *target) url() *tasks.StagingURL {
	return &tasks.StagingURL{Scheme: t.scheme, User: t.user, Password: t.password, HasPassword: t.hasPass,
		Host: t.host, Port: t.port, Dir: t.dir}
}

// hostport is host:port as net.Dial wants it.
func (t *target) hostport() string { return t.url().HostPort() }

// String is the URL without any password, for artifacts, logs and errors.
func (t *target) String() string { return t.url().String() }

// fileURL is the artifact URL of name inside sub (the build directory).
func (t *target) fileURL(sub, name string) string {
	s := strings.TrimSuffix(t.String(), "/")
	if sub != "" {
		for _, seg := range strings.Split(sub, "/") {
			s += "/" + url.PathEscape(seg)
		}
	}
	return s + "/" + url.PathEscape(name)
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

// parse turns a staging URL into a target: the grammar is the domain's
// (tasks.ParseStagingURL); an sftp:// URL that names nobody logs in as the
// local user. Errors never quote the password.
func parse(raw string) (*target, error) {
	u, err := tasks.ParseStagingURL(raw)
	if err != nil {
		return nil, err
	}
	return targetOf(u)
}

func targetOf(u *tasks.StagingURL) (*target, error) {
	t := &target{scheme: u.Scheme, user: u.User, password: u.Password, hasPass: u.HasPassword,
		host: u.Host, port: u.Port, dir: u.Dir}
	if t.scheme == schemeSFTP && t.user == "" {
		cur, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("staging URL %s: no user given and the local user is unknown: %w", u, err)
		}
		t.user = cur.Username
	}
	return t, nil
}

// Check validates a staging URL at submit time without connecting: scheme
// and form, the file_root rule and the ban on passwords when opts.Remote.
// It is tasks.CheckStaging, with the worker's options.
func Check(rawURL string, opts Options) error {
	_, err := tasks.CheckStaging(rawURL, tasks.StagingPolicy{Remote: opts.Remote, FileRoot: opts.FileRoot})
	return err
}

func check(rawURL string, opts Options) (*target, error) {
	u, err := tasks.CheckStaging(rawURL, tasks.StagingPolicy{Remote: opts.Remote, FileRoot: opts.FileRoot})
	if err != nil {
		return nil, err
	}
	return targetOf(u)
}

// underRoot checks that dir lies inside root once both are cleaned and
// their symlinks resolved as far as they exist. It returns dir resolved.
func underRoot(dir, root string) (string, error) {
	if root != "" {
		var err error
		if root, err = filepath.EvalSymlinks(filepath.Clean(root)); err != nil {
			return "", fmt.Errorf("resolve [staging] file_root %s: %w", root, err)
		}
		if dir, err = resolveExisting(filepath.Clean(dir)); err != nil {
			return "", err
		}
	}
	if err := tasks.UnderStagingRoot(dir, root); err != nil {
		return "", err
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
	if opts.Progress == nil {
		opts.Progress = &progress.Reporter{Log: opts.Logf}
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
	sum, err := sha256sum.File(ctx, lf.path)
	if err != nil {
		return "", err
	}
	lf.sum = sum
	return sum, nil
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

// checkBuildID refuses anything but "", a build ID, or a build ID followed
// by folder names ("<id>/logs/anaconda") as a directory name.
func checkBuildID(sub string) error {
	if sub == "" {
		return nil
	}
	id, rest, _ := strings.Cut(sub, "/")
	if !tasks.ValidBuildID(id) {
		return fmt.Errorf("bad build ID %q", sub)
	}
	if rest == "" && strings.Contains(sub, "/") {
		return fmt.Errorf("bad build directory %q", sub)
	}
	for _, seg := range strings.Split(rest, "/") {
		if rest != "" && !folderNameRE().MatchString(seg) {
			return fmt.Errorf("bad folder name %q in build directory %q", seg, sub)
		}
	}
	return nil
}

// folderNameRE is a folder inside a build's staging directory: a plain
// name that cannot climb out (no "..", no hidden names).
var folderNameRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
})
