package webapp

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/webapp/apiclient"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

//go:embed templates
var templateFS embed.FS

// pageNames are the pages; each is templates/NAME.html over layout.html.
var pageNames = []string{"home", "form", "dashboard", "account", "error", "group", "schedules", "schedule"}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"duration": func(b *tasks.Build) string { return humanDuration(b.Duration(time.Now())) },
		"when":     when,
		"final":    func(s tasks.State) bool { return s.Final() },
		"served":   func(r apiclient.Release, arch string) bool { return slices.Contains(r.Arches, arch) },
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse page layout: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, n := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+n+".html")
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", n, err)
		}
		pages[n] = t
	}
	return pages, nil
}

// page is what every page template gets.
type page struct {
	Title string
	User  *auth.User
	Local bool
	CSRF  string
	Nonce string
	// Flash is a message at the top (a success or a general error).
	Flash, FlashError string
	Data              any
}

// render writes page name with status.
func (s *Server) render(c *gin.Context, status int, name, title string, data any, flash ...string) {
	tok, err := s.pageCSRF(c)
	if err != nil {
		s.cfg.Logger.Error("render page", "page", name, "err", err)
		c.String(http.StatusInternalServerError, "internal error: see the server's log")
		c.Abort()
		return
	}
	nonce := auth.NewSecret(16)
	p := page{Title: title, User: user(c), Local: s.LocalMode(), CSRF: tok, Nonce: nonce, Data: data}
	if len(flash) > 0 {
		p.Flash = flash[0]
	}
	if len(flash) > 1 {
		p.FlashError = flash[1]
	}
	var buf bytes.Buffer
	if err := s.pages[name].Execute(&buf, p); err != nil {
		s.cfg.Logger.Error("render page", "page", name, "err", err)
		c.String(http.StatusInternalServerError, "internal error: see the server's log")
		c.Abort()
		return
	}
	// Inline style and script are allowed by this response's nonce only.
	c.Header("Content-Security-Policy", fmt.Sprintf("default-src 'self'; img-src 'self' data:; "+
		"style-src 'nonce-%s'; script-src 'nonce-%s'; connect-src 'self'; form-action 'self'; "+
		"frame-ancestors 'none'; base-uri 'none'; object-src 'none'", nonce, nonce))
	c.Header("Cache-Control", "no-store")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// errorPage renders an error as a page.
func (s *Server) errorPage(c *gin.Context, status int, e Error) {
	s.render(c, status, "error", http.StatusText(status), e)
	c.Abort()
}

// signedIn returns the user, or sends the browser to sign in.
func (s *Server) signedIn(c *gin.Context) *auth.User {
	u := user(c)
	if u == nil {
		c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
		c.Abort()
	}
	return u
}

func (s *Server) home(c *gin.Context) {
	var recent []*tasks.Build
	if u := user(c); u != nil {
		bs, _, err := s.list(c, listQuery{Owner: u.Name, Limit: 5})
		if err != nil {
			s.fail(c, err)
			return
		}
		recent = bs
	}
	s.render(c, http.StatusOK, "home", "On-Demand Fedora Build Service", recent)
}

// formData is what the build form shows.
type formData struct {
	Values     url.Values
	Errors     map[string]string
	Types      []tasks.ImageType
	Arches     []string
	Releases   []apiclient.Release
	Kickstarts []apiclient.Kickstart
	// Unserved says why no live worker can run the build as chosen, or
	// is empty; Reasons say it for every other choice, for the script.
	Unserved string
	Reasons  []unservedReason
}

// unservedReason is why no live worker can run a build kind for an arch
// and release; Key is "kind arch release".
type unservedReason struct {
	Key, Why string
}

// Val is a field's value.
func (f *formData) Val(k string) string { return f.Values.Get(k) }

// Chose reports whether field k, which may hold several values (a
// multiple select: arch), has the value val.
func (f *formData) Chose(k, val string) bool {
	for _, v := range f.Values[k] {
		if slices.Contains(tasks.SplitArches(v), val) {
			return true
		}
	}
	return false
}

// Err is a field's error.
func (f *formData) Err(k string) string { return f.Errors[k] }

// RepoDefaults is, as JSON, the boot repositories the form fills in for
// each offered release and arch ("41 x86_64": lines): Fedora's standard
// ones, which the page's script puts in place of the shown ones when the
// release or arch changes and the user has not edited them.
func (f *formData) RepoDefaults() (string, error) {
	m := map[string]string{}
	for _, r := range f.Releases {
		for _, a := range f.Arches {
			m[r.Release+" "+a] = repoLines(tasks.StandardRepos(r.Release, a))
		}
	}
	b, err := json.Marshal(m)
	return string(b), err
}

func (s *Server) formData(c *gin.Context, v url.Values, errs map[string]string) (*formData, error) {
	served, ws, err := s.served(c)
	if err != nil {
		return nil, err
	}
	ks, err := s.kickstarts("")
	if err != nil {
		return nil, err
	}
	fd := &formData{Values: v, Errors: errs, Types: tasks.ImageTypes, Arches: s.cfg.Arches,
		Releases: s.releases(served), Kickstarts: ks}
	chosen := (&tasks.Spec{Type: tasks.ImageType(v.Get("type")), Live: &tasks.LiveSpec{Builder: v.Get("live_builder")}}).Kind()
	for _, kind := range tasks.BuildKinds {
		for _, a := range s.cfg.Arches {
			for _, r := range s.cfg.Releases {
				why := builds.Unserved(ws, a, r, kind)
				if why == "" {
					continue
				}
				fd.Reasons = append(fd.Reasons, unservedReason{Key: string(kind) + " " + a + " " + r, Why: why})
				if kind == chosen && a == v.Get("arch") && r == v.Get("release") {
					fd.Unserved = why
				}
			}
		}
	}
	return fd, nil
}

func (s *Server) buildForm(c *gin.Context) {
	u := s.signedIn(c)
	if u == nil {
		return
	}
	v := url.Values{}
	v.Set("type", c.DefaultQuery("type", string(tasks.TypeKSISO)))
	v.Set("arch", c.DefaultQuery("arch", "x86_64"))
	v.Set("release", c.DefaultQuery("release", s.cfg.Releases[0]))
	v.Set("boot_repos", repoLines(tasks.StandardRepos(v.Get("release"), v.Get("arch"))))
	v.Set("email", u.Email)
	v.Set("ks_source", ksUpload)
	v.Set("live_builder", tasks.BuilderLiveMedia)
	fd, err := s.formData(c, v, nil)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "form", "Request a build", fd)
}

