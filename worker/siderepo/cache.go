package siderepo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// cache is the RPM store shared by builds, addressed by what Koji reports of
// each file and the download was verified against:
//
//	verified/<payloadhash>-<size>.rpm  files that matched Koji
//	partial/<payloadhash>-<size>       downloads under way, kept across failures to resume
//
// A file is only ever renamed into verified/ after its size and RPMTAG_SIGMD5
// matched Koji's, so its name is the proof of what it holds and no second
// hash of the whole file is needed to find it again.
//
// A file's modification time is its last use; eviction removes the least
// recently used files once the total passes max. Builds link files into
// their repo directory, so eviction never pulls a file from under a repo.
type cache struct {
	dir string
	max int64

	mu       sync.Mutex
	migrated bool // the old layout was moved into this one
	inflight map[string]*flight
	// active counts running builds by start time: files used since the
	// oldest of them started may be about to be linked and are not evicted.
	active map[time.Time]int
}

// flight is one download that concurrent builds of the same RPM share.
type flight struct {
	done chan struct{}
	file string
	err  error
}

func newCache(dir string, max int64) *cache {
	return &cache{dir: dir, max: max, inflight: map[string]*flight{}, active: map[time.Time]int{}}
}

// init makes the cache's directories (again, should someone have removed
// them) and, the first time, moves what an older fbs left under its layout
// into this one.
func (c *cache) init() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range []string{"verified", "partial"} {
		if err := os.MkdirAll(filepath.Join(c.dir, d), 0o755); err != nil {
			return fmt.Errorf("create RPM cache: %w", err)
		}
	}
	if c.migrated {
		return nil
	}
	if err := c.migrate(); err != nil {
		return fmt.Errorf("migrate RPM cache %s: %w", c.dir, err)
	}
	c.migrated = true
	return nil
}

// migrate moves the files of the layout fbs used before the cache was
// addressed by Koji's checksum: blobs/<sha256>.rpm named by their SHA-256,
// and index/<payloadhash>-<size> holding the SHA-256 of the verified file
// Koji describes that way. Each indexed blob of the right size becomes
// verified/<payloadhash>-<size>.rpm (a rename keeps its time of last use); the
// rest, blobs nothing indexes and index entries without their blob, is
// removed. The index was written only after verification, so it vouches
// for the new name as it vouched for the old lookup. Interrupted, the
// migration resumes where it stopped at the next start.
func (c *cache) migrate() error {
	index, blobs := filepath.Join(c.dir, "index"), filepath.Join(c.dir, "blobs")
	ents, err := os.ReadDir(index)
	if errors.Is(err, fs.ErrNotExist) {
		return os.RemoveAll(blobs)
	} else if err != nil {
		return err
	}
	for _, e := range ents {
		entry := filepath.Join(index, e.Name())
		if k, ok := parseKey(e.Name()); ok {
			if b, err := os.ReadFile(entry); err == nil {
				sum := strings.TrimSpace(string(b))
				old := filepath.Join(blobs, sum+".rpm")
				if fi, err := os.Stat(old); validHex(sum, 64) && err == nil && fi.Mode().IsRegular() && fi.Size() == k.size {
					if err := os.Rename(old, c.path(e.Name())); err != nil {
						return err
					}
				}
			}
		}
		if err := os.Remove(entry); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.RemoveAll(blobs); err != nil {
		return err
	}
	return os.RemoveAll(index)
}

// begin registers a running build by its start time; end unregisters it.
func (c *cache) begin() (start time.Time, end func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := time.Now()
	c.active[t]++
	return t, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.active[t]--; c.active[t] == 0 {
			delete(c.active, t)
		}
	}
}

// key is the name under which the cache knows an RPM: Koji's payloadhash
// and size, which a download must match before it is stored.
func key(r RPM) string { return fmt.Sprintf("%s-%d", r.PayloadHash, r.Size) }

// cacheKey is a key taken apart.
type cacheKey struct {
	payloadHash string
	size        int64
}

// parseKey reads a key, refusing any name key cannot have made.
func parseKey(s string) (cacheKey, bool) {
	hash, size, ok := strings.Cut(s, "-")
	n, err := strconv.ParseInt(size, 10, 64)
	if !ok || err != nil || n <= 0 || !validHex(hash, 32) || strconv.FormatInt(n, 10) != size {
		return cacheKey{}, false
	}
	return cacheKey{hash, n}, true
}

func (c *cache) path(k string) string     { return filepath.Join(c.dir, "verified", k+".rpm") }
func (c *cache) partPath(k string) string { return filepath.Join(c.dir, "partial", k) }

// lookup returns the file of the RPM known under k, marking it used, or ok
// false if the cache does not hold it (any more).
func (c *cache) lookup(k string, size int64) (file string, ok bool) {
	file = c.path(k)
	fi, err := os.Stat(file)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		return "", false
	}
	now := time.Now()
	_ = os.Chtimes(file, now, now) // LRU order only; a failure costs nothing worse
	return file, true
}

// put moves a verified download into the store under k.
func (c *cache) put(k, part string) (string, error) {
	file := c.path(k)
	if err := os.Rename(part, file); err != nil {
		return "", fmt.Errorf("store %s in RPM cache: %w", part, err)
	}
	now := time.Now()
	_ = os.Chtimes(file, now, now)
	return file, nil
}

// evict removes least recently used files until the store is within max,
// never one in keep nor one that a running build other than self (the
// caller's start, from begin) may have used. It returns how many files and
// bytes went.
func (c *cache) evict(keep map[string]bool, self time.Time) (int, int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	type entry struct {
		path string
		size int64
		used time.Time
	}
	var entries []entry
	var total int64
	err := filepath.WalkDir(filepath.Join(c.dir, "verified"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		entries = append(entries, entry{p, fi.Size(), fi.ModTime()})
		total += fi.Size()
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("scan RPM cache: %w", err)
	}
	var busy time.Time // files used at or after busy belong to a running build
	for t, n := range c.active {
		if t.Equal(self) && n == 1 {
			continue
		}
		if busy.IsZero() || t.Before(busy) {
			busy = t
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].used.Before(entries[j].used) })
	var n int
	var freed int64
	for _, b := range entries {
		if total <= c.max {
			break
		}
		if keep[b.path] || !busy.IsZero() && !b.used.Before(busy) {
			continue
		}
		if err := os.Remove(b.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, freed, fmt.Errorf("evict %s from RPM cache: %w", b.path, err)
		}
		total -= b.size
		freed += b.size
		n++
	}
	return n, freed, nil
}

// share runs fetch once for all concurrent callers asking for k.
func (c *cache) share(k string, fetch func() (file string, err error)) (string, error) {
	c.mu.Lock()
	if f, ok := c.inflight[k]; ok {
		c.mu.Unlock()
		<-f.done
		return f.file, f.err
	}
	f := &flight{done: make(chan struct{})}
	c.inflight[k] = f
	c.mu.Unlock()
	f.file, f.err = fetch()
	c.mu.Lock()
	delete(c.inflight, k)
	c.mu.Unlock()
	close(f.done)
	return f.file, f.err
}

func validHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}
