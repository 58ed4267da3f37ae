package webapp

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fedora-fbs/fbs/conf/spec"
	"github.com/fedora-fbs/fbs/kickstarts"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/webapp/apiclient"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// decodeJSON reads a JSON body strictly: unknown fields, wrong types and
// trailing data are errors naming the field.
func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return badRequest("", "JSON body has data after its object")
	}
	return nil
}

func jsonError(err error) error {
	var (
		te *json.UnmarshalTypeError
		se *json.SyntaxError
		mb *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mb):
		return err
	case errors.As(err, &te):
		return badRequest(te.Field, "%s must be a JSON %s, not %s", te.Field, te.Type.Kind(), te.Value)
	case errors.As(err, &se):
		return badRequest("", "malformed JSON at byte %d: %v", se.Offset, err)
	case errors.Is(err, io.EOF):
		return badRequest("", "empty body: want a JSON object")
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f = strings.Trim(f, `"`)
		return badRequest(f, "unknown field %q", f)
	}
	return badRequest("", "cannot read JSON body: %v", err)
}

// apiSubmit is POST /api/v1/builds: the spec as JSON, or the INI spec text
// plus kickstart files as multipart.
func (s *Server) apiSubmit(c *gin.Context) {
	d, err := s.readSubmission(c.Request)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.submitAPI(c, d)
}

func (s *Server) submitAPI(c *gin.Context, d *draft) {
	sub, warnings, err := s.submit(c, d)
	if err != nil {
		s.fail(c, err)
		return
	}
	b := sub.Build
	res := apiclient.SubmitResponse{Build: b, URL: s.cfg.PublicURL + "/builds/" + b.ID, Warnings: warnings}
	if sub.Group != nil {
		res.Group, res.GroupURL = sub.Group, s.cfg.PublicURL+"/groups/"+sub.Group.ID
		c.Header("Location", "/api/v1/groups/"+sub.Group.ID)
	} else {
		c.Header("Location", "/api/v1/builds/"+b.ID)
	}
	c.JSON(http.StatusCreated, res)
}

// submitted is what a submission made: one build, or a group of builds
// (Build is then the group's first).
type submitted struct {
	Build *tasks.Build
	Group *tasks.GroupStatus
}

// submit checks, rate-limits and enqueues a draft for the request's user:
// one build, or, for a draft naming several arches, a group (counted as
// one submission).
func (s *Server) submit(c *gin.Context, d *draft) (*submitted, []string, error) {
	u := user(c)
	if !u.CanSubmit {
		return nil, nil, errNotAllowedToSubmit
	}
	ctx := c.Request.Context()
	pr, warnings, err := s.prepare(ctx, u, d)
	if err != nil {
		return nil, nil, err
	}
	if err := s.allowSubmit(ctx, u); err != nil {
		return nil, nil, err
	}
	if pr.IsGroup() {
		gs, err := s.buildClient.SubmitGroup(ctx, pr.Payloads)
		if err != nil {
			return nil, nil, err
		}
		s.cfg.Logger.Info("group submitted", "group", gs.ID, "owner", gs.Owner, "arches", pr.Arches(), "builds", len(gs.Builds))
		return &submitted{Build: gs.Builds[0], Group: gs}, warnings, nil
	}
	b, err := s.buildClient.Submit(ctx, pr.Payload)
	if err != nil {
		return nil, nil, err
	}
	s.cfg.Logger.Info("build submitted", "id", b.ID, "owner", b.Owner, "type", b.Spec.Type, "queue", b.Queue)
	return &submitted{Build: b}, warnings, nil
}

func (s *Server) readSubmission(r *http.Request) (*draft, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mt = ""
	}
	switch mt {
	case "application/json":
		var req apiclient.SubmitRequest
		if err := decodeJSON(r.Body, &req); err != nil {
			return nil, err
		}
		files := make(map[string][]byte, len(req.Kickstarts))
		for k, v := range req.Kickstarts {
			files[k] = []byte(v)
		}
		return &draft{spec: req.Spec, files: files, name: jsonName}, nil
	case "multipart/form-data":
		return s.readMultipart(r)
	}
	return nil, badRequest("Content-Type", "Content-Type must be application/json or multipart/form-data, not %q", r.Header.Get("Content-Type"))
}

