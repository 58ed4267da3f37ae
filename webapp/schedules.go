package webapp

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/fedora-fbs/fbs/conf/spec"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/schedules"
	"github.com/fedora-fbs/fbs/webapp/apiclient"
)

// Schedules (periodic builds): the store is tasks/schedules, the runs are
// made by the monitor's runner (monitor/scheduler). A schedule is made as
// a submission is, with the same rights, and checked through the same
// submission path; its owner and the admins see and change it, and to
// everyone else it is missing, as a build is.

// maxSchedulePage is how many runs the detail page and the API show.
const maxScheduleRuns = 50

func (s *Server) scheduleStore() *schedules.Store { return schedules.NewStore(s.buildClient.Redis()) }

// newSchedule checks a schedule draft for the request's user through the
// submission path and stores it. Every problem, of the schedule's own
// fields and of its spec, is reported at once.
func (s *Server) newSchedule(c *gin.Context, cron, rebuildAge string, d *draft) (*schedules.Schedule, error) {
	u := user(c)
	if !u.CanSubmit {
		return nil, errNotAllowedToSubmit
	}
	var errs tasks.Errors
	collect := func(err error) error {
		var fe tasks.Errors
		var te *tasks.Error
		switch {
		case err == nil:
		case errors.As(err, &fe):
			errs = append(errs, fe...)
		case errors.As(err, &te):
			errs = append(errs, te)
		default:
			return err
		}
		return nil
	}
	sc := &schedules.Schedule{Owner: u.Name, Cron: strings.TrimSpace(cron), CheckRights: !s.LocalMode()}
	age, err := tasks.ParseRebuildAge(rebuildAge)
	if err := collect(err); err != nil {
		return nil, err
	}
	sc.RebuildAge = age
	if err := collect(schedules.Check(sc)); err != nil {
		return nil, err
	}
	p, _, err := s.prepare(c.Request.Context(), u, d)
	if err := collect(err); err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, errs
	}
	sc.Spec = p.Payload.Spec
	// A spec naming several arches builds a group at each run.
	sc.Spec.Arch = p.Arches()
	if len(d.files) > 0 {
		sc.Kickstarts = map[string]string{}
		for k, v := range d.files {
			sc.Kickstarts[k] = string(v)
		}
	}
	if err := s.scheduleStore().Create(c.Request.Context(), sc); err != nil {
		return nil, err
	}
	s.cfg.Logger.Info("schedule created", "id", sc.ID, "owner", sc.Owner, "cron", sc.Cron, "type", sc.Spec.Type, "arch", sc.Spec.Arch, "release", sc.Spec.Release)
	return sc, nil
}

// ownSchedule returns schedule id if the request's user owns it or is an
// admin; to anyone else it is missing.
func (s *Server) ownSchedule(c *gin.Context, id string) (*schedules.Schedule, error) {
	sc, err := s.scheduleStore().Get(c.Request.Context(), id)
	if err != nil {
		return nil, err
	}
	u := user(c)
	if !(tasks.Viewer{Name: u.Name, Admin: u.Admin}).Owns(sc.Owner) {
		return nil, schedules.ErrNotFound
	}
	return sc, nil
}

// visibleSchedules lists the user's schedules; an admin's list has
// everyone's.
func (s *Server) visibleSchedules(c *gin.Context) ([]*schedules.Schedule, error) {
	u := user(c)
	owner := u.Name
	if u.Admin {
		owner = ""
	}
	return s.scheduleStore().List(c.Request.Context(), owner)
}

// changeSchedule pauses, resumes or deletes schedule id for the user.
func (s *Server) changeSchedule(c *gin.Context, id, action string) (*schedules.Schedule, error) {
	sc, err := s.ownSchedule(c, id)
	if err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	switch action {
	case "pause", "resume":
		sc, err = s.scheduleStore().SetPaused(ctx, id, action == "pause")
	case "delete":
		err = s.scheduleStore().Delete(ctx, id)
	default:
		return nil, badRequest("action", "unknown action %q: want pause, resume or delete", action)
	}
	if err != nil {
		return nil, err
	}
	s.cfg.Logger.Info("schedule changed", "id", id, "action", action, "by", user(c).Name)
	return sc, nil
}

