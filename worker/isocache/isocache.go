// Package isocache turns the iso= value of a [ksiso] section into a local
// file a worker can hand to the kickstart ISO builder: a boot ISO downloaded
// once from an http(s) URL and kept in a cache, an ISO the worker's
// administrator put in its ISO directory, or, for local builds only, a path.
package isocache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/worker/progress"
	"github.com/fedora-fbs/fbs/worker/sha256sum"
)

// DefaultMaxSize is the largest ISO Resolve downloads unless told otherwise.
const DefaultMaxSize = 16 << 30

// lockPoll is how often a caller waiting for another's download of the same
// URL checks the lock again.
const lockPoll = 100 * time.Millisecond

// Options says where Resolve looks and what it allows.
type Options struct {
	// ISODir holds the ISOs a bare name (no slash) refers to.
	ISODir string
	// CacheDir keeps downloaded ISOs, keyed by URL, with their SHA-256.
	CacheDir string
	// AllowLocal allows a path on this machine (local builds only).
	AllowLocal bool
	// Client is the HTTP client to download with; nil means a default
	// one. Its transport, when an *http.Transport, is cloned to add the
	// connect timeout and the private address guard.
	Client *http.Client
	// Egress is the outbound-address policy downloads are checked
	// against, on the address each connection is made to (redirects and
	// DNS rebinding included); nil is the default policy, which refuses
	// loopback, private and link-local addresses so a request cannot
	// reach the worker's own network.
	Egress *egress.Policy
	// MaxSize is the largest download accepted; 0 means DefaultMaxSize.
	MaxSize int64
	// Progress receives the download's progress (bytes done of total and
	// the rate, every few seconds); nil means lines to logf at the
	// default interval.
	Progress *progress.Reporter
}