// readMultipart reads an INI spec (part "spec") and kickstart files (parts
// "kickstart"), streaming, so the limits hold before anything is buffered.
func (s *Server) readMultipart(r *http.Request) (*draft, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, badRequest("", "malformed multipart body: %v", err)
	}
	var (
		specName string
		specData []byte
		files    = map[string][]byte{}
	)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				return nil, err
			}
			return nil, badRequest("", "malformed multipart body: %v", err)
		}
		switch part.FormName() {
		case "spec":
			if specData != nil {
				return nil, badRequest("spec", "more than one spec part")
			}
			specName = path.Base(part.FileName())
			if part.FileName() == "" {
				specName = "spec"
			}
			if specData, err = readAllLimit(part, 64<<10, "spec"); err != nil {
				return nil, err
			}
		case "kickstart":
			name := part.FileName()
			if name == "" {
				return nil, badRequest("kickstart", "kickstart parts must be files with a file name")
			}
			if len(files) == s.cfg.MaxFiles {
				return nil, tooLarge("kickstart", "more than %d kickstart files", s.cfg.MaxFiles)
			}
			if _, dup := files[name]; dup {
				return nil, invalid("kickstart", "kickstart %s uploaded twice", name)
			}
			if files[name], err = readAllLimit(part, s.cfg.MaxKickstart, "kickstart "+name); err != nil {
				return nil, err
			}
		default:
			return nil, badRequest(part.FormName(), "unknown part %q: want spec and kickstart", part.FormName())
		}
	}
	if specData == nil {
		return nil, badRequest("spec", "no spec part")
	}
	res, err := spec.Parse(specName, specData)
	if err != nil {
		return nil, err
	}
	return &draft{spec: res.Spec, files: files, warnings: res.Warnings, name: iniName(res.Spec.Type)}, nil
}

// rest is POST /rest, the original service's endpoint: a JSON object (or a
// form) with config (the INI spec text), ksfname and ks (the kickstart's
// text or null), each value JSON-encoded in the form case.
func (s *Server) rest(c *gin.Context) {
	var req apiclient.RestRequest
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mt == "application/json" {
		if err := decodeJSON(c.Request.Body, &req); err != nil {
			s.fail(c, err)
			return
		}
	} else {
		if err := c.Request.ParseForm(); err != nil {
			s.fail(c, badRequestOr(err, "", "malformed form: %v", err))
			return
		}
		for _, f := range []struct {
			name string
			dst  any
		}{{"config", &req.Config}, {"ksfname", &req.KSFName}, {"ks", &req.KS}} {
			v := c.Request.PostForm.Get(f.name)
			if v == "" {
				continue
			}
			if err := json.Unmarshal([]byte(v), f.dst); err != nil {
				s.fail(c, badRequest(f.name, "%s must be a JSON-encoded string: %v", f.name, err))
				return
			}
		}
	}
	// The original client JSON-encodes config and ks before it puts them
	// into its JSON body, so their values arrive as JSON string literals.
	req.Config = decodeTwice(req.Config)
	if req.KS != nil {
		ks := decodeTwice(*req.KS)
		req.KS = &ks
	}
	if strings.TrimSpace(req.Config) == "" {
		s.fail(c, badRequest("config", "config (the spec's text) is required"))
		return
	}
	res, err := spec.Parse("config", []byte(req.Config))
	if err != nil {
		s.fail(c, err)
		return
	}
	d := &draft{spec: res.Spec, warnings: res.Warnings, name: iniName(res.Spec.Type)}
	if req.KS != nil {
		name := path.Base(req.KSFName)
		if req.KSFName == "" {
			name = path.Base(d.spec.KickstartRef())
		}
		if len(*req.KS) > int(s.cfg.MaxKickstart) {
			s.fail(c, tooLarge("ks", "kickstart is %d bytes: at most %d", len(*req.KS), s.cfg.MaxKickstart))
			return
		}
		d.files = map[string][]byte{name: []byte(*req.KS)}
		d.spec.SetKickstartRef(name)
	} else if req.KSFName != "" {
		d.spec.SetKickstartRef(req.KSFName)
	}
	s.submitAPI(c, d)
}

