package webapp

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/tasks/httperr"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// tokenCacheTTL is how long the server trusts an API token it verified
// before reading it from Redis again: how long a token revoked through
// another web instance keeps working here. (Revoking through this one, or
// expiry, takes effect at once.)
const tokenCacheTTL = time.Second

// Cookie names.
const (
	sessionCookie = "fbs_session"
	csrfCookie    = "fbs_csrf"
	// CSRFHeader carries the CSRF token of API calls made by pages.
	CSRFHeader = "X-CSRF-Token"
)

// Server serves the web app's pages and API.
type Server struct {
	// buildClient submits, lists and cancels builds.
	buildClient *client.Client
	cfg         Config
	public      *url.URL
	ident       *Identifier
	tokens      *auth.Tokens
	users       *auth.Users
	sessions    *auth.Sessions
	limits      *auth.RateLimits
	oidc        *oidcProvider
	pages       map[string]*template.Template
}

// New returns the web app over build client c. It fills cfg's defaults and
// validates it; it does not contact the OIDC provider until the first
// sign-in.
func New(c *client.Client, cfg Config) (*Server, error) {
	if c == nil {
		return nil, errors.New("web app: no build client")
	}
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	pub, err := url.Parse(cfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("web config: public URL: %w", err)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	ident := cfg.Identifier
	if ident == nil {
		ident = NewIdentifier(c.Redis(), cfg.identifierConfig())
	}
	// One token store and one record of rights for identifying, signing
	// in and revoking: a revocation takes effect at once on this instance,
	// on the web app's routes and the monitor's.
	s := &Server{
		buildClient: c, cfg: cfg, public: pub, pages: pages,
		ident: ident, tokens: ident.tokens, users: ident.users,
		sessions: auth.NewSessions(c.Redis(), cfg.SessionTTL),
		limits:   auth.NewRateLimits(c.Redis(), cfg.SubmitWindow),
	}
	if cfg.OIDC.Enabled() {
		s.oidc = newOIDCProvider(cfg.OIDC)
	}
	return s, nil
}

// LocalMode reports whether the server runs without sign-in, everyone
// being the local user.
func (s *Server) LocalMode() bool { return !s.cfg.OIDC.Enabled() }

// Register mounts the web app's routes on r. The monitor's routes
// (/builds/:id, /api/v1/builds/:id, /status...) are not among them, but
// Register first installs the security headers and, in local mode, the
// Host check on r itself, so every route mounted on r after it (the
// monitor's, the outbox of `fbs serve`) and its 404s get them too.
func (s *Server) Register(r gin.IRouter) {
	r.Use(s.secure)
	g := r.Group("", s.limitBody, s.identify)
	g.GET("/", s.home)
	g.GET("/build", s.buildForm)
	g.POST("/build", s.submitForm) // checks the CSRF field of its multipart body
	g.GET("/builds", s.dashboard)
	// Form posts check the user before the CSRF field, which is in the
	// body: an anonymous post is answered without reading it.
	g.POST("/builds/:id/cancel", s.requireUser, s.csrf, s.cancelForm)
	g.POST("/builds/:id/resubmit", s.requireUser, s.csrf, s.resubmitForm)
	g.GET("/login", s.login)
	g.GET("/callback", s.callback)
	g.POST("/logout", s.inSession, s.csrf, s.logout)
	g.GET("/account", s.account)
	g.POST("/account", s.requireUser, s.csrf, s.accountPost)
	g.POST("/rest", s.apiAuth, s.rest)
	// Multi-arch groups (webapp/group.go).
	g.GET("/groups/:id", s.groupPage)
	g.POST("/groups/:id/cancel", s.requireUser, s.csrf, s.groupCancelForm)
	g.GET("/schedules", s.schedules)
	g.POST("/schedules", s.requireUser, s.csrf, s.scheduleForm)
	g.GET("/schedules/:id", s.schedulePage)
	g.POST("/schedules/:id/pause", s.requireUser, s.csrf, s.scheduleAction("pause"))
	g.POST("/schedules/:id/resume", s.requireUser, s.csrf, s.scheduleAction("resume"))
	g.POST("/schedules/:id/delete", s.requireUser, s.csrf, s.scheduleAction("delete"))

	api := g.Group("/api/v1")
	api.GET("/openapi.json", s.openAPI)
	api.POST("/builds", s.apiAuth, s.apiSubmit)
	api.GET("/builds", s.apiAuth, s.apiList)
	api.POST("/builds/:id/cancel", s.apiAuth, s.apiCancel)
	api.POST("/builds/:id/resubmit", s.apiAuth, s.apiResubmit)
	api.GET("/releases", s.apiAuth, s.apiReleases)
	api.GET("/arches", s.apiAuth, s.apiArches)
	api.GET("/kickstarts", s.apiAuth, s.apiKickstarts)
	api.GET("/workers", s.apiAuth, s.apiWorkers)
	api.POST("/users/:name/tokens/revoke", s.apiAuth, s.apiRevokeUserTokens)
	api.GET("/groups/:id", s.apiAuth, s.apiGroup)
	api.POST("/groups/:id/cancel", s.apiAuth, s.apiGroupCancel)
	api.POST("/schedules", s.apiAuth, s.apiScheduleCreate)
	api.GET("/schedules", s.apiAuth, s.apiScheduleList)
	api.GET("/schedules/:id", s.apiAuth, s.apiScheduleGet)
	api.POST("/schedules/:id/pause", s.apiAuth, s.apiScheduleAction("pause"))
	api.POST("/schedules/:id/resume", s.apiAuth, s.apiScheduleAction("resume"))
	api.DELETE("/schedules/:id", s.apiAuth, s.apiScheduleAction("delete"))
}

// secure sets the security headers of every response and, in local mode,
// refuses Host names other than loopback and the public URL's, which
// defeats DNS rebinding against the unauthenticated local service.
func (s *Server) secure(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if s.public.Scheme == "https" {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if s.LocalMode() {
		if !localHost(c.Request.Host, s.public.Hostname()) {
			s.fail(c, tasks.Errorf(CodeForbidden, "Host", "local mode serves loopback host names only"))
			return
		}
	}
	c.Next()
}

// limitBody caps every request body at MaxBody; reads past it fail with
// *http.MaxBytesError, which toHTTP maps to 413.
func (s *Server) limitBody(c *gin.Context) {
	if c.Request.ContentLength > s.cfg.MaxBody {
		s.fail(c, tooLarge("", "request body of %d bytes: at most %d", c.Request.ContentLength, s.cfg.MaxBody))
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBody)
	c.Next()
}

// Context keys.
const (
	keyUser = "fbs.user"
	keyVia  = "fbs.via"
	keyCSRF = "fbs.csrf" // the page's CSRF token, once made
)

// How a request was authenticated.
const (
	viaToken   = "token"
	viaSession = "session"
	viaLocal   = "local"
)

// identify finds who is asking (Identifier): a bearer token, the local
// user, or a session cookie, with the rights of the user's latest sign-in.
// A bad token fails the request at once; a stale session cookie only
// leaves it anonymous.
func (s *Server) identify(c *gin.Context) {
	u, via, err := s.ident.identify(c.Request)
	if err != nil {
		s.fail(c, err)
		return
	}
	if u != nil {
		c.Set(keyUser, u)
		c.Set(keyVia, via)
	}
	c.Next()
}

// user is the request's user, nil when anonymous.
func user(c *gin.Context) *auth.User {
	u, _ := c.Get(keyUser)
	usr, _ := u.(*auth.User)
	return usr
}

// apiAuth admits API requests: a token; a session plus the CSRF header;
// or, in local mode, a request that no browser sent from another site.
func (s *Server) apiAuth(c *gin.Context) {
	if user(c) == nil {
		s.fail(c, errUnauthenticated)
		return
	}
	if c.Request.Method == http.MethodGet {
		c.Next()
		return
	}
	switch c.GetString(keyVia) {
	case viaSession:
		if !s.csrfOK(c) {
			s.fail(c, errCSRF)
			return
		}
	case viaLocal:
		if crossSite(c.Request, s.public) && !s.csrfOK(c) {
			s.fail(c, errCSRF)
			return
		}
	}
	c.Next()
}

// crossSite reports whether a browser sent r from another origin; CLI
// clients send neither header.
func crossSite(r *http.Request, public *url.URL) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return true
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host && u.Host != public.Host {
			return true
		}
	}
	return false
}