func (s *Server) submitForm(c *gin.Context) {
	u := s.signedIn(c)
	if u == nil {
		return
	}
	v, files, order, err := s.readForm(c.Request)
	if v != nil {
		ck, _ := c.Cookie(csrfCookie)
		if ck == "" || !s.csrfMatches(c, ck, v.Get("csrf")) {
			s.fail(c, errCSRF)
			return
		}
	}
	if err == nil {
		var d *draft
		if d, err = s.formDraft(v, files, order); err == nil {
			var sub *submitted
			if sub, _, err = s.submit(c, d); err == nil {
				if sub.Group != nil {
					c.Redirect(http.StatusSeeOther, "/groups/"+sub.Group.ID)
				} else {
					c.Redirect(http.StatusSeeOther, "/builds/"+sub.Build.ID)
				}
				return
			}
		}
	}
	if v == nil {
		s.fail(c, err)
		return
	}
	// Show every problem next to its field, keeping the input.
	errs := map[string]string{}
	var general []string
	var fe tasks.Errors
	list := []error{err}
	if errors.As(err, &fe) {
		list = list[:0]
		for _, e := range fe {
			list = append(list, e)
		}
	}
	status := 0
	for _, e := range list {
		st, body := toHTTP(e)
		if status == 0 {
			status = st
		}
		if logged(st) {
			s.cfg.Logger.Error("submit form", "user", u.Name, "err", e)
		}
		if body.Field == "" {
			general = append(general, body.Message)
		} else if _, dup := errs[body.Field]; !dup {
			errs[body.Field] = body.Message
		}
	}
	fd, ferr := s.formData(c, v, errs)
	if ferr != nil {
		s.fail(c, ferr)
		return
	}
	s.render(c, status, "form", "Request a build", fd, "", strings.Join(general, "\n"))
}