// decodeTwice returns v decoded once more when it is a JSON string literal,
// as the original REST client sends config and ks (json.dumps of the text,
// then the whole body json.dumps'd again); any other value is returned as
// is. Neither an INI spec nor a kickstart starts with a double quote, so the
// two shapes cannot be confused.
func decodeTwice(v string) string {
	t := strings.TrimSpace(v)
	if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
		return v
	}
	var inner string
	if err := json.Unmarshal([]byte(t), &inner); err != nil {
		return v
	}
	return inner
}

func badRequestOr(err error, field, format string, args ...any) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return err
	}
	return badRequest(field, format, args...)
}

// listQuery is what GET /api/v1/builds and the dashboard filter on.
type listQuery struct {
	State, Arch, Release, Text, Owner, Before string
	Limit                                     int
}

// parseListQuery reads and checks the filters of a build listing.
func parseListQuery(c *gin.Context, u *auth.User) (listQuery, error) {
	q := listQuery{
		State: c.Query("state"), Arch: c.Query("arch"), Release: c.Query("release"),
		Text: strings.TrimSpace(c.Query("q")), Owner: c.Query("owner"), Before: c.Query("before"), Limit: DefaultPageSize,
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return q, invalid("limit", "limit %q: want 1 to %d", v, maxPageSize)
		}
		q.Limit = n
	}
	switch tasks.State(q.State) {
	case "", tasks.StateQueued, tasks.StateRunning, tasks.StateSucceeded, tasks.StateFailed, tasks.StateCancelled:
	default:
		return q, invalid("state", "state %q: want queued, running, succeeded, failed or cancelled", q.State)
	}
	if q.Arch != "" && !tasks.ValidArch(q.Arch) {
		return q, invalid("arch", "unknown arch %q", q.Arch)
	}
	if q.Release != "" && !tasks.ValidRelease(q.Release) {
		return q, invalid("release", "unknown release %q", q.Release)
	}
	if q.Before != "" && !tasks.ValidBuildID(q.Before) {
		return q, invalid("before", "cursor %q is not a build ID", q.Before)
	}
	if len(q.Text) > 200 {
		return q, invalid("q", "search text over 200 characters")
	}
	if q.Owner != "" && !auth.ValidUserName(q.Owner) {
		return q, invalid("owner", "not a user name")
	}
	if !u.Admin {
		if q.Owner != "" && q.Owner != u.Name {
			return q, tasks.Errorf(CodeForbidden, "owner", "only admins list other users' builds")
		}
		q.Owner = u.Name
	}
	return q, nil
}

// list runs q against the store; next is the cursor of the next page.
func (s *Server) list(c *gin.Context, q listQuery) ([]*tasks.Build, string, error) {
	match := func(b *tasks.Build) bool {
		switch {
		case q.Owner != "" && b.Owner != q.Owner,
			q.State != "" && string(b.State) != q.State,
			q.Arch != "" && b.Spec.Arch != q.Arch,
			q.Release != "" && b.Spec.Release != q.Release:
			return false
		case q.Text != "":
			t := strings.ToLower(q.Text)
			for _, f := range []string{b.ID, b.Owner, b.KickstartName, b.Spec.Staging, string(b.Spec.Type), b.Error} {
				if strings.Contains(strings.ToLower(f), t) {
					return true
				}
			}
			return false
		}
		return true
	}
	// Owner and state have indexes of their own; the rest is matched.
	opts := builds.ListOptions{Before: q.Before, Limit: q.Limit, Owner: q.Owner, State: tasks.State(q.State)}
	if q.Arch != "" || q.Release != "" || q.Text != "" {
		opts.Match = match
	}
	bs, err := s.buildClient.List(c.Request.Context(), opts)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(bs) == q.Limit {
		next = bs[len(bs)-1].ID
	}
	return bs, next, nil
}

