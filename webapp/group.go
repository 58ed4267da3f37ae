package webapp

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

// A group is the builds of one request naming several arches (see
// tasks.Group). Who may see and cancel it is who may see and cancel its
// builds: its owner and admins, and everyone may see it under public
// visibility; to anyone else it does not exist (404).

// group returns group id as the request's user may see it.
func (s *Server) group(c *gin.Context, id string) (*tasks.GroupStatus, error) {
	if !tasks.ValidBuildID(id) {
		return nil, fmt.Errorf("group %q: %w", id, builds.ErrGroupNotFound)
	}
	gs, err := s.buildClient.Group(c.Request.Context(), id)
	if err != nil {
		return nil, err
	}
	v := s.viewer(c)
	if !v.CanSeeGroup(gs, s.cfg.Visibility) {
		return nil, fmt.Errorf("group %q: %w", id, builds.ErrGroupNotFound)
	}
	return gs.ShownTo(v), nil
}

// viewer is the request's user as tasks.Viewer.
func (s *Server) viewer(c *gin.Context) tasks.Viewer {
	if u := user(c); u != nil {
		return tasks.Viewer{Name: u.Name, Admin: u.Admin}
	}
	return tasks.Viewer{}
}

// cancelGroup cancels every unfinished build of group id for the
// request's user.
func (s *Server) cancelGroup(c *gin.Context, id string) (*tasks.GroupStatus, error) {
	gs, err := s.group(c, id)
	if err != nil {
		return nil, err
	}
	if !s.viewer(c).Owns(gs.Owner) {
		return nil, errNotYours
	}
	gs, err = s.buildClient.CancelGroup(c.Request.Context(), id)
	if err != nil {
		return nil, err
	}
	s.cfg.Logger.Info("group cancelled", "group", id, "by", user(c).Name)
	return gs, nil
}

// groupPageData is what the group page shows.
type groupPageData struct {
	Group *tasks.GroupStatus
	// Mine is set when the viewer may cancel the group.
	Mine bool
}

// groupPage is GET /groups/{id}.
func (s *Server) groupPage(c *gin.Context) {
	if user(c) == nil && s.cfg.Visibility != tasks.VisibilityPublic {
		s.signedIn(c)
		return
	}
	gs, err := s.group(c, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "group", "Group "+gs.ID, groupPageData{Group: gs, Mine: s.viewer(c).Owns(gs.Owner)})
}

// groupCancelForm is POST /groups/{id}/cancel, the group page's button.
func (s *Server) groupCancelForm(c *gin.Context) {
	if s.signedIn(c) == nil {
		return
	}
	if _, err := s.cancelGroup(c, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/groups/"+url.PathEscape(c.Param("id")))
}

// apiGroup is GET /api/v1/groups/{id}.
func (s *Server) apiGroup(c *gin.Context) {
	gs, err := s.group(c, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gs)
}

// apiGroupCancel is POST /api/v1/groups/{id}/cancel.
func (s *Server) apiGroupCancel(c *gin.Context) {
	gs, err := s.cancelGroup(c, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gs)
}