// scheduleJSON is a schedule as the API shows it.
func scheduleJSON(sc *schedules.Schedule, runs []schedules.Run) apiclient.Schedule {
	out := apiclient.Schedule{ID: sc.ID, Owner: sc.Owner, Cron: sc.Cron, Paused: sc.Paused, Created: sc.Created,
		Spec: sc.Spec, Kickstarts: slices.Sorted(maps.Keys(sc.Kickstarts)), LastBuild: sc.LastBuild, LastGroup: sc.LastGroup}
	if sc.RebuildAge > 0 {
		out.RebuildAge = sc.RebuildAge.String()
	}
	for _, r := range runs {
		out.Runs = append(out.Runs, apiclient.ScheduleRun{Time: r.Time, Slot: r.Slot, Outcome: string(r.Outcome), Build: r.Build, Group: r.Group, Reason: r.Reason})
	}
	return out
}

// scheduleName maps a field path of a schedule request made with JSON.
func scheduleName(path string) string {
	switch path {
	case tasks.FieldCron, tasks.FieldRebuildAge:
		return path
	}
	return jsonName(path)
}

// apiScheduleCreate is POST /api/v1/schedules.
func (s *Server) apiScheduleCreate(c *gin.Context) {
	var req apiclient.ScheduleRequest
	if err := decodeJSON(c.Request.Body, &req); err != nil {
		s.fail(c, err)
		return
	}
	files := make(map[string][]byte, len(req.Kickstarts))
	for k, v := range req.Kickstarts {
		files[k] = []byte(v)
	}
	sc, err := s.newSchedule(c, req.Cron, req.RebuildAge, &draft{spec: req.Spec, files: files, name: jsonName})
	if err != nil {
		s.fail(c, renameFields(err, scheduleName))
		return
	}
	c.Header("Location", "/api/v1/schedules/"+sc.ID)
	c.JSON(http.StatusCreated, scheduleJSON(sc, nil))
}

// renameFields names the fields of a schedule's own errors as the request
// did; the spec's are named by prepare already.
func renameFields(err error, name func(string) string) error {
	var fe tasks.Errors
	if !errors.As(err, &fe) {
		return err
	}
	out := make(tasks.Errors, len(fe))
	for i, e := range fe {
		c := *e
		if c.Field == tasks.FieldCron || c.Field == tasks.FieldRebuildAge {
			c.Field = name(c.Field)
		}
		out[i] = &c
	}
	return out
}

// apiScheduleList is GET /api/v1/schedules.
func (s *Server) apiScheduleList(c *gin.Context) {
	list, err := s.visibleSchedules(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := apiclient.ScheduleList{Schedules: []apiclient.Schedule{}}
	for _, sc := range list {
		out.Schedules = append(out.Schedules, scheduleJSON(sc, nil))
	}
	c.JSON(http.StatusOK, out)
}

// apiScheduleGet is GET /api/v1/schedules/{id}: the schedule and its runs.
func (s *Server) apiScheduleGet(c *gin.Context) {
	sc, err := s.ownSchedule(c, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	runs, err := s.scheduleStore().Runs(c.Request.Context(), sc.ID, maxScheduleRuns)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, scheduleJSON(sc, runs))
}

// apiScheduleAction answers POST .../pause and .../resume, and DELETE.
func (s *Server) apiScheduleAction(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		sc, err := s.changeSchedule(c, c.Param("id"), action)
		if err != nil {
			s.fail(c, err)
			return
		}
		if action == "delete" {
			c.Status(http.StatusNoContent)
			return
		}
		c.JSON(http.StatusOK, scheduleJSON(sc, nil))
	}
}

// schedulesData is what the schedules page shows: the list and the form.
type schedulesData struct {
	Schedules []*schedules.Schedule
	// Last is each schedule's latest run, by ID.
	Last map[string]schedules.Run
	// Form is the create form's input; Errors its problems by field.
	Form   url.Values
	Errors map[string]string
}

// Val is the form's value of k.
func (d *schedulesData) Val(k string) string { return d.Form.Get(k) }

// Err is the problem of form field k.
func (d *schedulesData) Err(k string) string { return d.Errors[k] }

