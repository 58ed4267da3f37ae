package monitor

import (
	"context"
	"net/http"

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

// pauseRoute is one way in to pausing or resuming: whether it resumes,
// where it reads the request from, and how it answers. Every way shares
// pauseHandler: admins only, bad input a 400, the change through pause.
type pauseRoute struct {
	resume bool
	read   func(c *gin.Context) (PauseRequest, error)
	answer func(c *gin.Context, req PauseRequest, p *builds.Pause)
}

// pauseRoutes mounts the status page's forms (POST /status/pause and
// /status/resume, with the page's CSRF token; back to the page after)
// and the API (POST /api/v1/pauses with a PauseRequest, DELETE
// /api/v1/pauses/{kind}/{name}).
func (s *Server) pauseRoutes(r gin.IRouter) {
	backToStatus := func(done string) func(*gin.Context, PauseRequest, *builds.Pause) {
		return func(c *gin.Context, _ PauseRequest, _ *builds.Pause) {
			c.Redirect(http.StatusSeeOther, s.link(1, "status")+"?done="+done)
		}
	}
	r.POST("/status/pause", s.pauseHandler(pauseRoute{read: readPauseForm, answer: backToStatus("paused")}))
	r.POST("/status/resume", s.pauseHandler(pauseRoute{resume: true, read: readPauseForm, answer: backToStatus("resumed")}))
	r.POST("/api/v1/pauses", s.pauseHandler(pauseRoute{
		read: func(c *gin.Context) (PauseRequest, error) {
			var req PauseRequest
			if err := c.ShouldBindJSON(&req); err != nil {
				return req, tasks.Errorf(tasks.CodeBadRequest, "", "read the request: %v", err)
			}
			return req, nil
		},
		answer: func(c *gin.Context, _ PauseRequest, p *builds.Pause) { c.JSON(http.StatusCreated, p) },
	}))
	r.DELETE("/api/v1/pauses/:kind/:name", s.pauseHandler(pauseRoute{
		resume: true,
		read: func(c *gin.Context) (PauseRequest, error) {
			return PauseRequest{Kind: builds.PauseKind(c.Param("kind")), Name: c.Param("name")}, nil
		},
		answer: func(c *gin.Context, req PauseRequest, _ *builds.Pause) {
			c.JSON(http.StatusOK, gin.H{"kind": req.Kind, "name": req.Name, "resumed": true})
		},
	}))
}

// readPauseForm reads the fields of the status page's pause and resume
// forms.
func readPauseForm(c *gin.Context) (PauseRequest, error) {
	var req PauseRequest
	if err := c.ShouldBind(&req); err != nil {
		return req, tasks.Errorf(tasks.CodeBadRequest, "", "read the form: %v", err)
	}
	return req, nil
}

// pauseHandler serves rt: the admin check (CSRF token included) comes
// before the request is read, then the pause or resume, then rt's answer.
func (s *Server) pauseHandler(rt pauseRoute) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := s.reqContext(c)
		defer cancel()
		v, ok := s.admin(c)
		if !ok {
			return
		}
		req, err := rt.read(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		p, err := s.pause(ctx, v, req, rt.resume)
		if err != nil {
			s.fail(c, err)
			return
		}
		rt.answer(c, req, p)
	}
}