// apiList is GET /api/v1/builds.
func (s *Server) apiList(c *gin.Context) {
	q, err := parseListQuery(c, user(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	if q.Arch == "" && q.Release == "" && q.Text == "" && (q.Owner == "" || q.State == "") {
		// The records go out as stored: no need to decode and encode them.
		s.apiListRaw(c, q)
		return
	}
	bs, next, err := s.list(c, q)
	if err != nil {
		s.fail(c, err)
		return
	}
	if bs == nil {
		bs = []*tasks.Build{}
	}
	c.JSON(http.StatusOK, apiclient.BuildList{Builds: bs, Next: next})
}

// apiListRaw writes a list whose filters the store's indexes cover, with
// each record's JSON as stored; the body is what apiList's JSON would be.
// It is built in one buffer of its exact size and written at once, with a
// Content-Length: no copies past the store's, no chunking.
func (s *Server) apiListRaw(c *gin.Context, q listQuery) {
	p, err := s.buildClient.Store().ListJSON(c.Request.Context(), builds.ListOptions{
		Before: q.Before, Limit: q.Limit, Owner: q.Owner, State: tasks.State(q.State)})
	if err != nil {
		s.fail(c, err)
		return
	}
	const head = `{"builds":`
	var next []byte
	if p.Count == q.Limit { // as apiclient.BuildList's omitempty
		if next, err = json.Marshal(p.Last); err != nil {
			s.fail(c, fmt.Errorf("encode cursor %q: %w", p.Last, err))
			return
		}
	}
	body := make([]byte, 0, len(head)+len(p.Records)+len(`,"next":}`)+len(next))
	body = append(append(body, head...), p.Records...)
	if next != nil {
		body = append(append(body, `,"next":`...), next...)
	}
	body = append(body, '}')
	h := c.Writer.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.Status(http.StatusOK)
	// A failed write is a client gone away: there is nobody left to tell.
	_, _ = c.Writer.Write(body)
}

// ownBuild returns build id if the user may act on it.
func (s *Server) ownBuild(c *gin.Context, id string) (*tasks.Build, error) {
	if !tasks.ValidBuildID(id) {
		return nil, fmt.Errorf("build %q: %w", id, builds.ErrNotFound)
	}
	b, err := s.buildClient.Get(c.Request.Context(), id)
	if err != nil {
		return nil, err
	}
	v := tasks.Viewer{Name: user(c).Name, Admin: user(c).Admin}
	if !v.CanSee(b, s.cfg.Visibility) {
		// As the monitor answers it: a build you may not see is missing.
		return nil, fmt.Errorf("build %q: %w", id, builds.ErrNotFound)
	}
	if !v.Owns(b.Owner) {
		return nil, errNotYours
	}
	return b, nil
}

// cancel cancels build id for the request's user.
func (s *Server) cancel(c *gin.Context, id string) (*tasks.Build, error) {
	if _, err := s.ownBuild(c, id); err != nil {
		return nil, err
	}
	b, err := s.buildClient.Cancel(c.Request.Context(), id)
	if err != nil {
		return nil, err
	}
	s.cfg.Logger.Info("build cancelled", "id", id, "by", user(c).Name)
	return b, nil
}

// resubmit submits a new build from build id's spec and kickstart.
func (s *Server) resubmit(c *gin.Context, id string) (*tasks.Build, error) {
	if _, err := s.ownBuild(c, id); err != nil {
		return nil, err
	}
	u := user(c)
	if !u.CanSubmit {
		return nil, errNotAllowedToSubmit
	}
	ctx := c.Request.Context()
	data, err := s.buildClient.Store().Payload(ctx, id)
	if err != nil {
		return nil, err
	}
	p, err := tasks.DecodePayload(data)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(s.cfg.Releases, p.Spec.Release) {
		return nil, invalid("release", "release %s is no longer offered", p.Spec.Release)
	}
	p.ID, p.Owner, p.SubmittedAt = tasks.NewBuildID(), u.Name, time.Now().UTC()
	// A build of a group is resubmitted on its own: its mails are its own.
	p.Group = ""
	if err := s.allowSubmit(ctx, u); err != nil {
		return nil, err
	}
	return s.buildClient.Submit(ctx, p)
}

func (s *Server) apiCancel(c *gin.Context) {
	b, err := s.cancel(c, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"build": b})
}

func (s *Server) apiResubmit(c *gin.Context) {
	b, err := s.resubmit(c, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/api/v1/builds/"+b.ID)
	c.JSON(http.StatusCreated, apiclient.SubmitResponse{Build: b, URL: s.cfg.PublicURL + "/builds/" + b.ID})
}

// apiRevokeUserTokens is POST /api/v1/users/{name}/tokens/revoke.
func (s *Server) apiRevokeUserTokens(c *gin.Context) {
	name := c.Param("name")
	n, err := s.revokeUserTokens(c, name)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, apiclient.RevokedTokens{User: name, Revoked: n})
}

// revokeUserTokens revokes every token of user name: an admin cutting a
// user off, or a user their own. They stop working at once on this
// instance and within tokenCacheTTL on the others.
func (s *Server) revokeUserTokens(c *gin.Context, name string) (int, error) {
	u := user(c)
	if !u.Admin && name != u.Name {
		return 0, tasks.Errorf(CodeForbidden, "name", "only admins revoke other users' tokens")
	}
	if !auth.ValidUserName(name) {
		return 0, invalid("name", "not a user name")
	}
	n, err := s.tokens.RevokeAll(c.Request.Context(), name)
	if err != nil {
		return 0, err
	}
	s.cfg.Logger.Info("tokens revoked", "user", name, "count", n, "by", u.Name)
	return n, nil
}

// served maps queue names served by live, non-draining workers.
func (s *Server) served(c *gin.Context) (map[string]bool, []*builds.WorkerInfo, error) {
	ws, err := s.buildClient.Store().Workers(c.Request.Context())
	if err != nil {
		return nil, nil, err
	}
	m := map[string]bool{}
	for _, w := range ws {
		if w.Draining {
			continue
		}
		for _, q := range w.Queues {
			m[q] = true
		}
	}
	return m, ws, nil
}

func (s *Server) releases(served map[string]bool) []apiclient.Release {
	out := make([]apiclient.Release, 0, len(s.cfg.Releases))
	for _, r := range s.cfg.Releases {
		e := apiclient.Release{Release: r, Arches: []string{}}
		for _, a := range s.cfg.Arches {
			if served[tasks.QueueName(a, r)] {
				e.Arches = append(e.Arches, a)
			}
		}
		out = append(out, e)
	}
	return out
}

func (s *Server) apiReleases(c *gin.Context) {
	served, _, err := s.served(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"releases": s.releases(served)})
}

