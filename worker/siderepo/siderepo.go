package siderepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/worker/progress"
)

// Errors that callers tell apart with errors.Is: the web app refuses a
// submission that names an unknown build or no RPM for its arch, and accepts
// it when the hub is merely unavailable.
var (
	// ErrMalformed marks an NVR, build ID or arch that cannot be valid.
	ErrMalformed = errors.New("malformed")
	// ErrUnknownBuild marks an NVR or build ID Koji does not know, or whose
	// build is not complete.
	ErrUnknownBuild = errors.New("unknown Koji build")
	// ErrNoRPMs marks a build with no RPM for the arch or noarch.
	ErrNoRPMs = errors.New("no RPMs for the arch")
	// ErrHubUnavailable marks a hub that stayed unreachable, slow or failing
	// through every retry.
	ErrHubUnavailable = errors.New("koji hub unavailable")
	// ErrChecksum marks a download that differs from what Koji records
	// even after one refetch.
	ErrChecksum = errors.New("download does not match Koji")
)

// Config says where Koji is and how the worker's RPM cache behaves.
type Config struct {
	// HubURL is the Koji hub's XML-RPC endpoint ([koji] hub_url).
	HubURL string
	// PackagesURL is the top of Koji's packages tree ([koji] packages_url).
	PackagesURL string
	// CacheDir holds the RPM cache, shared by builds and addressed by
	// Koji's payloadhash and size.
	// Needed by Build only.
	CacheDir string
	// CacheMax is the cache's size cap in bytes; least recently used RPMs
	// are evicted beyond it, never those of the build at hand.
	CacheMax int64
	// Parallel is how many RPMs download at once.
	Parallel int
	// Client makes the XML-RPC calls and downloads.
	Client *http.Client
	// Createrepo is the createrepo_c binary, looked up in PATH by Build if
	// empty.
	Createrepo string
	// HubTimeout bounds one XML-RPC call.
	HubTimeout time.Duration
	// Retries is how many times a failed hub call, or a download attempt
	// that made no progress, is retried; negative means never.
	Retries int
	// Backoff is the pause before the first retry, doubled for each next.
	Backoff time.Duration
}

// Defaults filled in by New for zero fields.
const (
	DefaultHubURL      = "https://koji.fedoraproject.org/kojihub"
	DefaultPackagesURL = "https://kojipkgs.fedoraproject.org/packages"
	DefaultCacheMax    = 20 << 30
	DefaultParallel    = 4
	DefaultHubTimeout  = time.Minute
	DefaultRetries     = 4
	DefaultBackoff     = time.Second
)

// Resolver turns Koji NVRs and build IDs into RPMs and side repositories.
// It is safe for concurrent use; concurrent builds share the cache and
// download an RPM they both need once.
type Resolver struct {
	cfg   Config
	hub   *hub
	cache *cache
}

// New fills cfg's defaults, checks it and returns a Resolver.
func New(cfg Config) (*Resolver, error) {
	if cfg.HubURL == "" {
		cfg.HubURL = DefaultHubURL
	}
	if cfg.PackagesURL == "" {
		cfg.PackagesURL = DefaultPackagesURL
	}
	cfg.PackagesURL = strings.TrimRight(cfg.PackagesURL, "/")
	if cfg.CacheMax == 0 {
		cfg.CacheMax = DefaultCacheMax
	}
	if cfg.Parallel == 0 {
		cfg.Parallel = DefaultParallel
	}
	if cfg.Client == nil {
		// Keep a connection per parallel download alive between files, as
		// curl --parallel does; the default keeps two per host.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = max(cfg.Parallel, t.MaxIdleConnsPerHost)
		cfg.Client = &http.Client{Transport: t}
	}
	if cfg.HubTimeout == 0 {
		cfg.HubTimeout = DefaultHubTimeout
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = DefaultRetries
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = DefaultBackoff
	}
	for name, u := range map[string]string{"hub_url": cfg.HubURL, "packages_url": cfg.PackagesURL} {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("siderepo: [koji] %s %q is not an http(s) URL", name, u)
		}
	}
	if cfg.CacheMax < 0 || cfg.Parallel < 0 || cfg.HubTimeout < 0 || cfg.Backoff < 0 {
		return nil, fmt.Errorf("siderepo: negative cache size, parallelism, timeout or backoff")
	}
	r := &Resolver{
		cfg: cfg,
		hub: &hub{url: cfg.HubURL, client: cfg.Client, timeout: cfg.HubTimeout, retries: cfg.Retries, backoff: cfg.Backoff},
	}
	if cfg.CacheDir != "" {
		r.cache = newCache(cfg.CacheDir, cfg.CacheMax)
	}
	return r, nil
}

