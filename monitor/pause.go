package monitor

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
)

// PauseRequest is the body of POST /api/v1/pauses, and the fields of the
// status page's pause and resume forms.
type PauseRequest struct {
	// Kind is "queue" or "worker".
	Kind builds.PauseKind `json:"kind" form:"kind"`
	// Name is the queue (build:<arch>:<release>) or the worker's host.
	Name    string `json:"name" form:"name"`
	Message string `json:"message,omitempty" form:"message"`
}

// Errors of pausing.
var (
	errPauseAdmin = tasks.Errorf(tasks.CodeForbidden, "", "only admins pause and resume queues and workers")
	errPauseKind  = tasks.Invalid("kind", "want queue or worker")
)

// admin returns the admin who sent the request, or fails it: anonymous
// requests are unauthenticated, others forbidden, and a form without its
// CSRF token refused.
func (s *Server) admin(c *gin.Context) (tasks.Viewer, bool) {
	v, err := s.viewer(c)
	switch {
	case err != nil:
		s.fail(c, err)
	case v.Name == "":
		s.fail(c, tasks.Errorf(tasks.CodeUnauthenticated, "", "sign in, or send an API token as \"Authorization: Bearer TOKEN\""))
	case !v.Admin:
		s.fail(c, errPauseAdmin)
	case s.cfg.Identifier == nil || !s.cfg.Identifier.CheckForm(c.Request):
		s.fail(c, tasks.Errorf(tasks.CodeCSRF, "csrf", "missing or wrong CSRF token: reload the page and try again"))
	default:
		return v, true
	}
	return v, false
}

// pause pauses or resumes what req names for v.
func (s *Server) pause(ctx context.Context, v tasks.Viewer, req PauseRequest, resume bool) (*builds.Pause, error) {
	pc := client.New(s.rdb, client.Config{})
	defer pc.Close()
	var p *builds.Pause
	var err error
	switch {
	case req.Kind == builds.PauseQueue && resume:
		err = pc.ResumeQueue(ctx, req.Name)
	case req.Kind == builds.PauseQueue:
		p, err = pc.PauseQueue(ctx, req.Name, v.Name, req.Message)
	case req.Kind == builds.PauseWorker && resume:
		err = pc.ResumeWorker(ctx, req.Name)
	case req.Kind == builds.PauseWorker:
		p, err = pc.PauseWorker(ctx, req.Name, v.Name, req.Message)
	default:
		return nil, errPauseKind
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("pause changed", "kind", req.Kind, "name", req.Name, "resumed", resume, "by", v.Name)
	return p, nil
}

// pauseForm is POST /status/pause and /status/resume, the status page's
// forms: admins only, with the page's CSRF token.
func (s *Server) pauseForm(c *gin.Context) {
	ctx, cancel := s.reqContext(c)
	defer cancel()
	v, ok := s.admin(c)
	if !ok {
		return
	}
	var req PauseRequest
	if err := c.ShouldBind(&req); err != nil {
		s.fail(c, tasks.Errorf(tasks.CodeBadRequest, "", "read the form: %v", err))
		return
	}
	resume := strings.HasSuffix(c.Request.URL.Path, "/resume")
	if _, err := s.pause(ctx, v, req, resume); err != nil {
		s.fail(c, err)
		return
	}
	done := "paused"
	if resume {
		done = "resumed"
	}
	c.Redirect(http.StatusSeeOther, s.link(1, "status")+"?done="+done)
}

// apiPauses is GET /api/v1/pauses: what is paused, by whom, when, why.
func (s *Server) apiPauses(c *gin.Context) {
	ctx, cancel := s.reqContext(c)
	defer cancel()
	ps, err := s.store.Pauses(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"pauses": ps})
}

// apiPause is POST /api/v1/pauses (a PauseRequest): admins only.
func (s *Server) apiPause(c *gin.Context) {
	ctx, cancel := s.reqContext(c)
	defer cancel()
	v, ok := s.admin(c)
	if !ok {
		return
	}
	var req PauseRequest
	if err := c.ShouldBindJSON(&req); err != nil {
		s.fail(c, tasks.Errorf(tasks.CodeBadRequest, "", "read the request: %v", err))
		return
	}
	p, err := s.pause(ctx, v, req, false)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, p)
}

// apiResume is DELETE /api/v1/pauses/{kind}/{name}: admins only.
func (s *Server) apiResume(c *gin.Context) {
	ctx, cancel := s.reqContext(c)
	defer cancel()
	v, ok := s.admin(c)
	if !ok {
		return
	}
	req := PauseRequest{Kind: builds.PauseKind(c.Param("kind")), Name: c.Param("name")}
	if _, err := s.pause(ctx, v, req, true); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"kind": req.Kind, "name": req.Name, "resumed": true})
}
