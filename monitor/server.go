package monitor

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/monitor/metrics"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/httperr"
)

//go:embed assets
var assets embed.FS

// Server serves the monitor's routes from one Redis.
type Server struct {
	cfg     Config
	rdb     redis.UniversalClient
	store   *builds.Store
	inspect *asynq.Inspector
	rec     *metrics.Recorder
	pages   *template.Template
	script  template.JS
	style   template.CSS
	csp     string
	metrics http.Handler
	log     *slog.Logger

	hubsMu sync.Mutex
	hubs   map[string]*hub
	closed bool
	hubsWG sync.WaitGroup
}

// New returns a server over rdb; the caller owns rdb. It starts nothing:
// the log hubs that feed SSE streams live only while someone watches.
func New(rdb redis.UniversalClient, cfg Config) (*Server, error) {
	if rdb == nil {
		return nil, errors.New("monitor: no Redis client")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, rdb: rdb, store: builds.NewStore(rdb),
		inspect: asynq.NewInspectorFromRedisClient(rdb),
		rec:     metrics.NewRecorder(rdb),
		log:     cfg.Logger,
		hubs:    map[string]*hub{},
	}
	js, err := assets.ReadFile("assets/build.js")
	if err != nil {
		return nil, fmt.Errorf("monitor: read embedded script: %w", err)
	}
	css, err := assets.ReadFile("assets/style.css")
	if err != nil {
		return nil, fmt.Errorf("monitor: read embedded style: %w", err)
	}
	s.script, s.style = template.JS(js), template.CSS(css)
	// The pages carry their script and style inline and allow nothing
	// else: even a log line that escaped escaping could not run a script.
	s.csp = fmt.Sprintf("default-src 'none'; script-src '%s'; style-src '%s'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
		hashSource(js), hashSource(css))
	s.pages, err = template.New("").Funcs(funcs).ParseFS(assets, "assets/*.html")
	if err != nil {
		return nil, fmt.Errorf("monitor: parse templates: %w", err)
	}
	reg := prometheus.NewRegistry()
	// The Go runtime's and the process's own figures (go_goroutines,
	// process_open_fds, process_resident_memory_bytes) show a leak in
	// the long-running monitor; the chaos soak watches them.
	for _, c := range []prometheus.Collector{&collector{s: s}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("monitor: register metrics: %w", err)
		}
	}
	s.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, ErrorLog: slogPromLogger{s.log}})
	return s, nil
}

func hashSource(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// Register mounts every route of the monitor on r.
func (s *Server) Register(r gin.IRouter) {
	r.GET("/builds/:id", s.buildPage)
	r.GET("/builds/:id/log", s.fullLog)
	r.GET("/builds/:id/log/stream", s.stream)
	r.GET("/api/v1/builds/:id", s.buildJSON)
	r.POST("/builds/:id/links/revoke", s.revokeLinks)
	r.POST("/api/v1/builds/:id/links/revoke", s.revokeLinks)
	r.GET("/status", s.statusPage)
	r.GET("/api/v1/status", s.statusJSON)
	r.GET("/api/v1/pauses", s.apiPauses)
	s.pauseRoutes(r)
	r.GET("/healthz", s.healthz)
	r.GET("/metrics", gin.WrapH(s.metrics))
}

// Handler returns a gin engine serving the monitor's routes at its root,
// with a 404 for everything else, for `fbs monitor`.
func (s *Server) Handler() http.Handler {
	e := gin.New()
	e.Use(gin.Recovery())
	// A path that is not a route is a 404, never a redirect to a cleaned
	// path: "/builds/../x" must not become "/x".
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = false
	e.NoRoute(func(c *gin.Context) { s.fail(c, errNotFound) })
	e.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, s.link(0, "status")) })
	s.Register(e)
	return e
}

// Errors of the monitor's own: tasks.Errors, which fail answers as the web
// app does, through tasks/httperr.
var (
	errNotFound      = tasks.Errorf(tasks.CodeNotFound, "", "page not found")
	errBuildNotFound = tasks.Errorf(tasks.CodeNotFound, "id", "build not found")
)

func badRequest(format string, args ...any) error {
	return tasks.Errorf(tasks.CodeBadRequest, "", format, args...)
}

// fail answers a request with err, coded and given its status by
// tasks/httperr, the one mapping of both listeners: the API's JSON body, or
// the message alone as text for pages. The message never echoes the
// request: a 404 says only what was not found.
func (s *Server) fail(c *gin.Context, err error) {
	status, body := httperr.BodyOf(err)
	if status >= http.StatusInternalServerError && c.Request.Context().Err() == nil {
		s.log.Error("monitor request failed", "method", c.Request.Method, "path", c.Request.URL.EscapedPath(), "status", status, "err", err)
	}
	c.Abort()
	if strings.Contains(c.Request.URL.Path, "/api/") {
		httperr.WriteBody(c.Writer, status, body)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(status, "text/plain; charset=utf-8", []byte(body.Message+"\n"))
}

// buildID returns the route's build ID, or errBuildNotFound for anything that is
// not one: only IDs of the form tasks.NewBuildID gives reach Redis.
func buildID(c *gin.Context) (string, error) {
	id := c.Param("id")
	if !tasks.ValidBuildID(id) {
		return "", errBuildNotFound
	}
	return id, nil
}

// link returns the URL of target (a path below the monitor's root, without
// a leading slash) as seen from a page depth directories below the root:
// absolute under PublicURL when it is set, else relative, so the pages work
// under any prefix.
func (s *Server) link(depth int, target string) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL + "/" + target
	}
	rel := strings.Repeat("../", depth) + target
	if rel == "" {
		return "./"
	}
	return rel
}

func (s *Server) reqContext(c *gin.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request.Context(), s.cfg.RequestTimeout)
}

func (s *Server) healthz(c *gin.Context) {
	ctx, cancel := s.reqContext(c)
	defer cancel()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.fail(c, fmt.Errorf("ping Redis: %w", err))
		return
	}
	c.Header("Cache-Control", "no-store")
	c.String(http.StatusOK, "ok\n")
}

// slogPromLogger lets promhttp report collection errors through slog.
type slogPromLogger struct{ l *slog.Logger }

func (p slogPromLogger) Println(v ...any) { p.l.Warn("metrics: " + fmt.Sprint(v...)) }
