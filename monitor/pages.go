package monitor

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

var funcs = template.FuncMap{
	"spans": ansiSpans,
	"size":  tasks.HumanSize,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"dur": func(d time.Duration) string { return d.Round(time.Second).String() },
	"ago": func(now, t time.Time) string {
		return now.Sub(t).Round(time.Second).String() + " ago"
	},
}

// webLink returns u when it is an http(s) URL a browser can open; staging
// locations such as sftp:// or file:// are shown as text only.
func webLink(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return u
}

type artifactView struct {
	tasks.Artifact
	Link string
}

type lineView struct {
	N     int
	Spans []span
}

// buildView is what the build page shows.
type buildView struct {
	B         *tasks.Build
	Duration  time.Duration
	Artifacts []artifactView
	// ToolLogs are the build tool's own logs staged under logs/;
	// ToolErrorLog is the one the tool's error is in.
	ToolLogs     []artifactView
	ToolErrorLog *artifactView
	StagedLink   string
	Checksum     string
	ChecksumURL  string
	Lines        []lineView
	// LastLine is the number of the last line shown (the SSE stream
	// starts after it); Truncated says earlier lines exist.
	LastLine  int
	Truncated bool
	Ended     tasks.State
	Live      bool
	// Progress is the running stage's bar and estimate; nil when none
	// runs.
	Progress *progressView
	// WorkerLost explains a running build that no worker holds.
	WorkerLost string
	PageLines  int
	LogURL     string
	StreamURL  string
	APIURL     string
	StatusURL  string
	Script     template.JS
	Style      template.CSS
	// RevokeURL and RevokeCSRF make the owner's form revoking the
	// build's mailed links; empty for others.
	RevokeURL, RevokeCSRF string
	// Done says what the owner's last action did.
	Done string
}

// buildPage shows a build: what was asked, where it is, what came out and
// the tail of its log, which build.js then follows live.
func (s *Server) buildPage(c *gin.Context) {
	ctx, cancel := s.reqContext(c)
	defer cancel()
	b, g, ok := s.readable(ctx, c, true)
	if !ok {
		return
	}
	b = b.ShownTo(g.viewer)
	id := b.ID
	lines, end, err := s.store.TailLog(ctx, id, s.cfg.PageLines)
	if err != nil {
		s.fail(c, err)
		return
	}
	v := &buildView{
		B: b, Duration: b.Duration(time.Now()), Ended: end, PageLines: s.cfg.PageLines,
		LogURL: s.link(1, "builds/"+id+"/log") + g.query(), StreamURL: s.link(1, "builds/"+id+"/log/stream") + g.query(),
		APIURL: s.link(1, "api/v1/builds/"+id), StatusURL: s.link(1, "status"),
		Script: s.script, Style: s.style, Done: doneMessage(c.Query("done")),
	}
	if g.link == "" && g.viewer.Owns(b.Owner) && s.cfg.Links != nil && s.cfg.Identifier != nil {
		if v.RevokeCSRF, err = s.cfg.Identifier.FormToken(c.Writer, c.Request); err != nil {
			s.fail(c, err)
			return
		}
		// Relative: the form posts to the listener that served the page,
		// whose cookies the browser has.
		v.RevokeURL = id + "/links/revoke"
	}
	for _, a := range b.Artifacts {
		v.Artifacts = append(v.Artifacts, artifactView{Artifact: a, Link: webLink(a.URL)})
	}
	for _, a := range b.Logs {
		v.ToolLogs = append(v.ToolLogs, artifactView{Artifact: a, Link: webLink(a.URL)})
		if b.ToolError != nil && a.Name == b.ToolError.Log {
			v.ToolErrorLog = &v.ToolLogs[len(v.ToolLogs)-1]
		}
	}
	if b.Staged != "" {
		v.StagedLink = webLink(b.Staged)
		v.Checksum = strings.TrimRight(b.Staged, "/") + "/CHECKSUM"
		v.ChecksumURL = webLink(v.Checksum)
	}
	for _, l := range lines {
		v.Lines = append(v.Lines, lineView{N: l.N, Spans: ansiSpans(l.Text)})
	}
	if len(lines) > 0 {
		v.LastLine = lines[len(lines)-1].N
		v.Truncated = lines[0].N > 1
	}
	v.Live = end == "" && !b.State.Final()
	if v.Live {
		v.Progress = s.progress(ctx, b, time.Now())
	}
	if b.State == tasks.StateRunning && b.Waiting == "" {
		holder, err := s.store.LeaseHolder(ctx, id)
		if err != nil {
			s.fail(c, err)
			return
		}
		if holder == "" {
			v.WorkerLost = fmt.Sprintf("The worker running this build (%s) has stopped renewing its lease: it has probably died. "+
				"The build will be re-queued or failed; the log below is everything it published.", orUnknown(b.Worker))
		}
	}
	s.render(c, "build.html", v)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown host"
	}
	return s
}

