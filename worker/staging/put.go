package staging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/worker/progress"
)

// remoteFS is what the transfer protocol needs from a scheme. Paths are in
// the remote side's syntax; join builds them.
type remoteFS interface {
	join(elem ...string) string
	mkdirAll(ctx context.Context, dir string) error
	// size returns the size of p, or ok false if p does not exist.
	size(ctx context.Context, p string) (n int64, ok bool, err error)
	// write stores the bytes of src from offset on into p at offset,
	// creating p when offset is 0 and truncating it to offset otherwise.
	// A scheme may start earlier than offset (see resumeSlack); it
	// returns where it started.
	write(ctx context.Context, p string, src *source, offset int64) (int64, error)
	// sum returns the hex SHA256 of p as the remote side sees it.
	sum(ctx context.Context, p string) (string, error)
	// rename moves from onto to, replacing to.
	rename(ctx context.Context, from, to string) error
	remove(ctx context.Context, p string) error
	// create writes a small file p whole.
	create(ctx context.Context, p string, data []byte) error
	// removeAll removes directory dir and everything under it, never
	// following a symbolic link out of it.
	removeAll(ctx context.Context, dir string) error
}

// sameFiler is a remoteFS that can tell when the remote p is the local file
// itself (file:// staging by hard link): its bytes are then the ones the
// local SHA256 was computed from, and are not read again to verify them.
type sameFiler interface {
	sameFile(p, local string) bool
}

// errVerify marks a file whose remote copy did not match.
var errVerify = errors.New("verification failed")

// put runs the transfer protocol shared by every scheme: for each file,
// skip it if already staged intact, else write it under its part name
// (resuming from what the part file holds), verify size and SHA256, and
// rename it into place.
func put(ctx context.Context, fs remoteFS, t *target, opts *Options, buildID string, files []string) ([]tasks.Artifact, error) {
	if err := checkBuildID(buildID); err != nil {
		return nil, fmt.Errorf("stage to %s: %w", t, err)
	}
	locals, err := statLocal(files)
	if err != nil {
		return nil, err
	}
	for _, lf := range locals {
		lf.sum = opts.KnownSums[lf.path]
	}
	dir := t.dir
	if buildID != "" {
		dir = fs.join(t.dir, buildID)
	}
	if err := fs.mkdirAll(ctx, dir); err != nil {
		return nil, fmt.Errorf("stage to %s: make directory %s: %w", t, dir, err)
	}
	if buildID != "" {
		if err := mark(ctx, fs, t, buildID); err != nil {
			return nil, fmt.Errorf("stage to %s: %w", t, err)
		}
	}
	arts := make([]tasks.Artifact, 0, len(locals))
	for _, lf := range locals {
		if err := ctx.Err(); err != nil {
			return arts, fmt.Errorf("stage %s to %s: %w", lf.path, t.fileURL(buildID, lf.name), err)
		}
		if err := putOne(ctx, fs, opts, dir, lf); err != nil {
			return arts, fmt.Errorf("stage %s to %s: %w", lf.path, t.fileURL(buildID, lf.name), err)
		}
		arts = append(arts, tasks.Artifact{Name: lf.name, Size: lf.size, SHA256: lf.sum, URL: t.fileURL(buildID, lf.name)})
	}
	return arts, nil
}

