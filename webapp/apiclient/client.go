// Package apiclient is the Go client of the fbs web API (/api/v1) and its
// wire types: what `fbs submit --server URL --token T` uses instead of
// Redis, and what scripts can use.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
)

// Error is an error answer of the API.
type Error struct {
	// Status is the HTTP status.
	Status int `json:"-"`
	// Code is the API's stable error code (see doc/api.md).
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// Error gives "field: message (code, status)".
func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	return fmt.Sprintf("%s (%s, HTTP %d)", msg, e.Code, e.Status)
}

// Client calls one fbs server.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
}

// New returns a client of the server at baseURL ("https://fbs.example.org")
// authenticating with token ("" for a local-mode server). hc nil means a
// client with a one-minute timeout.
func New(baseURL, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host[:port]", baseURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	return &Client{base: u, token: token, hc: hc}, nil
}

// do sends a request and decodes a 2xx JSON answer into out, or returns
// an *Error.
func (c *Client) do(ctx context.Context, method, p, ctype string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+p, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, p, err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, p, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, p, err)
	}
	if res.StatusCode/100 != 2 {
		e := &Error{Status: res.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Code == "" {
			e.Code, e.Message = "http", strings.TrimSpace(string(data))
			if len(e.Message) > 200 {
				e.Message = e.Message[:200] + "…"
			}
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, p, err)
	}
	return nil
}

// Submit submits a build from a JSON spec and uploaded kickstarts.
func (c *Client) Submit(ctx context.Context, r SubmitRequest) (*SubmitResponse, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode submission: %w", err)
	}
	var out SubmitResponse
	if err := c.do(ctx, http.MethodPost, "/api/v1/builds", "application/json", bytes.NewReader(body), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SubmitINI submits a build from an INI spec file's text and kickstart
// files (name -> text), as multipart.
func (c *Client) SubmitINI(ctx context.Context, specName string, spec []byte, kickstarts map[string][]byte) (*SubmitResponse, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	part, err := w.CreateFormFile("spec", path.Base(specName))
	if err == nil {
		_, err = part.Write(spec)
	}
	for name, data := range kickstarts {
		if err != nil {
			break
		}
		if part, err = w.CreateFormFile("kickstart", name); err == nil {
			_, err = part.Write(data)
		}
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("encode submission of %s: %w", specName, err)
	}
	var out SubmitResponse
	if err := c.do(ctx, http.MethodPost, "/api/v1/builds", w.FormDataContentType(), &buf, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Get returns build id (the monitor's GET /api/v1/builds/{id}).
func (c *Client) Get(ctx context.Context, id string) (*tasks.Build, error) {
	var b tasks.Build
	if err := c.do(ctx, http.MethodGet, "/api/v1/builds/"+url.PathEscape(id), "", nil, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// List lists builds with the filters of GET /api/v1/builds (state, arch,
// release, q, owner, before, limit).
func (c *Client) List(ctx context.Context, filters url.Values) (*BuildList, error) {
	var l BuildList
	if err := c.do(ctx, http.MethodGet, "/api/v1/builds?"+filters.Encode(), "", nil, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// Cancel cancels build id.
func (c *Client) Cancel(ctx context.Context, id string) (*tasks.Build, error) {
	var out struct {
		Build *tasks.Build `json:"build"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/builds/"+url.PathEscape(id)+"/cancel", "", nil, &out); err != nil {
		return nil, err
	}
	return out.Build, nil
}

// Group returns group id with its builds (GET /api/v1/groups/{id}).
func (c *Client) Group(ctx context.Context, id string) (*tasks.GroupStatus, error) {
	var g tasks.GroupStatus
	if err := c.do(ctx, http.MethodGet, "/api/v1/groups/"+url.PathEscape(id), "", nil, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// CancelGroup cancels every build of group id that has not ended.
func (c *Client) CancelGroup(ctx context.Context, id string) (*tasks.GroupStatus, error) {
	var g tasks.GroupStatus
	if err := c.do(ctx, http.MethodPost, "/api/v1/groups/"+url.PathEscape(id)+"/cancel", "", nil, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// Resubmit submits a new build from build id's spec and kickstart.
func (c *Client) Resubmit(ctx context.Context, id string) (*SubmitResponse, error) {
	var out SubmitResponse
	if err := c.do(ctx, http.MethodPost, "/api/v1/builds/"+url.PathEscape(id)+"/resubmit", "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Wait polls build id every interval until it ends and returns its final
// record.
func (c *Client) Wait(ctx context.Context, id string, interval time.Duration) (*tasks.Build, error) {
	return c.Watch(ctx, id, interval, nil)
}

// Watch is Wait calling seen, when not nil, with every record it reads
// (the final one too), so a caller can show the build's stage and
// progress as it goes; an error from seen ends the watch with it.
func (c *Client) Watch(ctx context.Context, id string, interval time.Duration, seen func(*tasks.Build) error) (*tasks.Build, error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		b, err := c.Get(ctx, id)
		if err == nil && seen != nil {
			if err := seen(b); err != nil {
				return nil, err
			}
		}
		var e *Error
		switch {
		case errors.As(err, &e) && e.Status < 500:
			return nil, err
		case err == nil && b.State.Final():
			return b, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// FromPayload turns a payload prepared on this machine (spec parsed,
// kickstart flattened, as `fbs submit` does) into a submission: the
// flattened kickstart is uploaded under the base name of its reference and
// the spec's config points at it.
func FromPayload(p *tasks.Payload) SubmitRequest {
	r := SubmitRequest{Spec: p.Spec}
	if p.Kickstart == "" {
		return r
	}
	name := p.KickstartName
	if u, err := url.Parse(name); err == nil && u.Scheme != "" {
		name = u.Path
	}
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	if name == "" || name == "." || name == "/" || name == ".." {
		name = "kickstart.ks"
	}
	r.Kickstarts = map[string]string{name: p.Kickstart}
	switch {
	case r.Spec.DVD != nil:
		d := *r.Spec.DVD
		d.Config, r.Spec.DVD = name, &d
	case r.Spec.Live != nil:
		l := *r.Spec.Live
		l.Config, r.Spec.Live = name, &l
	case r.Spec.KSISO != nil:
		k := *r.Spec.KSISO
		k.Config, r.Spec.KSISO = name, &k
	}
	return r
}