func (s *Server) render(c *gin.Context, name string, data any) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.fail(c, fmt.Errorf("render %s: %w", name, err))
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", s.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	c.Data(http.StatusOK, "text/html; charset=utf-8", buf.Bytes())
}

// loadBuild reads the build the URL names; when it cannot, it has answered
// the request (404 for a malformed or unknown ID).
func (s *Server) loadBuild(ctx context.Context, c *gin.Context) (*tasks.Build, bool) {
	id, err := buildID(c)
	if err == nil {
		var b *tasks.Build
		if b, err = s.store.Get(ctx, id); err == nil {
			return b, true
		}
	}
	s.fail(c, err)
	return nil, false
}

// buildJSON serves the build record as JSON (tasks.Build).
func (s *Server) buildJSON(c *gin.Context) {
	ctx, cancel := s.reqContext(c)
	defer cancel()
	b, g, ok := s.readable(ctx, c, false)
	if !ok {
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, b.ShownTo(g.viewer))
}

// QueueStatus is one asynq queue on the status page and in its JSON.
type QueueStatus struct {
	Name string `json:"name"`
	// Arch and Release are set for build queues (build:<arch>:<release>).
	Arch      string `json:"arch,omitempty"`
	Release   string `json:"release,omitempty"`
	Pending   int    `json:"pending"`
	Active    int    `json:"active"`
	Scheduled int    `json:"scheduled"`
	Retry     int    `json:"retry"`
	Archived  int    `json:"archived"`
	// FailedToday and ProcessedToday are asynq's daily counts.
	FailedToday    int `json:"failed_today"`
	ProcessedToday int `json:"processed_today"`
	// Paused is set while workers take nothing from the queue (fbs queue
	// pause); Status.Paused says who paused it and why.
	Paused bool `json:"paused,omitempty"`
}

// Status is what GET /api/v1/status returns and /status shows.
type Status struct {
	// Time is when the status was read.
	Time time.Time `json:"time"`
	// Queues are every asynq queue, build queues first.
	Queues []QueueStatus `json:"queues"`
	// Workers are the workers whose heartbeat is current.
	Workers []*builds.WorkerInfo `json:"workers"`
	// Builds counts the builds in each state.
	Builds map[tasks.State]int64 `json:"builds_by_state"`
	// Recent are the newest builds, newest first.
	Recent []*tasks.Build `json:"recent"`
	// Stuck are the queued builds no live worker can run now, newest
	// first, each with the reason: nobody serves its arch and release, or
	// those who do lack its tool. They wait; they are not failed.
	Stuck []StuckBuild `json:"stuck"`
	// Counters are the service-wide counters (log lines, emails...).
	Counters map[string]int64 `json:"counters"`
	// Paused are the paused queues and workers, with who paused them,
	// when and why.
	Paused []builds.Pause `json:"paused"`
}

// StuckBuild is a queued build no live worker can run now.
type StuckBuild struct {
	ID      string          `json:"id"`
	Kind    tasks.BuildKind `json:"kind"`
	Arch    string          `json:"arch"`
	Release string          `json:"release"`
	Created time.Time       `json:"created"`
	// Reason says why no live worker can run it.
	Reason string `json:"reason"`
}

// maxStuck bounds the queued builds the status looks at.
const maxStuck = 500

// stuck returns the queued builds (the newest maxStuck, of owner when it is
// set: whom the viewer may see, as for the recent builds) that none of the
// live workers ws can run.
func (s *Server) stuck(ctx context.Context, ws []*builds.WorkerInfo, owner string) ([]StuckBuild, error) {
	queued, err := s.store.List(ctx, builds.ListOptions{State: tasks.StateQueued, Owner: owner, Limit: maxStuck})
	if err != nil {
		return nil, err
	}
	var out []StuckBuild
	for _, b := range queued {
		kind := b.Spec.Kind()
		if why := builds.Unserved(ws, b.Spec.Arch, b.Spec.Release, kind); why != "" {
			out = append(out, StuckBuild{ID: b.ID, Kind: kind, Arch: b.Spec.Arch, Release: b.Spec.Release, Created: b.Created, Reason: why})
		}
	}
	return out, nil
}