// requireUser sends anonymous browsers to sign in before anything reads the
// request's body.
func (s *Server) requireUser(c *gin.Context) {
	if s.signedIn(c) == nil {
		return
	}
	c.Next()
}

// inSession lets only browsers with a session cookie on to signing out:
// the others have nothing to sign out of and go home unread.
func (s *Server) inSession(c *gin.Context) {
	if id, err := c.Cookie(sessionCookie); err != nil || id == "" {
		c.Redirect(http.StatusSeeOther, "/")
		c.Abort()
		return
	}
	c.Next()
}

// csrf guards form posts: the csrf field must match the browser's CSRF
// cookie.
func (s *Server) csrf(c *gin.Context) {
	if !s.csrfOK(c) {
		s.fail(c, errCSRF)
		return
	}
	c.Next()
}

func (s *Server) csrfOK(c *gin.Context) bool { return s.ident.checkCSRF(c.Request) }

// csrfMatches checks a CSRF token against cookie value ck.
func (s *Server) csrfMatches(c *gin.Context, ck, got string) bool {
	return s.ident.csrfMatches(c.Request.Context(), ck, got)
}

// csrfToken is the form token of CSRF cookie value ck.
func (s *Server) csrfToken(ctx context.Context, ck string) (string, error) {
	return s.ident.csrfToken(ctx, ck)
}

