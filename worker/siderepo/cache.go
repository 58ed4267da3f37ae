package siderepo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// cache is the content-addressed RPM store shared by builds:
//
//	blobs/<sha256>.rpm       the files, named by their SHA-256
//	index/<sigmd5>-<size>    the SHA-256 of the file Koji describes so
//	partial/<sigmd5>-<size>  downloads under way, kept across failures to resume
//
// A blob's modification time is its last use; eviction removes the least
// recently used blobs once the total passes max. Builds link blobs into their
// repo directory, so eviction never pulls a file from under a repo.
type cache struct {
	dir string
	max int64

	mu       sync.Mutex
	inflight map[string]*flight
	// active counts running builds by start time: blobs used since the
	// oldest of them started may be about to be linked and are not evicted.
	active map[time.Time]int
}

// flight is one download that concurrent builds of the same RPM share.
type flight struct {
	done chan struct{}
	blob string
	sum  string
	err  error
}

func newCache(dir string, max int64) *cache {
	return &cache{dir: dir, max: max, inflight: map[string]*flight{}, active: map[time.Time]int{}}
}

func (c *cache) init() error {
	for _, d := range []string{"blobs", "index", "partial"} {
		if err := os.MkdirAll(filepath.Join(c.dir, d), 0o755); err != nil {
			return fmt.Errorf("create RPM cache: %w", err)
		}
	}
	return nil
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

// key is the name under which the cache knows what Koji reports of an RPM
// before it is downloaded.
func key(r RPM) string { return fmt.Sprintf("%s-%d", r.PayloadHash, r.Size) }

func (c *cache) blobPath(sum string) string { return filepath.Join(c.dir, "blobs", sum+".rpm") }
func (c *cache) partPath(k string) string   { return filepath.Join(c.dir, "partial", k) }

// lookup returns the SHA-256 and blob of the RPM known under k, marking it
// used, or ok false if the cache does not hold it (any more).
func (c *cache) lookup(k string, size int64) (sum, blob string, ok bool) {
	b, err := os.ReadFile(filepath.Join(c.dir, "index", k))
	if err != nil {
		return "", "", false
	}
	sum = strings.TrimSpace(string(b))
	if !validHex(sum, 64) {
		return "", "", false
	}
	blob = c.blobPath(sum)
	fi, err := os.Stat(blob)
	if err != nil || fi.Size() != size {
		return "", "", false
	}
	now := time.Now()
	_ = os.Chtimes(blob, now, now) // LRU order only; a failure costs nothing worse
	return sum, blob, true
}

// put moves a verified download into the store and indexes it under k.
func (c *cache) put(k, part, sum string) (string, error) {
	blob := c.blobPath(sum)
	if err := os.Rename(part, blob); err != nil {
		return "", fmt.Errorf("store %s in RPM cache: %w", part, err)
	}
	now := time.Now()
	_ = os.Chtimes(blob, now, now)
	idx := filepath.Join(c.dir, "index", k)
	tmp := idx + ".tmp"
	if err := os.WriteFile(tmp, []byte(sum+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("index %s in RPM cache: %w", k, err)
	}
	if err := os.Rename(tmp, idx); err != nil {
		return "", fmt.Errorf("index %s in RPM cache: %w", k, err)
	}
	return blob, nil
}

// evict removes least recently used blobs until the store is within max,
// never one in keep nor one that a running build other than self (the
// caller's start, from begin) may have used. It returns how many blobs and
// bytes went.
func (c *cache) evict(keep map[string]bool, self time.Time) (int, int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	type blob struct {
		path string
		size int64
		used time.Time
	}
	var blobs []blob
	var total int64
	err := filepath.WalkDir(filepath.Join(c.dir, "blobs"), func(p string, d fs.DirEntry, err error) error {
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
		blobs = append(blobs, blob{p, fi.Size(), fi.ModTime()})
		total += fi.Size()
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("scan RPM cache: %w", err)
	}
	var busy time.Time // blobs used at or after busy belong to a running build
	for t, n := range c.active {
		if t.Equal(self) && n == 1 {
			continue
		}
		if busy.IsZero() || t.Before(busy) {
			busy = t
		}
	}
	sort.Slice(blobs, func(i, j int) bool { return blobs[i].used.Before(blobs[j].used) })
	var n int
	var freed int64
	for _, b := range blobs {
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
func (c *cache) share(k string, fetch func() (blob, sum string, err error)) (string, string, error) {
	c.mu.Lock()
	if f, ok := c.inflight[k]; ok {
		c.mu.Unlock()
		<-f.done
		return f.blob, f.sum, f.err
	}
	f := &flight{done: make(chan struct{})}
	c.inflight[k] = f
	c.mu.Unlock()
	f.blob, f.sum, f.err = fetch()
	c.mu.Lock()
	delete(c.inflight, k)
	c.mu.Unlock()
	close(f.done)
	return f.blob, f.sum, f.err
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