// queues reads every asynq queue's counts, build queues first.
func (s *Server) queues() ([]QueueStatus, error) {
	names, err := s.inspect.Queues()
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	slices.Sort(names)
	out := make([]QueueStatus, 0, len(names))
	for _, n := range names {
		qi, err := s.inspect.GetQueueInfo(n)
		if err != nil {
			return nil, fmt.Errorf("read queue %s: %w", n, err)
		}
		q := QueueStatus{Name: n, Pending: qi.Pending, Active: qi.Active, Scheduled: qi.Scheduled,
			Retry: qi.Retry, Archived: qi.Archived, FailedToday: qi.Failed, ProcessedToday: qi.Processed, Paused: qi.Paused}
		q.Arch, q.Release, _ = tasks.ParseQueueName(n)
		out = append(out, q)
	}
	slices.SortStableFunc(out, func(a, b QueueStatus) int {
		ab, bb := a.Arch != "", b.Arch != ""
		switch {
		case ab && !bb:
			return -1
		case bb && !ab:
			return 1
		}
		return 0
	})
	return out, nil
}

// status reads the service's status as viewer v may see it: counts,
// queues and workers, and of the recent builds those v may read (see
// recentFor), each as shown to v.
func (s *Server) status(ctx context.Context, v tasks.Viewer) (*Status, error) {
	st := &Status{Time: time.Now().UTC()}
	var err error
	if st.Queues, err = s.queues(); err != nil {
		return nil, err
	}
	if st.Workers, err = s.store.Workers(ctx); err != nil {
		return nil, err
	}
	if st.Builds, err = s.store.CountByState(ctx); err != nil {
		return nil, err
	}
	if owner, ok := s.recentFor(v); ok {
		if st.Recent, err = s.store.List(ctx, builds.ListOptions{Limit: s.cfg.RecentBuilds, Owner: owner}); err != nil {
			return nil, err
		}
		for i, b := range st.Recent {
			st.Recent[i] = b.ShownTo(v)
		}
		if st.Stuck, err = s.stuck(ctx, st.Workers, owner); err != nil {
			return nil, err
		}
	}
	if st.Counters, err = s.store.Counters(ctx); err != nil {
		return nil, err
	}
	if st.Paused, err = s.store.Pauses(ctx); err != nil {
		return nil, err
	}
	if st.Workers == nil {
		st.Workers = []*builds.WorkerInfo{}
	}
	if st.Recent == nil {
		st.Recent = []*tasks.Build{}
	}
	if st.Stuck == nil {
		st.Stuck = []StuckBuild{}
	}
	return st, nil
}

func (s *Server) statusJSON(c *gin.Context) {
	ctx, cancel := s.reqContext(c)
	defer cancel()
	v, err := s.viewer(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	st, err := s.status(ctx, v)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, st)
}

type recentView struct {
	*tasks.Build
	Link string
}

type statusView struct {
	*Status
	States   []tasks.State
	Recent   []recentView
	Stuck    []stuckView
	Counters []counterView
	Style    template.CSS
	APIURL   string
	// Hosts are the hosts of the live workers, each once, for the pause
	// forms.
	Hosts []string
	// CSRF is set for admins, who get the pause and resume forms.
	CSRF string
	// Done says what the form just did ("paused", "resumed").
	Done string
}

type stuckView struct {
	StuckBuild
	Link string
}

type counterView struct {
	Name  string
	Value int64
}

func (s *Server) statusPage(c *gin.Context) {
	ctx, cancel := s.reqContext(c)
	defer cancel()
	who, err := s.viewer(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	st, err := s.status(ctx, who)
	if err != nil {
		s.fail(c, err)
		return
	}
	v := &statusView{Status: st, Style: s.style, APIURL: s.link(0, "api/v1/status"),
		States: []tasks.State{tasks.StateQueued, tasks.StateRunning, tasks.StateSucceeded, tasks.StateFailed, tasks.StateCancelled}}
	for _, b := range st.Recent {
		v.Recent = append(v.Recent, recentView{Build: b, Link: s.link(0, "builds/"+b.ID)})
	}
	for _, b := range st.Stuck {
		v.Stuck = append(v.Stuck, stuckView{StuckBuild: b, Link: s.link(0, "builds/"+b.ID)})
	}
	for k, n := range st.Counters {
		v.Counters = append(v.Counters, counterView{k, n})
	}
	slices.SortFunc(v.Counters, func(a, b counterView) int { return strings.Compare(a.Name, b.Name) })
	for _, w := range st.Workers {
		if !slices.Contains(v.Hosts, w.Host) {
			v.Hosts = append(v.Hosts, w.Host)
		}
	}
	slices.Sort(v.Hosts)
	if d := c.Query("done"); d == "paused" || d == "resumed" {
		v.Done = d
	}
	if who.Admin && s.cfg.Identifier != nil {
		if v.CSRF, err = s.cfg.Identifier.FormToken(c.Writer, c.Request); err != nil {
			s.fail(c, err)
			return
		}
	}
	s.render(c, "status.html", v)
}
