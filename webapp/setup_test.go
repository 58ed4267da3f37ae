package webapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// kickstartsDir is Fedora's spin kickstarts (test data, read-only).
const kickstartsDir = "../../shared/fedora-kickstarts"

func readKS(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(kickstartsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// fixture is a web app on a real Redis behind a real HTTP server.
type fixture struct {
	rdb      *redis.Client
	c        *client.Client
	srv      *webapp.Server
	ts       *httptest.Server
	cfg      webapp.Config
	fileRoot string
	staging  string // a valid staging URL
}

func init() { gin.SetMode(gin.TestMode) }

// setup starts Redis and the web app in local mode unless mod configures
// OIDC.
func setup(t testing.TB, mod func(*webapp.Config)) *fixture {
	t.Helper()
	rs := redistest.Start(t)
	rdb := rs.Client()
	c := client.New(rdb, client.Config{})
	t.Cleanup(func() { c.Close() })
	root := t.TempDir()
	cfg := webapp.Config{
		Releases: []string{"41", "rawhide"}, FileRoot: root, Egress: egress.Open(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	f := &fixture{rdb: rdb, c: c, cfg: cfg, fileRoot: root, staging: "file://" + root + "/out"}
	f.ts = httptest.NewUnstartedServer(nil)
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + f.ts.Listener.Addr().String()
	}
	srv, err := webapp.New(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	r := gin.New()
	srv.Register(r)
	f.ts.Config.Handler = r
	f.ts.Start()
	t.Cleanup(f.ts.Close)
	return f
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects.
func (f *fixture) browser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) apiError(t testing.TB) webapp.Error {
	t.Helper()
	var e webapp.Error
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	return e
}

func (f *fixture) do(t testing.TB, hc *http.Client, method, path, ctype string, body io.Reader, hdr map[string]string) resp {
	t.Helper()
	req, err := http.NewRequest(method, f.ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	if hc == nil {
		hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{res.StatusCode, res.Header, data}
}

func (f *fixture) postJSON(t testing.TB, path string, v any, hdr map[string]string) resp {
	t.Helper()
	var body []byte
	switch b := v.(type) {
	case string:
		body = []byte(b)
	default:
		var err error
		if body, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	return f.do(t, nil, http.MethodPost, path, "application/json", bytes.NewReader(body), hdr)
}

func (f *fixture) get(t testing.TB, path string, hdr map[string]string) resp {
	t.Helper()
	return f.do(t, nil, http.MethodGet, path, "", nil, hdr)
}

// multipartBody builds a multipart body from fields and files (field name
// -> list of name/content pairs).
func multipartBody(t testing.TB, fields map[string]string, files map[string][][2]string) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for field, fs := range files {
		for _, nf := range fs {
			fw, err := w.CreateFormFile(field, nf[0])
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(fw, nf[1])
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), &buf
}

// ksisoSpec is a valid kickstart ISO spec naming config.
func (f *fixture) ksisoSpec(config string) tasks.Spec {
	return tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "41", Staging: f.staging,
		KSISO: &tasks.KSISOSpec{ISO: "boot.iso", Config: config}}
}

// queued counts the tasks in every asynq queue and the build records.
func (f *fixture) queued(t testing.TB) (tasksQueued, records int) {
	t.Helper()
	qs, err := f.c.Inspector().Queues()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		info, err := f.c.Inspector().GetQueueInfo(q)
		if err != nil {
			t.Fatal(err)
		}
		tasksQueued += info.Size
	}
	n, err := f.rdb.ZCard(context.Background(), "fbs:builds").Result()
	if err != nil {
		t.Fatal(err)
	}
	return tasksQueued, int(n)
}

// token issues an API token for u directly in the store, and records u's
// rights as a sign-in would: the token acts with them.
func (f *fixture) token(t testing.TB, u auth.User) string {
	t.Helper()
	ctx := context.Background()
	if err := auth.NewUsers(f.rdb, 0).Put(ctx, u, time.Now()); err != nil {
		t.Fatal(err)
	}
	secret, _, err := auth.NewTokens(f.rdb, auth.TokenOptions{}).Create(ctx, u, "test", auth.DefaultTokenLifetime)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// postCall is one POST without a body to path with token tok ("" for
// none), and the answer it should get: status and, for errors, the code.
type postCall struct {
	name, tok, path string
	status          int
	code            string
}

// check makes the call and reports a wrong answer; it returns the answer
// and whether it was right.
func (pc postCall) check(t testing.TB, f *fixture) (resp, bool) {
	t.Helper()
	hdr := map[string]string{}
	if pc.tok != "" {
		hdr = bearer(pc.tok)
	}
	r := f.do(t, nil, http.MethodPost, pc.path, "", nil, hdr)
	if r.status != pc.status {
		t.Errorf("%s: status %d, want %d: %s", pc.name, r.status, pc.status, r.body)
		return r, false
	}
	if pc.code != "" {
		if e := r.apiError(t); e.Code != pc.code {
			t.Errorf("%s: code %s, want %s", pc.name, e.Code, pc.code)
			return r, false
		}
	}
	return r, true
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf reads the CSRF token of a page.
func csrfOf(t testing.TB, page []byte) string {
	t.Helper()
	m := csrfRE.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in page:\n%s", page)
	}
	return string(m[1])
}

func contains(t testing.TB, body []byte, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(string(body), w) {
			t.Errorf("body lacks %q:\n%s", w, body)
		}
	}
}

func readFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}

func urlq(s string) string { return url.QueryEscape(s) }