// dashData is what the dashboard shows.
type dashData struct {
	Query listQuery
	// Rows is the table's rows, written by dashRows.
	Rows   template.HTML
	Next   string
	States []tasks.State
	Arches []string
	Rels   []string
	Admin  bool
}

// NextURL is the link to the next page, keeping the filters.
func (d *dashData) NextURL() string {
	v := url.Values{}
	for k, val := range map[string]string{"state": d.Query.State, "arch": d.Query.Arch, "release": d.Query.Release, "q": d.Query.Text, "before": d.Next} {
		if val != "" {
			v.Set(k, val)
		}
	}
	if d.Admin && d.Query.Owner != "" {
		v.Set("owner", d.Query.Owner)
	}
	if d.Query.Limit != DefaultPageSize {
		v.Set("limit", strconv.Itoa(d.Query.Limit))
	}
	return "/builds?" + v.Encode()
}

func (s *Server) dashboard(c *gin.Context) {
	u := s.signedIn(c)
	if u == nil {
		return
	}
	q, err := parseListQuery(c, u)
	if err != nil {
		s.fail(c, err)
		return
	}
	bs, next, err := s.dashList(c, q)
	if err != nil {
		s.fail(c, err)
		return
	}
	tok, err := s.pageCSRF(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	d := &dashData{Query: q, Rows: dashRows(bs, u.Admin, tok, time.Now()), Next: next, Arches: tasks.Arches, Rels: s.cfg.Releases, Admin: u.Admin,
		States: []tasks.State{tasks.StateQueued, tasks.StateRunning, tasks.StateSucceeded, tasks.StateFailed, tasks.StateCancelled}}
	s.render(c, http.StatusOK, "dashboard", "Builds", d, flashMessage(c.Query("flash"), c.Query("id")))
}

// Flash codes: ?flash= on the dashboard names one of the server's
// messages, never carries text, so a link cannot put words on the page.
const (
	// flashCancelled says build ?id= was cancelled.
	flashCancelled = "cancelled"
)

// flashMessage is the message of flash code code about build id; "" for
// an unknown code. The build ID is shown only when it is one.
func flashMessage(code, id string) string {
	switch code {
	case flashCancelled:
		if tasks.ValidBuildID(id) {
			return "Build " + id + " cancelled."
		}
		return "Build cancelled."
	}
	return ""
}

// dashList runs q for the dashboard. A query the store's indexes answer
// reads the stored summaries of the builds, not their records.
func (s *Server) dashList(c *gin.Context, q listQuery) ([]tasks.Summary, string, error) {
	if q.Arch == "" && q.Release == "" && q.Text == "" && (q.Owner == "" || q.State == "") {
		p, err := s.buildClient.Store().ListSummaries(c.Request.Context(), builds.ListOptions{
			Before: q.Before, Limit: q.Limit, Owner: q.Owner, State: tasks.State(q.State)})
		if err != nil {
			return nil, "", err
		}
		bs, err := summariesOf(p.Records)
		if err != nil {
			return nil, "", err
		}
		next := ""
		if p.Count == q.Limit {
			next = p.Last
		}
		return bs, next, nil
	}
	full, next, err := s.list(c, q)
	if err != nil {
		return nil, "", err
	}
	bs := make([]tasks.Summary, len(full))
	for i, b := range full {
		bs[i] = b.Summary()
	}
	return bs, next, nil
}

func (s *Server) cancelForm(c *gin.Context) {
	if s.signedIn(c) == nil {
		return
	}
	if _, err := s.cancel(c, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/builds?flash="+flashCancelled+"&id="+url.QueryEscape(c.Param("id")))
}

func (s *Server) resubmitForm(c *gin.Context) {
	if s.signedIn(c) == nil {
		return
	}
	b, err := s.resubmit(c, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/builds/"+b.ID)
}

// accountData is what the account page shows.
type accountData struct {
	Tokens []*auth.TokenInfo
	// NewToken is a token just created, shown this once.
	NewToken string
	// DefaultDays and MaxDays bound a new token's lifetime in days.
	DefaultDays, MaxDays int
}

func (s *Server) accountPage(c *gin.Context, status int, newToken, flash, flashErr string) {
	u := s.signedIn(c)
	if u == nil {
		return
	}
	toks, err := s.tokens.List(c.Request.Context(), u.Name)
	if err != nil {
		s.fail(c, err)
		return
	}
	defDays, maxDays := s.tokenDays()
	s.render(c, status, "account", "Account", &accountData{Tokens: toks, NewToken: newToken,
		DefaultDays: defDays, MaxDays: maxDays}, flash, flashErr)
}

// tokenDays are a new token's default and longest lifetimes in days.
func (s *Server) tokenDays() (def, max int) {
	max = int(s.cfg.MaxTokenLifetime / (24 * time.Hour))
	return min(int(auth.DefaultTokenLifetime/(24*time.Hour)), max), max
}

// tokenLifetime reads the days field of a new token: empty is the default;
// 0 (which once meant "never expires") and more than the maximum are
// refused, not clamped, so nobody believes they got what they asked for.
func (s *Server) tokenLifetime(v string) (time.Duration, error) {
	def, max := s.tokenDays()
	days := def
	if v = strings.TrimSpace(v); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > max {
			return 0, invalid("days", "want 1 to %d days (every token expires)", max)
		}
		days = n
	}
	return time.Duration(days) * 24 * time.Hour, nil
}

func (s *Server) account(c *gin.Context) { s.accountPage(c, http.StatusOK, "", "", "") }

// accountPost creates (action=create, name, days) or revokes
// (action=revoke, id) an API token, or revokes every token of a user
// (action=revoke-user, user; admins, or a user their own).
func (s *Server) accountPost(c *gin.Context) {
	u := s.signedIn(c)
	if u == nil {
		return
	}
	ctx := c.Request.Context()
	switch c.PostForm("action") {
	case "create":
		ttl, err := s.tokenLifetime(c.PostForm("days"))
		if err != nil {
			s.accountPage(c, http.StatusUnprocessableEntity, "", "", err.Error())
			return
		}
		secret, _, err := s.tokens.Create(ctx, *u, c.PostForm("name"), ttl)
		if err != nil {
			s.accountPage(c, http.StatusUnprocessableEntity, "", "", err.Error())
			return
		}
		s.accountPage(c, http.StatusOK, secret, "Token created: copy it now, it is not shown again.", "")
	case "revoke":
		if err := s.tokens.Revoke(ctx, u.Name, c.PostForm("id")); err != nil {
			if errors.Is(err, auth.ErrUnknownToken) {
				s.accountPage(c, http.StatusNotFound, "", "", "no such token")
				return
			}
			s.fail(c, err)
			return
		}
		s.accountPage(c, http.StatusOK, "", "Token revoked.", "")
	case "revoke-user":
		name := strings.TrimSpace(c.PostForm("user"))
		n, err := s.revokeUserTokens(c, name)
		if err != nil {
			st, body := toHTTP(err)
			if logged(st) {
				s.fail(c, err)
				return
			}
			s.accountPage(c, st, "", "", body.Message)
			return
		}
		s.accountPage(c, http.StatusOK, "", fmt.Sprintf("Revoked %d tokens of %s.", n, name), "")
	default:
		s.fail(c, badRequest("action", "action must be create, revoke or revoke-user"))
	}
}
