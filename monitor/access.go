package monitor

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// Identifier tells who sent a request. The web app's (webapp.Identifier)
// reads API tokens, session cookies and, in local mode, gives the local
// user; all of them are shared in Redis, so every listener knows the same
// users.
type Identifier interface {
	// Identify returns the user who sent r, nil when anonymous; an error
	// for credentials that are bad (a revoked token), coded for the API.
	Identify(r *http.Request) (*auth.User, error)
	// FormToken returns the CSRF token of a form on the page answering r,
	// setting its cookie on w when needed.
	FormToken(w http.ResponseWriter, r *http.Request) (string, error)
	// CheckForm reports whether r, which changes something, carries its
	// CSRF token (or an API token, which no browser sends by itself).
	CheckForm(r *http.Request) bool
}

// linkParam is the query parameter carrying a build link's capability.
const linkParam = "key"

// Context key of the request's viewer, once known.
const keyViewer = "fbs.monitor.viewer"

// viewer returns who sent the request as a tasks.Viewer (zero when
// anonymous or without an Identifier).
func (s *Server) viewer(c *gin.Context) (tasks.Viewer, error) {
	if v, ok := c.Get(keyViewer); ok {
		return v.(tasks.Viewer), nil
	}
	var v tasks.Viewer
	if s.cfg.Identifier != nil {
		u, err := s.cfg.Identifier.Identify(c.Request)
		if err != nil {
			return v, err
		}
		if u != nil {
			v = tasks.Viewer{Name: u.Name, Admin: u.Admin}
		}
	}
	c.Set(keyViewer, v)
	return v, nil
}

// grant is how a request may read a build.
type grant struct {
	viewer tasks.Viewer
	// link is the capability the request used, "" when it needed none;
	// the page's links to the log and stream carry it on.
	link string
}

// query returns the query string that carries g's link onto another
// route, "" when it has none.
func (g grant) query() string {
	if g.link == "" {
		return ""
	}
	return "?" + linkParam + "=" + url.QueryEscape(g.link)
}

// errNoAccess is errBuildNotFound: a build the viewer may not see is
// answered exactly as a missing one, so build IDs cannot be probed.
var errNoAccess = errBuildNotFound

// authorize tells whether the request may read build b: its viewer may
// (tasks.Viewer.CanSee), or, when links count (pages, log, stream; not the
// API), the request carries a valid link to b. Anything else is
// errNoAccess.
func (s *Server) authorize(ctx context.Context, c *gin.Context, b *tasks.Build, links bool) (grant, error) {
	v, err := s.viewer(c)
	if err != nil {
		return grant{}, err
	}
	if v.CanSee(b, s.cfg.Visibility) {
		return grant{viewer: v}, nil
	}
	key := c.Query(linkParam)
	if !links || key == "" || s.cfg.Links == nil {
		return grant{}, errNoAccess
	}
	if err := s.cfg.Links.Check(ctx, b.ID, key); err != nil {
		if errors.Is(err, auth.ErrBadLink) {
			return grant{}, errNoAccess
		}
		return grant{}, err
	}
	return grant{viewer: v, link: key}, nil
}

// readable loads the build the URL names and checks the request may read
// it (see authorize); when not, it has answered (404 like a missing build).
func (s *Server) readable(ctx context.Context, c *gin.Context, links bool) (*tasks.Build, grant, bool) {
	b, ok := s.loadBuild(ctx, c)
	if !ok {
		return nil, grant{}, false
	}
	g, err := s.authorize(ctx, c, b, links)
	if err != nil {
		s.fail(c, err)
		return nil, grant{}, false
	}
	return b, g, true
}

// recentFor says which recent builds the status shows to v: all of
// them for admins and in public mode, else v's own, none when anonymous.
func (s *Server) recentFor(v tasks.Viewer) (owner string, any bool) {
	switch {
	case v.Admin || s.cfg.Visibility == tasks.VisibilityPublic:
		return "", true
	case v.Name != "":
		return v.Name, true
	}
	return "", false
}

// doneMessage is what the build page says after an owner's action
// (?done=...): one of these, never text from the request.
func doneMessage(done string) string {
	switch done {
	case "links-revoked":
		return "Every link to this build sent so far no longer works; signed-in access is unchanged."
	}
	return ""
}

// revokeLinks makes every link to the build mailed so far stop working: an
// owner's (or admin's) action, from the build page's form or the API.
func (s *Server) revokeLinks(c *gin.Context) {
	ctx, cancel := s.reqContext(c)
	defer cancel()
	b, ok := s.loadBuild(ctx, c)
	if !ok {
		return
	}
	v, err := s.viewer(c)
	switch {
	case err != nil:
		s.fail(c, err)
		return
	case !v.CanSee(b, s.cfg.Visibility):
		s.fail(c, errNoAccess)
		return
	case v.Name == "":
		s.fail(c, tasks.Errorf(tasks.CodeUnauthenticated, "", "sign in, or send an API token as \"Authorization: Bearer TOKEN\""))
		return
	case !v.Owns(b.Owner):
		s.fail(c, tasks.Errorf(tasks.CodeForbidden, "", "this build belongs to someone else"))
		return
	case s.cfg.Identifier == nil || !s.cfg.Identifier.CheckForm(c.Request):
		s.fail(c, tasks.Errorf(tasks.CodeCSRF, "csrf", "missing or wrong CSRF token: reload the page and try again"))
		return
	case s.cfg.Links == nil:
		s.fail(c, tasks.Errorf(tasks.CodeNotFound, "", "this listener sends no build links"))
		return
	}
	if err := s.cfg.Links.Revoke(ctx, b.ID); err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("build links revoked", "build", b.ID, "by", v.Name)
	if strings.Contains(c.Request.URL.Path, "/api/") {
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, gin.H{"build": b.ID, "links_revoked": true})
		return
	}
	c.Redirect(http.StatusSeeOther, s.link(3, "builds/"+b.ID)+"?done=links-revoked")
}