func (s *Server) apiArches(c *gin.Context) {
	served, _, err := s.served(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]apiclient.Arch, 0, len(s.cfg.Arches))
	for _, a := range s.cfg.Arches {
		e := apiclient.Arch{Arch: a, Releases: []string{}}
		for _, r := range s.cfg.Releases {
			if served[tasks.QueueName(a, r)] {
				e.Releases = append(e.Releases, r)
			}
		}
		out = append(out, e)
	}
	c.JSON(http.StatusOK, gin.H{"arches": out})
}

// kickstarts lists the standard kickstarts of the offered releases (of
// release alone, if set), each once with the releases offering it: each
// release's first, in [releases] order.
func (s *Server) kickstarts(release string) ([]apiclient.Kickstart, error) {
	var out []apiclient.Kickstart
	at := make(map[string]int)
	for _, r := range s.cfg.Releases {
		if release != "" && r != release {
			continue
		}
		std, err := kickstarts.Standard(s.cfg.Kickstarts, r)
		if err != nil {
			return nil, err
		}
		for _, e := range std {
			i, ok := at[e.Name]
			if !ok {
				i = len(out)
				at[e.Name] = i
				out = append(out, apiclient.Kickstart{Name: e.Name, Description: e.Description, Site: e.Source != "embedded", Releases: []string{}})
			}
			out[i].Releases = append(out[i].Releases, r)
		}
	}
	if out == nil {
		out = []apiclient.Kickstart{}
	}
	return out, nil
}

func (s *Server) apiKickstarts(c *gin.Context) {
	release := c.Query("release")
	if release != "" && !slices.Contains(s.cfg.Releases, release) {
		s.fail(c, tasks.Errors{tasks.Invalid(tasks.FieldRelease, "release %q is not offered: want one of %s", release, strings.Join(s.cfg.Releases, ", "))})
		return
	}
	ks, err := s.kickstarts(release)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"kickstarts": ks})
}

func (s *Server) apiWorkers(c *gin.Context) {
	_, ws, err := s.served(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]apiclient.Worker, 0, len(ws))
	for _, w := range ws {
		out = append(out, apiclient.WorkerFrom(w))
	}
	c.JSON(http.StatusOK, gin.H{"workers": out})
}

func (s *Server) openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", openAPIDoc)
}

// openAPIDoc is the API's OpenAPI 3 description, also kept as
// doc/openapi.json (a test keeps the two equal).
//
//go:embed openapi.json
var openAPIDoc []byte
