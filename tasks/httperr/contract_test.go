package httperr_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/tasks/httperr"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/webapp"
)

// listeners starts what `fbs web` (and `fbs serve`, the same engine with
// the monitor's routes mounted) and `fbs monitor` serve, over one private
// Redis.
func listeners(t *testing.T) (web, mon *httptest.Server, rs *redistest.Server) {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	rs = redistest.Start(t)
	rdb := rs.Client()
	c := client.New(rdb, client.Config{})
	t.Cleanup(func() { c.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := monitor.New(rdb, monitor.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	mon = httptest.NewServer(m.Handler())
	t.Cleanup(mon.Close)
	web = httptest.NewUnstartedServer(nil)
	srv, err := webapp.New(c, webapp.Config{Releases: []string{"41"}, PublicURL: "http://" + web.Listener.Addr().String(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	srv.Register(e)
	m.Register(e)
	web.Config.Handler = e
	web.Start()
	t.Cleanup(web.Close)
	return web, mon, rs
}

// call makes a request and decodes its error body strictly: the one shape
// {"code","message","field"} (plus "details" when there were several).
func call(t *testing.T, method, url string) (int, httperr.Body) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q, want JSON: %s", method, url, ct, data)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("%s %s: %v: %s", method, url, err, data)
	}
	for k := range raw {
		switch k {
		case "code", "message", "field", "details":
		default:
			t.Errorf("%s %s: key %q outside the error shape: %s", method, url, k, data)
		}
	}
	var b httperr.Body
	if err := json.Unmarshal(data, &b); err != nil || b.Code == "" || b.Message == "" {
		t.Errorf("%s %s: body %s (%v), want code and message", method, url, data, err)
	}
	if want := httperr.Status(b.Code); resp.StatusCode != want {
		t.Errorf("%s %s: status %d for code %s, want %d", method, url, resp.StatusCode, b.Code, want)
	}
	return resp.StatusCode, b
}

// TestContract calls both listeners with the same failures and checks they
// answer with the same status, code and shape.
func TestContract(t *testing.T) {
	t.Parallel()
	web, mon, rs := listeners(t)
	unknown := tasks.NewBuildID()
	type want struct {
		status int
		code   string
		field  string
	}
	check := func(name, method, url string, w want) {
		t.Helper()
		status, b := call(t, method, url)
		if status != w.status || b.Code != w.code || b.Field != w.field {
			t.Errorf("%s: %s %s = %d %+v, want %d %s field %q", name, method, url, status, b, w.status, w.code, w.field)
		}
	}
	notFound := want{http.StatusNotFound, tasks.CodeNotFound, "id"}
	check("monitor: unknown build", http.MethodGet, mon.URL+"/api/v1/builds/"+unknown, notFound)
	check("monitor: malformed build ID", http.MethodGet, mon.URL+"/api/v1/builds/not-an-id", notFound)
	check("web: unknown build", http.MethodGet, web.URL+"/api/v1/builds/"+unknown, notFound)
	check("web: cancel of an unknown build", http.MethodPost, web.URL+"/api/v1/builds/"+unknown+"/cancel", notFound)
	check("monitor: unknown API route", http.MethodGet, mon.URL+"/api/v1/nothing", want{http.StatusNotFound, tasks.CodeNotFound, ""})

	badInput := want{http.StatusUnprocessableEntity, tasks.CodeInvalid, "limit"}
	check("web: bad list limit", http.MethodGet, web.URL+"/api/v1/builds?limit=0", badInput)
	check("web: bad JSON", http.MethodPost, web.URL+"/api/v1/builds", want{http.StatusUnprocessableEntity, tasks.CodeInvalid, "spec.type"})

	rs.Stop()
	down := want{http.StatusServiceUnavailable, tasks.CodeUnavailable, ""}
	check("monitor: Redis down, build", http.MethodGet, mon.URL+"/api/v1/builds/"+unknown, down)
	check("monitor: Redis down, status", http.MethodGet, mon.URL+"/api/v1/status", down)
	check("web: Redis down, build", http.MethodGet, web.URL+"/api/v1/builds/"+unknown, down)
	check("web: Redis down, list", http.MethodGet, web.URL+"/api/v1/builds", down)
	check("web: Redis down, workers", http.MethodGet, web.URL+"/api/v1/workers", down)
}

// TestMonitorPagesKeepText: the monitor's pages answer errors as text, with
// the same status as the API.
func TestMonitorPagesKeepText(t *testing.T) {
	t.Parallel()
	_, mon, _ := listeners(t)
	for path, want := range map[string]struct {
		status int
		text   string
	}{
		"/builds/" + tasks.NewBuildID(): {http.StatusNotFound, "build not found\n"},
		"/nothing":                      {http.StatusNotFound, "page not found\n"},
		"/builds/" + tasks.NewBuildID() + "/log?since=-1": {http.StatusBadRequest, "since must be a line number (0 or more)\n"},
	} {
		resp, err := http.Get(mon.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want.status || string(body) != want.text || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("GET %s = %d %q (%s), want %d %q as text", path, resp.StatusCode, body, resp.Header.Get("Content-Type"), want.status, want.text)
		}
	}
}

func TestFrom(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		code string
	}{
		{tasks.Invalid("arch", "no"), tasks.CodeInvalid},
		{fmt.Errorf("list: %w", tasks.Errors{tasks.Invalid("a", "x"), tasks.Invalid("b", "y")}), tasks.CodeInvalid},
		{fmt.Errorf("get: %w", builds.ErrNotFound), tasks.CodeNotFound},
		{builds.ErrConflict, tasks.CodeConflict},
		{&http.MaxBytesError{Limit: 10}, tasks.CodeTooLarge},
		{fmt.Errorf("ping: %w", &net.OpError{Op: "dial", Err: errors.New("refused")}), tasks.CodeUnavailable},
		{redis.ErrClosed, tasks.CodeUnavailable},
		{errors.New("boom"), tasks.CodeInternal},
	} {
		if got := httperr.From(tc.err); got.Code != tc.code {
			t.Errorf("From(%v) = %+v, want code %s", tc.err, got, tc.code)
		}
	}
	if got := httperr.From(errors.New("secret detail")); strings.Contains(got.Message, "secret") {
		t.Errorf("internal error shows its detail: %q", got.Message)
	}
}

func TestEveryCodeHasAStatus(t *testing.T) {
	t.Parallel()
	for _, code := range []string{tasks.CodeInvalid, tasks.CodeBadRequest, tasks.CodeInvalidSpec, tasks.CodeInvalidKickstart,
		tasks.CodeKickstartFetch, tasks.CodeNotFound, tasks.CodeConflict, tasks.CodeFinished, tasks.CodeUnavailable,
		tasks.CodeUnauthenticated, tasks.CodeBadToken, tasks.CodeTokenRevoked, tasks.CodeTokenExpired, tasks.CodeCSRF,
		tasks.CodeForbidden, tasks.CodeTooLarge, tasks.CodeRateLimited} {
		if s := httperr.Status(code); s == http.StatusInternalServerError {
			t.Errorf("code %s has no status of its own", code)
		}
	}
	if httperr.Status("no-such-code") != http.StatusInternalServerError {
		t.Error("an unknown code is not a 500")
	}
}

// TestRedisRefusalsAreUnavailable asks real redis-servers for the refusals
// of a broker that cannot serve yet: a write to a replica (READONLY, as
// during a failover) and a transaction whose command was refused when
// queued (EXECABORT: the chaos soak met it from the submission rate limit
// while Redis was loading its append-only file, and answered 500). Both
// are unavailable (503), not internal errors.
func TestRedisRefusalsAreUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	primary, replica := redistest.Start(t), redistest.Start(t)
	host, port, _ := net.SplitHostPort(primary.Addr)
	rc := replica.Client()
	if err := rc.Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
		t.Fatal(err)
	}
	_, txErr := primary.Client().TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, "rate")
		p.Do(ctx, "INCR") // refused when queued, as LOADING refuses every command
		return nil
	})
	for what, err := range map[string]error{
		"write to a replica":  rc.Set(ctx, "k", "v", time.Minute).Err(),
		"refused transaction": txErr,
	} {
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		if got := httperr.From(fmt.Errorf("rate limit: %w", err)); got.Code != tasks.CodeUnavailable {
			t.Errorf("%s (%v): code %s, want %s", what, err, got.Code, tasks.CodeUnavailable)
		}
	}
}