// RPM is one package file of a Koji build.
type RPM struct {
	Name    string
	Version string
	Release string
	Arch    string
	// Size is the file size Koji records.
	Size int64
	// Cached is set by Lookup when the worker's cache already holds the
	// file, verified.
	Cached bool
	// PayloadHash is Koji's payloadhash: RPMTAG_SIGMD5, the MD5 of the
	// header and payload.
	PayloadHash string
	// URL is where the file is under Koji's packages tree.
	URL string
	// Build is the NVR of the Koji build the RPM belongs to.
	Build string
}

// File is the RPM's file name, name-version-release.arch.rpm.
func (r RPM) File() string { return r.Name + "-" + r.Version + "-" + r.Release + "." + r.Arch + ".rpm" }

// isDebug reports whether an RPM name is debug data (koji.is_debuginfo).
func isDebug(name string) bool {
	return strings.HasSuffix(name, "-debuginfo") || strings.HasSuffix(name, "-debugsource") ||
		strings.Contains(name, "-debuginfo-")
}

// safeField guards the Koji answers that become file and URL path names.
var safeField = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_+~^][A-Za-z0-9._+~^-]*$`) })

// Lookup resolves nvrs and build IDs to the RPMs a side repo for arch
// holds, without downloading anything. The same build named twice counts
// once.
func (r *Resolver) Lookup(ctx context.Context, arch string, nvrs, buildIDs []string) ([]RPM, error) {
	if !tasks.ValidArch(arch) {
		return nil, fmt.Errorf("side repo: arch %q: %w", arch, ErrMalformed)
	}
	var infos []any
	var names []string
	for _, n := range nvrs {
		if !tasks.ValidNVR(n) {
			return nil, fmt.Errorf("side repo: NVR %q is not name-version-release: %w", n, ErrMalformed)
		}
		infos, names = append(infos, n), append(names, "NVR "+n)
	}
	for _, b := range buildIDs {
		if !tasks.ValidKojiBuildID(b) {
			return nil, fmt.Errorf("side repo: Koji build ID %q is not a positive number: %w", b, ErrMalformed)
		}
		id, err := strconv.Atoi(b)
		if err != nil {
			return nil, fmt.Errorf("side repo: Koji build ID %q: %w", b, err)
		}
		infos, names = append(infos, id), append(names, "build ID "+b)
	}
	seen := map[int]bool{}
	var out []RPM
	for i, info := range infos {
		b, err := r.hub.getBuild(ctx, info)
		if err != nil {
			return nil, fmt.Errorf("side repo: look up %s: %w", names[i], err)
		}
		if b == nil {
			return nil, fmt.Errorf("side repo: Koji has no build with %s: %w", names[i], ErrUnknownBuild)
		}
		if b.State != buildComplete {
			return nil, fmt.Errorf("side repo: Koji build %s (%s) is %s, not complete: %w", b.NVR, names[i], stateName(b.State), ErrUnknownBuild)
		}
		if seen[b.ID] {
			continue
		}
		seen[b.ID] = true
		rpms, err := r.rpmsOf(ctx, b, arch)
		if err != nil {
			return nil, err
		}
		if len(rpms) == 0 {
			return nil, fmt.Errorf("side repo: Koji build %s (%s) has no RPM for %s or noarch: %w", b.NVR, names[i], arch, ErrNoRPMs)
		}
		out = append(out, rpms...)
	}
	return out, nil
}

func stateName(s int) string {
	if n, ok := buildStates[s]; ok {
		return n
	}
	return "in state " + strconv.Itoa(s)
}

// rpmsOf lists the RPMs of build b that belong in a side repo for arch.
func (r *Resolver) rpmsOf(ctx context.Context, b *kojiBuild, arch string) ([]RPM, error) {
	for _, f := range []string{b.Name, b.Version, b.Release} {
		if !safeField().MatchString(f) {
			return nil, fmt.Errorf("side repo: Koji build %d has a malformed name, version or release %q", b.ID, f)
		}
	}
	list, err := r.hub.listRPMs(ctx, b.ID)
	if err != nil {
		return nil, fmt.Errorf("side repo: list RPMs of Koji build %s: %w", b.NVR, err)
	}
	base := r.cfg.PackagesURL
	if b.VolumeName != "" && b.VolumeName != "DEFAULT" {
		if !safeField().MatchString(b.VolumeName) {
			return nil, fmt.Errorf("side repo: Koji build %s is on a malformed volume %q", b.NVR, b.VolumeName)
		}
		// koji.PathInfo.volumedir: <topdir>/vol/<volume>/packages
		base = strings.TrimSuffix(base, "/packages") + "/vol/" + b.VolumeName + "/packages"
	}
	var out []RPM
	for _, k := range list {
		if k.Arch != arch && k.Arch != "noarch" || isDebug(k.Name) || k.MetadataOnly {
			continue
		}
		for _, f := range []string{k.Name, k.Version, k.Release, k.Arch} {
			if !safeField().MatchString(f) {
				return nil, fmt.Errorf("side repo: Koji build %s lists RPM %d with malformed field %q", b.NVR, k.ID, f)
			}
		}
		ph := strings.ToLower(k.PayloadHash)
		if !validHex(ph, 32) || k.Size <= 0 {
			return nil, fmt.Errorf("side repo: Koji build %s lists RPM %s with bad payloadhash %q or size %d", b.NVR, k.Name, k.PayloadHash, k.Size)
		}
		rpm := RPM{Name: k.Name, Version: k.Version, Release: k.Release, Arch: k.Arch, Size: k.Size, PayloadHash: ph, Build: b.NVR}
		rpm.URL = base + "/" + path.Join(b.Name, b.Version, b.Release, k.Arch, rpm.File())
		if r.cache != nil {
			_, rpm.Cached = r.cache.lookup(key(rpm), rpm.Size)
		}
		out = append(out, rpm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File() < out[j].File() })
	return out, nil
}

// Build resolves nvrs and buildIDs for arch (plus noarch, without debuginfo
// and debugsource), downloads what the cache lacks (Parallel at a time,
// resuming interrupted transfers, each checked against Koji's size and
// payloadhash, refetched once on a mismatch), links the RPMs from the cache
// into dir, runs createrepo_c there and returns dir's absolute path. rep
// receives the build log's lines and the downloads' progress (all of them
// as one count, bytes done of the bytes the cache lacks); nil discards
// them.
func (r *Resolver) Build(ctx context.Context, dir, arch string, nvrs, buildIDs []string, rep *progress.Reporter) (string, error) {
	logf := rep.Logf
	if r.cache == nil {
		return "", fmt.Errorf("side repo: no cache directory configured")
	}
	createrepo := r.cfg.Createrepo
	if createrepo == "" {
		p, err := exec.LookPath("createrepo_c")
		if err != nil {
			return "", fmt.Errorf("side repo: find createrepo_c: %w", err)
		}
		createrepo = p
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("side repo: %w", err)
	}
	start := time.Now()
	rpms, err := r.Lookup(ctx, arch, nvrs, buildIDs)
	if err != nil {
		return "", err
	}
	if err := r.cache.init(); err != nil {
		return "", fmt.Errorf("side repo: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("side repo: %w", err)
	}
	began, end := r.cache.begin()
	defer end()

	var total, missing int64
	lacking := 0
	for _, p := range rpms {
		total += p.Size
		if !p.Cached {
			missing += p.Size
			lacking++
		}
	}
	logf("side repo: %d RPMs, %s, from Koji builds %s", len(rpms), mb(total), strings.Join(buildsOf(rpms), ", "))

	m := rep.Start(tasks.StageSideRepo, fmt.Sprintf("%d RPMs from Koji", lacking), missing)
	files, stats, err := r.fetchAll(ctx, rpms, dir, logf, m)
	m.Finish()
	if err != nil {
		return "", err
	}
	fetched := time.Since(start)

	cmd := exec.CommandContext(ctx, createrepo, "--quiet", "--no-database", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("side repo: createrepo_c %s: %w: %s", dir, err, tail(out))
	}

	keep := map[string]bool{}
	for _, f := range files {
		keep[f] = true
	}
	if n, freed, err := r.cache.evict(keep, began); err != nil {
		logf("side repo: cache eviction: %v", err)
	} else if n > 0 {
		logf("side repo: evicted %d RPMs (%s) from the cache", n, mb(freed))
	}
	logf("side repo: ready in %v: %d RPMs (%d from cache), downloaded %s in %v (%s/s)",
		time.Since(start).Round(time.Millisecond), len(rpms), stats.cached, mb(stats.bytes),
		fetched.Round(time.Millisecond), mb(int64(float64(stats.bytes)/fetched.Seconds())))
	return dir, nil
}

type fetchStats struct {
	cached int
	bytes  int64
}

// fetchAll brings every RPM into the cache and links it into dir, Parallel
// at a time; the first failure stops the rest. It returns the cache files
// used.
func (r *Resolver) fetchAll(ctx context.Context, rpms []RPM, dir string, logf func(string, ...any), m *progress.Meter) ([]string, fetchStats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		first error
		stats fetchStats
		done  int
		wg    sync.WaitGroup
		sem   = make(chan struct{}, max(r.cfg.Parallel, 1))
	)
	files := make([]string, len(rpms))
	for i := range rpms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			t0 := time.Now()
			file, cached, err := r.obtain(ctx, rpms[i], logf, m)
			if err == nil {
				err = link(file, filepath.Join(dir, rpms[i].File()))
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
					cancel()
				}
				return
			}
			files[i] = file
			done++
			how := "from cache"
			if cached {
				stats.cached++
			} else {
				stats.bytes += rpms[i].Size
				d := time.Since(t0)
				how = fmt.Sprintf("downloaded in %v, %s/s", d.Round(time.Millisecond), mb(int64(float64(rpms[i].Size)/d.Seconds())))
			}
			logf("side repo: [%d/%d] %s %s %s", done, len(rpms), rpms[i].File(), mb(rpms[i].Size), how)
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = fmt.Errorf("side repo: %w", ctx.Err())
	}
	return files, stats, first
}

// obtain returns the cache file of rpm, downloading it if needed. A
// download that does not match Koji is thrown away and fetched once more
// before giving up.
func (r *Resolver) obtain(ctx context.Context, rpm RPM, logf func(string, ...any), m *progress.Meter) (file string, cached bool, err error) {
	k := key(rpm)
	if file, ok := r.cache.lookup(k, rpm.Size); ok {
		return file, true, nil
	}
	file, err = r.cache.share(k, func() (string, error) {
		if file, ok := r.cache.lookup(k, rpm.Size); ok { // another build just got it
			return file, nil
		}
		part := r.cache.partPath(k)
		var err error
		for try := 0; try < 2; try++ {
			err = r.download(ctx, rpm, part, logf, m)
			if !errors.Is(err, ErrChecksum) {
				break
			}
			if rmErr := os.Remove(part); rmErr != nil {
				return "", fmt.Errorf("side repo: discard bad download of %s: %w", rpm.File(), rmErr)
			}
			if try == 0 {
				logf("side repo: %s does not match Koji (%v), fetching it again", rpm.File(), err)
			}
		}
		if err != nil {
			return "", fmt.Errorf("side repo: %s from Koji build %s: %w", rpm.File(), rpm.Build, err)
		}
		file, err := r.cache.put(k, part)
		if err != nil {
			return "", fmt.Errorf("side repo: %w", err)
		}
		return file, nil
	})
	if err != nil {
		return "", false, err
	}
	return file, false, nil
}

// link makes dst name the same file as the cache file src: a hard link, or
// a copy when the repo is on another file system than the cache.
func link(src, dst string) error {
	if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("side repo: replace %s: %w", dst, err)
	}
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("side repo: copy %s to %s: %w", src, dst, err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("side repo: copy %s to %s: %w", src, dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("side repo: copy %s to %s: %w", src, dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("side repo: copy %s to %s: %w", src, dst, err)
	}
	return nil
}

func buildsOf(rpms []RPM) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range rpms {
		if !seen[p.Build] {
			seen[p.Build] = true
			out = append(out, p.Build)
		}
	}
	return out
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// tail is the end of a tool's output, for error messages.
func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}