func putOne(ctx context.Context, fs remoteFS, opts *Options, dir string, lf *localFile) error {
	final, part := fs.join(dir, lf.name), fs.join(dir, partName(lf.name))
	if n, ok, err := fs.size(ctx, final); err != nil {
		return fmt.Errorf("look for %s: %w", final, err)
	} else if ok && n == lf.size {
		same, err := verify(ctx, fs, final, lf)
		if err == nil && same {
			opts.logf("%s: already staged (%d bytes, sha256 %s), skipped", lf.name, lf.size, lf.sum)
			return nil
		}
		if err != nil && !errors.Is(err, errVerify) {
			return err
		}
	}
	offset := int64(0)
	if n, ok, err := fs.size(ctx, part); err != nil {
		return fmt.Errorf("look for %s: %w", part, err)
	} else if ok && n <= lf.size {
		offset = n
	}
	for attempt := 0; ; attempt++ {
		if offset > 0 {
			opts.logf("%s: resuming at byte %d of %d", lf.name, offset, lf.size)
		}
		start := time.Now()
		from, err := writeFile(ctx, fs, part, lf, offset, opts.Progress)
		if err != nil {
			return err
		}
		opts.logf("%s: %d bytes sent in %s (%s)", lf.name, lf.size-from, time.Since(start).Round(time.Millisecond), rate(lf.size-from, time.Since(start)))
		vstart := time.Now()
		same, err := verify(ctx, fs, part, lf)
		if err != nil && !errors.Is(err, errVerify) {
			return err
		}
		if same {
			opts.logf("%s: verified size and sha256 %s in %s", lf.name, lf.sum, time.Since(vstart).Round(time.Millisecond))
			break
		}
		// A corrupt part file must not be resumed from again.
		if rerr := fs.remove(ctx, part); rerr != nil {
			opts.logf("%s: remove %s after failed verification: %v", lf.name, part, rerr)
		}
		if offset == 0 || attempt > 0 {
			return err
		}
		// The resumed prefix may have been bad: start over once.
		opts.logf("%s: %v after resuming; uploading again from the start", lf.name, err)
		offset = 0
	}
	if err := fs.rename(ctx, part, final); err != nil {
		return fmt.Errorf("rename %s to %s: %w", part, final, err)
	}
	return nil
}

// source is the local file a scheme's write reads: an *os.File (for
// hard links, Stat and Seek) whose reads count towards the transfer's
// progress meter.
type source struct {
	*os.File
	m *progress.Meter
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.File.Read(p)
	s.m.Add(int64(n))
	return n, err
}

func writeFile(ctx context.Context, fs remoteFS, part string, lf *localFile, offset int64, rep *progress.Reporter) (int64, error) {
	f, err := os.Open(lf.path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return 0, err
	} else if fi.Size() != lf.size {
		return 0, fmt.Errorf("local file changed size while staging (%d, was %d)", fi.Size(), lf.size)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, err
	}
	// Open always gives a reporter; only the benchmark of what progress
	// costs (bench_test.go) writes without a meter.
	var m *progress.Meter
	if rep != nil {
		m = rep.Start(tasks.StageTransfer, lf.name, lf.size)
		m.Add(offset)
		defer m.Finish()
	}
	from, err := fs.write(ctx, part, &source{File: f, m: m}, offset)
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", part, err)
	}
	return from, nil
}

// verify compares the remote p with lf by size, then SHA256. It reports
// false with an error wrapping errVerify on a mismatch, and other errors
// when it could not tell. The local and remote hashes run concurrently.
func verify(ctx context.Context, fs remoteFS, p string, lf *localFile) (bool, error) {
	n, ok, err := fs.size(ctx, p)
	if err != nil {
		return false, fmt.Errorf("verify %s: %w", p, err)
	}
	if !ok {
		return false, fmt.Errorf("verify %s: %w: file is gone", p, errVerify)
	}
	if n != lf.size {
		return false, fmt.Errorf("verify %s: %w: remote size %d, local size %d", p, errVerify, n, lf.size)
	}
	if sf, ok := fs.(sameFiler); ok && sf.sameFile(p, lf.path) {
		if _, err := lf.hash(ctx); err != nil {
			return false, err
		}
		return true, nil
	}
	type result struct {
		sum string
		err error
	}
	local := make(chan result, 1)
	go func() {
		s, err := lf.hash(ctx)
		local <- result{s, err}
	}()
	remote, rerr := fs.sum(ctx, p)
	l := <-local
	if l.err != nil {
		return false, l.err
	}
	if rerr != nil {
		return false, fmt.Errorf("verify %s: sha256 on the remote side: %w", p, rerr)
	}
	if remote != l.sum {
		return false, fmt.Errorf("verify %s: %w: remote sha256 %s, local %s", p, errVerify, remote, l.sum)
	}
	return true, nil
}

func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MB/s", float64(n)/d.Seconds()/1e6)
}