func (s *Server) schedulesPage(c *gin.Context, status int, form url.Values, errs map[string]string, flash ...string) {
	list, err := s.visibleSchedules(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	d := &schedulesData{Schedules: list, Last: map[string]schedules.Run{}, Form: form, Errors: errs}
	for _, sc := range list {
		if runs, err := s.scheduleStore().Runs(c.Request.Context(), sc.ID, 1); err == nil && len(runs) == 1 {
			d.Last[sc.ID] = runs[0]
		}
	}
	s.render(c, status, "schedules", "Schedules", d, flash...)
}

// schedules is GET /schedules.
func (s *Server) schedules(c *gin.Context) {
	if s.signedIn(c) == nil {
		return
	}
	form := url.Values{}
	form.Set("cron", "0 3 * * *")
	flash := ""
	if c.Query("flash") == "deleted" && tasks.ValidScheduleID(c.Query("id")) {
		flash = "Schedule " + c.Query("id") + " deleted."
	}
	s.schedulesPage(c, http.StatusOK, form, nil, flash)
}

// scheduleSpecLimit bounds the spec text of the form.
const scheduleSpecLimit = 64 << 10

// scheduleForm is POST /schedules: cron, rebuild_age and the INI spec
// text; a kickstart is named by URL or standard name in the spec.
func (s *Server) scheduleForm(c *gin.Context) {
	u := s.signedIn(c)
	if u == nil {
		return
	}
	if err := c.Request.ParseForm(); err != nil {
		s.fail(c, badRequestOr(err, "", "malformed form: %v", err))
		return
	}
	form := c.Request.PostForm
	text := form.Get("spec")
	var err error
	var sc *schedules.Schedule
	if len(text) > scheduleSpecLimit {
		err = tooLarge("spec", "spec is over %d bytes", scheduleSpecLimit)
	} else {
		var res *spec.Result
		if res, err = spec.Parse("spec", []byte(text)); err == nil {
			sc, err = s.newSchedule(c, form.Get("cron"), form.Get("rebuild_age"), &draft{spec: res.Spec, name: formSpecName(res)})
		}
	}
	if err == nil {
		c.Redirect(http.StatusSeeOther, "/schedules/"+sc.ID)
		return
	}
	// Show each problem beside its field (the spec's at the spec), keeping
	// the input.
	errs := map[string]string{}
	var general []string
	status := 0
	list := []error{err}
	var fe tasks.Errors
	if errors.As(err, &fe) {
		list = list[:0]
		for _, e := range fe {
			list = append(list, e)
		}
	}
	for _, e := range list {
		st, body := toHTTP(e)
		if status == 0 {
			status = st
		}
		if logged(st) {
			s.cfg.Logger.Error("schedule form", "user", u.Name, "err", e)
		}
		field := body.Field
		switch {
		case field == tasks.FieldCron || field == tasks.FieldRebuildAge:
		case field == "":
			general = append(general, body.Message)
			continue
		default:
			body.Message = body.Field + ": " + body.Message
			field = "spec"
		}
		if errs[field] != "" {
			errs[field] += "\n"
		}
		errs[field] += body.Message
	}
	s.schedulesPage(c, status, form, errs, "", strings.Join(general, "\n"))
}

// formSpecName names a spec field of the form's INI text as "line N:
// [section] key".
func formSpecName(res *spec.Result) func(string) string {
	return func(path string) string {
		e := res.ErrorAt(path, "")
		if e.Line > 0 {
			return fmt.Sprintf("line %d: %s", e.Line, e.Where())
		}
		return e.Where()
	}
}

// scheduleData is what a schedule's page shows.
type scheduleData struct {
	Schedule *schedules.Schedule
	Runs     []schedules.Run
}

// schedulePage is GET /schedules/{id}.
func (s *Server) schedulePage(c *gin.Context) {
	if s.signedIn(c) == nil {
		return
	}
	sc, err := s.ownSchedule(c, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	runs, err := s.scheduleStore().Runs(c.Request.Context(), sc.ID, maxScheduleRuns)
	if err != nil {
		s.fail(c, err)
		return
	}
	flash := ""
	switch c.Query("flash") {
	case "paused", "resumed":
		flash = fmt.Sprintf("Schedule %s.", c.Query("flash"))
	}
	s.render(c, http.StatusOK, "schedule", "Schedule "+sc.ID, &scheduleData{Schedule: sc, Runs: runs}, flash)
}

// scheduleAction answers the pause, resume and delete buttons.
func (s *Server) scheduleAction(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.signedIn(c) == nil {
			return
		}
		id := c.Param("id")
		if _, err := s.changeSchedule(c, id, action); err != nil {
			s.fail(c, err)
			return
		}
		if action == "delete" {
			c.Redirect(http.StatusSeeOther, "/schedules?flash=deleted&id="+url.QueryEscape(id))
			return
		}
		c.Redirect(http.StatusSeeOther, "/schedules/"+id+"?flash="+action+"d")
	}
}
