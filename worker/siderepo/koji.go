package siderepo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/kolo/xmlrpc"
)

// Koji build states (koji.BUILD_STATES).
var buildStates = map[int]string{0: "building", 1: "complete", 2: "deleted", 3: "failed", 4: "canceled"}

const buildComplete = 1

// kojiBuild is the part of getBuild's answer side repos need.
type kojiBuild struct {
	ID         int    `xmlrpc:"id"`
	Name       string `xmlrpc:"name"`
	Version    string `xmlrpc:"version"`
	Release    string `xmlrpc:"release"`
	NVR        string `xmlrpc:"nvr"`
	State      int    `xmlrpc:"state"`
	VolumeName string `xmlrpc:"volume_name"`
}

// kojiRPM is the part of one listRPMs entry side repos need.
type kojiRPM struct {
	ID           int    `xmlrpc:"id"`
	Name         string `xmlrpc:"name"`
	Version      string `xmlrpc:"version"`
	Release      string `xmlrpc:"release"`
	Arch         string `xmlrpc:"arch"`
	Size         int64  `xmlrpc:"size"`
	PayloadHash  string `xmlrpc:"payloadhash"`
	MetadataOnly bool   `xmlrpc:"metadata_only"`
}

// hub calls a Koji hub over XML-RPC. Requests are made here rather than
// through xmlrpc.Client, which is built on net/rpc and takes no context;
// the library still does all the encoding and decoding.
type hub struct {
	url     string
	client  *http.Client
	timeout time.Duration
	retries int
	backoff time.Duration
}

// call invokes method with args and decodes the answer into reply,
// retrying with backoff while the hub is unreachable, slow or failing with
// a server error. A fault from Koji is an answer and is not retried.
func (h *hub) call(ctx context.Context, method string, reply any, args ...any) error {
	body, err := xmlrpc.EncodeMethodCall(method, args...)
	if err != nil {
		return fmt.Errorf("koji %s%v: encode: %w", method, args, err)
	}
	var last error
	for attempt := 0; attempt <= h.retries; attempt++ {
		if attempt > 0 {
			if err := pause(ctx, h.backoff, attempt); err != nil {
				return fmt.Errorf("koji hub %s: %s%v: %w (after: %v)", h.url, method, args, err, last)
			}
		}
		resp, err := h.post(ctx, body)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("koji hub %s: %s%v: %w", h.url, method, args, ctx.Err())
			}
			last = err
			continue
		}
		r := xmlrpc.Response(resp)
		if err := r.Err(); err != nil {
			return fmt.Errorf("koji hub %s: %s%v: %w", h.url, method, args, err)
		}
		if err := r.Unmarshal(reply); err != nil {
			return fmt.Errorf("koji hub %s: %s%v: decode answer: %w", h.url, method, args, err)
		}
		return nil
	}
	return fmt.Errorf("koji hub %s: %s%v: %d attempts failed, last: %v: %w", h.url, method, args, h.retries+1, last, ErrHubUnavailable)
}

// post sends one XML-RPC request and returns the answer body; every error
// it returns is one worth retrying.
func (h *hub) post(ctx context.Context, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	return b, nil
}

// getBuild returns the build named by an NVR (string) or a build ID (int),
// or nil if Koji has no such build.
func (h *hub) getBuild(ctx context.Context, info any) (*kojiBuild, error) {
	var b kojiBuild
	if err := h.call(ctx, "getBuild", &b, info); err != nil {
		return nil, err
	}
	if b.ID == 0 { // Koji answers nil, which decodes to the zero value
		return nil, nil
	}
	return &b, nil
}

// listRPMs returns every RPM of a build, all arches.
func (h *hub) listRPMs(ctx context.Context, buildID int) ([]kojiRPM, error) {
	var rpms []kojiRPM
	if err := h.call(ctx, "listRPMs", &rpms, buildID); err != nil {
		return nil, err
	}
	return rpms, nil
}

// pause waits before retry attempt n (1-based): base, 2*base, 4*base...,
// capped at 30 s, or until ctx is done.
func pause(ctx context.Context, base time.Duration, n int) error {
	d := base << (n - 1)
	if d > 30*time.Second || d <= 0 {
		d = 30 * time.Second
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