// pageCSRF returns the CSRF token for the page being rendered, setting the
// cookie on first visit. A page asking twice gets the same token and one
// cookie.
func (s *Server) pageCSRF(c *gin.Context) (string, error) {
	if tok := c.GetString(keyCSRF); tok != "" {
		return tok, nil
	}
	ck, err := c.Cookie(csrfCookie)
	if err != nil || ck == "" {
		ck = auth.NewSecret(24)
		s.setCookie(c, csrfCookie, ck, 0)
	}
	tok, err := s.csrfToken(c.Request.Context(), ck)
	if err != nil {
		return "", err
	}
	c.Set(keyCSRF, tok)
	return tok, nil
}

// setCookie sets an HttpOnly, SameSite=Lax cookie, Secure when the public
// URL is https; maxAge < 0 deletes it, 0 makes it last the browser session.
func (s *Server) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.public.Scheme == "https", SameSite: http.SameSiteLaxMode,
	})
}

// allowSubmit applies the per-user submission rate limit: a fixed window
// counter in Redis (auth.RateLimits), shared by every web instance.
func (s *Server) allowSubmit(ctx context.Context, u *auth.User) error {
	if s.cfg.SubmitLimit < 0 {
		return nil
	}
	now := time.Now()
	n, end, err := s.limits.Hit(ctx, u.Name, now)
	if err != nil {
		return err
	}
	if n > int64(s.cfg.SubmitLimit) {
		return &rateLimited{retryAfter: int(end.Sub(now)/time.Second) + 1, limit: s.cfg.SubmitLimit, window: s.cfg.SubmitWindow.String()}
	}
	return nil
}

// fail answers with err through toHTTP: JSON for the API and /rest,
// written by tasks/httperr as the monitor's are, an error page otherwise.
func (s *Server) fail(c *gin.Context, err error) {
	status, body := toHTTP(err)
	if logged(status) {
		s.cfg.Logger.Error("web request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "status", status, "err", err)
	}
	if !isAPI(c.Request) {
		s.errorPage(c, status, body.Error)
		return
	}
	var rl *rateLimited
	if errors.As(err, &rl) {
		c.Header("Retry-After", strconv.Itoa(rl.retryAfter))
	}
	httperr.WriteBody(c.Writer, status, body)
	c.Abort()
}

// isAPI reports whether r is for the JSON API (errors in JSON).
func isAPI(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, "/api/") || p == "/rest"
}