// Resolve turns a [ksiso] iso= value into a local file path: an http(s) URL
// is downloaded once into CacheDir (to a temporary name, then renamed; its
// SHA-256 is recorded beside it and checked again on reuse; concurrent
// callers for the same URL download it once), a bare name is a file in
// ISODir, and a path is allowed only with AllowLocal and must be a regular
// file. logf, which may be nil, receives the download's log lines.
func Resolve(ctx context.Context, ref string, opts Options, logf func(string, ...any)) (string, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	switch {
	case ref == "":
		return "", errors.New(`resolve boot ISO "": iso is empty`)
	case strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://"):
		return download(ctx, ref, opts, logf)
	case strings.Contains(ref, "://"):
		return "", fmt.Errorf("resolve boot ISO %q: unsupported URL scheme (want http or https)", ref)
	case !strings.ContainsAny(ref, `/\`):
		return inISODir(ref, opts)
	}
	if !opts.AllowLocal {
		return "", fmt.Errorf("resolve boot ISO %q: paths are allowed only for local builds (give a URL or the name of an ISO in the worker's ISO directory)", ref)
	}
	p, err := filepath.Abs(ref)
	if err != nil {
		return "", fmt.Errorf("resolve boot ISO %q: %w", ref, err)
	}
	if err := regularFile(p); err != nil {
		return "", fmt.Errorf("resolve boot ISO %q: %w", ref, err)
	}
	return p, nil
}

// inISODir resolves a bare name in opts.ISODir.
func inISODir(name string, opts Options) (string, error) {
	if name == "." || name == ".." || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("resolve boot ISO %q: not a file name", name)
	}
	if opts.ISODir == "" {
		return "", fmt.Errorf("resolve boot ISO %q: this worker has no ISO directory", name)
	}
	p := filepath.Join(opts.ISODir, name)
	if err := regularFile(p); err != nil {
		return "", fmt.Errorf("resolve boot ISO %q in the ISO directory: %w", name, err)
	}
	return p, nil
}

func regularFile(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", p)
	}
	return nil
}

// download resolves a URL through the cache.
func download(ctx context.Context, ref string, opts Options, logf func(string, ...any)) (string, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("resolve boot ISO: %w", err)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("resolve boot ISO %q: URL has no host", ref)
	}
	if opts.CacheDir == "" {
		return "", fmt.Errorf("resolve boot ISO %q: this worker has no ISO cache directory", ref)
	}
	if err := opts.Egress.CheckLiteral(u.Hostname()); err != nil {
		return "", fmt.Errorf("resolve boot ISO %q: %w", ref, err)
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return "", fmt.Errorf("resolve boot ISO %q: %w", ref, err)
	}
	sum := sha256.Sum256([]byte(ref))
	base := filepath.Join(opts.CacheDir, hex.EncodeToString(sum[:16]))
	iso, sumFile := base+".iso", base+".sha256"

	unlock, err := lock(ctx, base+".lock")
	if err != nil {
		return "", fmt.Errorf("resolve boot ISO %q: lock cache: %w", ref, err)
	}
	defer unlock()

	if want, err := os.ReadFile(sumFile); err == nil {
		got, err := sha256sum.File(ctx, iso)
		if err == nil && got == strings.TrimSpace(string(want)) {
			logf("boot ISO %s: using cached copy %s (sha256 %s)", tasks.RedactURL(ref), iso, got)
			return iso, nil
		}
		logf("boot ISO %s: cached copy is missing or corrupt, downloading again", tasks.RedactURL(ref))
		os.Remove(sumFile)
		os.Remove(iso)
	}
	if err := fetch(ctx, ref, iso, sumFile, opts, logf); err != nil {
		return "", fmt.Errorf("download boot ISO %s: %w", ref, err)
	}
	if err := os.WriteFile(base+".url", []byte(ref+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("download boot ISO %s: %w", ref, err)
	}
	return iso, nil
}

// fetch downloads ref to a temporary file, then renames it to iso and
// records its SHA-256 in sumFile.
func fetch(ctx context.Context, ref, iso, sumFile string, opts Options, logf func(string, ...any)) error {
	maxSize := opts.MaxSize
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref, nil)
	if err != nil {
		return err
	}
	resp, err := client(opts).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	if resp.ContentLength > maxSize {
		return fmt.Errorf("size %d bytes is over the limit of %d", resp.ContentLength, maxSize)
	}
	tmp, err := os.CreateTemp(filepath.Dir(iso), filepath.Base(iso)+".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	h := sha256.New()
	rep := opts.Progress
	if rep == nil {
		rep = &progress.Reporter{Log: logf}
	}
	m := rep.Start(tasks.StageFetch, tasks.RedactURL(ref), max(resp.ContentLength, 0))
	n, err := io.Copy(io.MultiWriter(tmp, h, m), io.LimitReader(resp.Body, maxSize+1))
	m.Finish()
	if err != nil {
		return err
	}
	if n > maxSize {
		return fmt.Errorf("over the size limit of %d bytes", maxSize)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("got %d bytes, want %d", n, resp.ContentLength)
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), iso); err != nil {
		return err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.WriteFile(sumFile, []byte(sum+"\n"), 0o644); err != nil {
		return err
	}
	logf("boot ISO %s: downloaded %d bytes to %s (sha256 %s)", tasks.RedactURL(ref), n, iso, sum)
	return nil
}

// client returns the HTTP client for downloads: opts.Client or a default
// one, whose transport (when an *http.Transport) connects through the
// outbound-address policy, checked on the address actually dialled, so
// neither DNS nor redirects get around it.
func client(opts Options) *http.Client {
	c := &http.Client{}
	if opts.Client != nil {
		*c = *opts.Client
	}
	var tr *http.Transport
	switch t := c.Transport.(type) {
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return c
	}
	tr.DialContext = opts.Egress.DialContext
	// A proxy would hide the real destination from the policy.
	tr.Proxy = nil
	c.Transport = tr
	return c
}

// lock takes an exclusive lock on path (shared by every worker process on
// the machine), waiting for it as long as ctx allows.
func lock(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	t := time.NewTicker(lockPoll)
	defer t.Stop()
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
