package apiclient

import (
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

// SubmitRequest is the JSON body of POST /api/v1/builds.
type SubmitRequest struct {
	// Spec is the build spec, as tasks.Spec marshals it.
	Spec tasks.Spec `json:"spec"`
	// Kickstarts are uploaded kickstart files by name (no directories); the
	// spec's config names the main one, which may %include the others.
	// Without them, config is an http(s)/ftp URL or a standard kickstart.
	Kickstarts map[string]string `json:"kickstarts,omitempty"`
}

// SubmitResponse is the answer to a submission or resubmission (201).
type SubmitResponse struct {
	Build *tasks.Build `json:"build"`
	// URL is the build's page.
	URL string `json:"url"`
	// Warnings are the spec's and kickstart's non-fatal findings.
	Warnings []string `json:"warnings,omitempty"`
	// Group is the group a spec naming several arches made (Build is then
	// its first build); absent for one arch.
	Group *tasks.GroupStatus `json:"group,omitempty"`
	// GroupURL is the group's page, with Group.
	GroupURL string `json:"group_url,omitempty"`
}

// RevokedTokens is the answer to POST /api/v1/users/{name}/tokens/revoke.
type RevokedTokens struct {
	// User is whose tokens were revoked.
	User string `json:"user"`
	// Revoked is how many live tokens there were.
	Revoked int `json:"revoked"`
}

// BuildList is the answer to GET /api/v1/builds.
type BuildList struct {
	Builds []*tasks.Build `json:"builds"`
	// Next is the cursor of the next page (?before=Next), "" on the last.
	Next string `json:"next,omitempty"`
}

// Release is an entry of GET /api/v1/releases.
type Release struct {
	Release string `json:"release"`
	// Arches are the arches a live worker builds this release for.
	Arches []string `json:"arches"`
}

// Arch is an entry of GET /api/v1/arches.
type Arch struct {
	Arch string `json:"arch"`
	// Releases are the offered releases a live worker builds for this arch.
	Releases []string `json:"releases"`
}

// Kickstart is an entry of GET /api/v1/kickstarts: a standard kickstart
// that config= may name.
type Kickstart struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Site is true for the site's own kickstarts (synced from Fedora or in
	// the site directory), false for embedded ones.
	Site bool `json:"site"`
	// Releases are the releases offering it, in [releases] order.
	Releases []string `json:"releases"`
}

// Worker is an entry of GET /api/v1/workers.
type Worker struct {
	ID          string   `json:"id"`
	Host        string   `json:"host"`
	Arch        string   `json:"arch"`
	Releases    []string `json:"releases"`
	Concurrency int      `json:"concurrency"`
	Running     int      `json:"running"`
	Draining    bool     `json:"draining,omitempty"`
	// Paused is set while its host is paused (fbs worker pause).
	Paused bool `json:"paused,omitempty"`
	// LowSpace is set while the worker paused itself because its data
	// dir is low on space, and says how low.
	LowSpace string `json:"low_space,omitempty"`
	// State says whether it takes builds (builds.WorkerInfo.State):
	// running, draining, paused, or "paused: " and why it paused itself.
	State     string    `json:"state"`
	Started   time.Time `json:"started"`
	Heartbeat time.Time `json:"heartbeat"`
	// Capabilities say, per build kind, whether the worker can run it:
	// the tools with their versions, or the tool it lacks.
	Capabilities []tasks.Capability `json:"capabilities,omitempty"`
}

// WorkerFrom is the public view of a worker's heartbeat.
func WorkerFrom(w *builds.WorkerInfo) Worker {
	return Worker{ID: w.ID, Host: w.Host, Arch: w.Arch, Releases: w.Releases, Concurrency: w.Concurrency,
		Running: len(w.Builds), Draining: w.Draining, Paused: w.Paused, LowSpace: w.LowSpace, State: w.State(), Started: w.Started, Heartbeat: w.Heartbeat, Capabilities: w.Capabilities}
}

// RestRequest is the original service's POST /rest body: config is the
// INI spec text, ksfname the spec's kickstart name or URL, ks that
// kickstart's text or null.
type RestRequest struct {
	Config  string  `json:"config"`
	KSFName string  `json:"ksfname"`
	KS      *string `json:"ks"`
}

// ScheduleRequest is the body of POST /api/v1/schedules: a periodic build.
type ScheduleRequest struct {
	// Cron is when it builds: five fields (UTC), a descriptor such as
	// @daily, or "@every D".
	Cron string `json:"cron"`
	// RebuildAge, when set ("20h", "2d"), skips a run while the last
	// success is younger than it.
	RebuildAge string `json:"rebuild_age,omitempty"`
	// Spec and Kickstarts are as in SubmitRequest.
	Spec       tasks.Spec        `json:"spec"`
	Kickstarts map[string]string `json:"kickstarts,omitempty"`
}

// Schedule is a schedule as the API shows it, with its latest runs
// (GET /api/v1/schedules/{id}; lists leave the runs out).
type Schedule struct {
	ID         string     `json:"id"`
	Owner      string     `json:"owner"`
	Cron       string     `json:"cron"`
	RebuildAge string     `json:"rebuild_age,omitempty"`
	Paused     bool       `json:"paused"`
	Created    time.Time  `json:"created"`
	Spec       tasks.Spec `json:"spec"`
	// Kickstarts names the kickstart files kept with the schedule.
	Kickstarts []string `json:"kickstarts,omitempty"`
	// LastBuild is the latest build a run submitted; LastGroup the latest
	// multi-arch group, for a spec naming several arches.
	LastBuild string `json:"last_build,omitempty"`
	LastGroup string `json:"last_group,omitempty"`
	// Runs are the latest runs, newest first.
	Runs []ScheduleRun `json:"runs,omitempty"`
}

// ScheduleRun is one run of a schedule: it built Build (or, for a spec
// naming several arches, the multi-arch group Group), or was skipped or
// failed for Reason.
type ScheduleRun struct {
	Time    time.Time `json:"time"`
	Slot    time.Time `json:"slot"`
	Outcome string    `json:"outcome"`
	Build   string    `json:"build,omitempty"`
	Group   string    `json:"group,omitempty"`
	Reason  string    `json:"reason,omitempty"`
}

// ScheduleList is the answer of GET /api/v1/schedules.
type ScheduleList struct {
	Schedules []Schedule `json:"schedules"`
}
