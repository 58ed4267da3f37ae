package kickstarts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/fedora-fbs/fbs/tasks/egress"
)

// Fetch limits (issue 3, section 3).
const (
	fetchTimeout  = 30 * time.Second
	maxRedirects  = 5
	fetchMaxBytes = maxFileSize
)

// fetcher gets kickstarts by URL under the fetch rules: http, https or ftp
// only, a timeout, at most 1 MiB, at most 5 redirects and only addresses
// the outbound-address policy allows.
type fetcher struct {
	client *http.Client
	policy *egress.Policy
	// custom is set when the caller gave the client: its dials are not
	// checked, so hosts are checked before each request.
	custom bool
}

// newFetcher builds the fetcher for opts. A caller's client is copied and
// given the redirect rules; its transport cannot be made to check the
// addresses it dials, so hosts are checked before each request instead.
func newFetcher(opts Options) *fetcher {
	f := &fetcher{policy: opts.Egress}
	if opts.Client != nil {
		c := *opts.Client
		f.client = &c
	} else {
		f.client = &http.Client{
			Timeout: fetchTimeout,
			Transport: &http.Transport{
				// No proxy from the environment: a proxy would dial the
				// address for us, past the check.
				Proxy:                 nil,
				DialContext:           f.dial,
				TLSHandshakeTimeout:   10 * time.Second,
				ResponseHeaderTimeout: fetchTimeout,
				// A flatten makes few requests; keeping no connection
				// leaves nothing behind when it returns.
				DisableKeepAlives: true,
			},
		}
	}
	custom := opts.Client != nil
	f.custom = custom
	f.client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return fmt.Errorf("redirect to %s: scheme %q: %w", req.URL.Redacted(), req.URL.Scheme, ErrRefused)
		}
		if custom {
			return f.checkHost(req.Context(), req.URL.Hostname())
		}
		return nil
	}
	return f
}

// policyError is a refusal of the outbound-address policy, which is also
// one of this package's refusals (ErrRefused).
type policyError struct{ err error }

func (e policyError) Error() string   { return e.err.Error() }
func (e policyError) Unwrap() []error { return []error{e.err, ErrRefused} }

// dial connects to address if the policy allows it, checking the address
// the connection is made to.
func (f *fetcher) dial(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := f.policy.DialContext(ctx, network, address)
	if errors.Is(err, egress.ErrRefused) {
		return nil, policyError{err}
	}
	return c, err
}

// checkHost resolves host and refuses it if the policy refuses any of its
// addresses.
func (f *fetcher) checkHost(ctx context.Context, host string) error {
	if err := f.policy.CheckHost(ctx, host); err != nil {
		if errors.Is(err, egress.ErrRefused) {
			return policyError{err}
		}
		return err
	}
	return nil
}

// open fetches raw and returns it as a source.
func (f *fetcher) open(ctx context.Context, raw string) (source, []byte, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, nil, &FetchError{URL: raw, Err: fmt.Errorf("bad URL: %w", err)}
	}
	var data []byte
	switch u.Scheme {
	case "http", "https":
		data, err = f.getHTTP(ctx, u)
	case "ftp":
		data, err = f.getFTP(ctx, u)
	default:
		err = fmt.Errorf("scheme %q is not allowed (http, https or ftp): %w", u.Scheme, ErrRefused)
	}
	if err != nil {
		return nil, nil, &FetchError{URL: u.Redacted(), Err: err}
	}
	return &urlSource{u: u, fetch: f}, data, nil
}

func (f *fetcher) getHTTP(ctx context.Context, u *url.URL) ([]byte, error) {
	if f.client.Timeout == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, fetchTimeout)
		defer cancel()
	}
	body, err := f.getHTTPBody(ctx, u)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return readLimited(body, u.Redacted())
}

// getHTTPBody makes the request and returns the body of a 2xx answer; the
// caller closes it and bounds what it reads, and the time it takes when
// the client has no timeout.
func (f *fetcher) getHTTPBody(ctx context.Context, u *url.URL) (io.ReadCloser, error) {
	if f.custom {
		if err := f.checkHost(ctx, u.Hostname()); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		resp.Body.Close()
		return nil, fmt.Errorf("HTTP %s: %w", resp.Status, ErrNotFound)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		resp.Body.Close()
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	return resp.Body, nil
}

// readLimited reads r whole, failing beyond fetchMaxBytes.
func readLimited(r io.Reader, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, fetchMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if len(data) > fetchMaxBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", what, fetchMaxBytes, ErrLimit)
	}
	return data, nil
}
