package siderepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/fedora-fbs/fbs/worker/progress"
)

// mismatchError says a complete download is not the file Koji describes.
type mismatchError struct {
	url  string
	what string
}

func (e *mismatchError) Error() string { return fmt.Sprintf("%s: %s", e.url, e.what) }
func (e *mismatchError) Unwrap() error { return ErrChecksum }

// download fetches r into part, resuming what part already holds, and
// checks it against Koji's size and payloadhash. Dropped connections and server errors are retried with backoff,
// resuming with an HTTP Range request; the count starts over whenever an
// attempt made progress, so a flaky link slows a download but does not fail
// it.
func (r *Resolver) download(ctx context.Context, rpm RPM, part string, logf func(string, ...any), m *progress.Meter) error {
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("download %s: %w", rpm.URL, err)
	}
	defer f.Close()

	// Feed what an earlier, interrupted download left to the hasher.
	sig := newPayloadHasher()
	have, err := io.Copy(sig, f)
	if err != nil {
		return fmt.Errorf("download %s: read partial file %s: %w", rpm.URL, part, err)
	}
	if have > rpm.Size {
		if err := restart(f, &sig); err != nil {
			return fmt.Errorf("download %s: %w", rpm.URL, err)
		}
		have = 0
	}
	if have > 0 {
		logf("side repo: resuming %s at %d of %d bytes", rpm.File(), have, rpm.Size)
	}

	var last error
	for failures := 0; have < rpm.Size; {
		if failures > r.cfg.Retries {
			return fmt.Errorf("download %s: gave up after %d failed attempts, last: %w", rpm.URL, failures, last)
		}
		if failures > 0 {
			if err := pause(ctx, r.cfg.Backoff, failures); err != nil {
				return fmt.Errorf("download %s: %w (after: %v)", rpm.URL, err, last)
			}
			logf("side repo: resuming %s at %d of %d bytes (%v)", rpm.File(), have, rpm.Size, last)
		}
		n, err := r.get(ctx, rpm, f, have, &sig, m)
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("download %s: %w", rpm.URL, ctx.Err())
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return fmt.Errorf("download %s: %w", rpm.URL, perm.err)
		}
		if n > 0 {
			failures = 0
		}
		have = n
		if err != nil {
			last = err
			failures++
			continue
		}
		if have < rpm.Size { // the server ended the body early, cleanly
			last = fmt.Errorf("body ended at %d of %d bytes", have, rpm.Size)
			failures++
		}
	}
	if have != rpm.Size {
		return &mismatchError{rpm.URL, fmt.Sprintf("size %d, Koji says %d", have, rpm.Size)}
	}
	got, err := sig.Sum()
	if err != nil {
		return &mismatchError{rpm.URL, err.Error()}
	}
	if got != rpm.PayloadHash {
		return &mismatchError{rpm.URL, fmt.Sprintf("payload MD5 (RPMTAG_SIGMD5) %s, Koji says %s", got, rpm.PayloadHash)}
	}
	return nil
}

// permanentError is a download failure that retrying cannot mend.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }

// get makes one GET of rpm from offset have, appending to f, and returns how
// many bytes f holds afterwards. At most one byte more than the size Koji
// reports is read, so a wrong file is caught without filling the disk.
func (r *Resolver) get(ctx context.Context, rpm RPM, f *os.File, have int64, sig **payloadHasher, m *progress.Meter) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rpm.URL, nil)
	if err != nil {
		return have, &permanentError{err}
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := r.cfg.Client.Do(req)
	if err != nil {
		return have, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		if !strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes "+strconv.FormatInt(have, 10)+"-") {
			return have, fmt.Errorf("asked for bytes from %d, got range %q", have, resp.Header.Get("Content-Range"))
		}
	case resp.StatusCode == http.StatusOK:
		if have > 0 { // the server ignored the Range header: start over
			if err := restart(f, sig); err != nil {
				return have, &permanentError{err}
			}
			have = 0
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		if err := restart(f, sig); err != nil {
			return have, &permanentError{err}
		}
		return 0, fmt.Errorf("HTTP %s for bytes from %d", resp.Status, have)
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone || resp.StatusCode == http.StatusForbidden:
		return have, &permanentError{fmt.Errorf("HTTP %s", resp.Status)}
	default:
		return have, fmt.Errorf("HTTP %s", resp.Status)
	}
	if _, err := f.Seek(have, io.SeekStart); err != nil {
		return have, &permanentError{err}
	}
	// No fsync, as curl: it halves throughput. A cached file cut short by a
	// power loss fails the size check of its next lookup and is fetched
	// again; one damaged otherwise is not detected on reuse.
	buf := make([]byte, 256<<10)
	n, err := io.CopyBuffer(io.MultiWriter(f, *sig, m), io.LimitReader(resp.Body, rpm.Size-have+1), buf)
	have += n
	if err != nil {
		return have, fmt.Errorf("after %d bytes: %w", have, err)
	}
	return have, nil
}

// restart empties a partial download and its hasher.
func restart(f *os.File, sig **payloadHasher) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("truncate %s: %w", f.Name(), err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind %s: %w", f.Name(), err)
	}
	*sig = newPayloadHasher()
	return nil
}
