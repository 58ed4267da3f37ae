package tasks

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// State is where a build is in its life.
type State string

// Build states. Succeeded, failed and cancelled are final.
const (
	StateQueued    State = "queued"
	StateRunning   State = "running"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
	StateCancelled State = "cancelled"
)

// Final reports whether a build in state s will never change again.
func (s State) Final() bool {
	return s == StateSucceeded || s == StateFailed || s == StateCancelled
}

// Stage is a step of the build pipeline.
type Stage string

// Pipeline stages, in the order a build runs them.
const (
	StageFetch    Stage = "fetch"
	StageFlatten  Stage = "flatten"
	StageSideRepo Stage = "side repo"
	StageBuild    Stage = "build"
	StageChecksum Stage = "checksum"
	StageTransfer Stage = "transfer"
	StageNotify   Stage = "notify"
)

// NewBuildID returns a new build ID: a ULID, unique and sortable by creation
// time (monotonic within a process, so IDs made in the same millisecond keep
// their order), used as the asynq task ID and to address the build's log.
func NewBuildID() string {
	return ulid.Make().String()
}

var buildIDRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`) })

// ValidBuildID reports whether id has the form NewBuildID gives. Everything
// that takes a build ID from outside (URLs, CLI) checks it first, so an ID can
// never smuggle a path or a Redis key pattern.
func ValidBuildID(id string) bool { return buildIDRE().MatchString(id) }

// Payload is what a build task carries through the queue: the validated spec
// and the kickstart already flattened on the submitter's side, never a path
// on the submitter's machine.
type Payload struct {
	ID   string `json:"id"`
	Spec Spec   `json:"spec"`
	// KickstartName is what the submitter called the kickstart (file base
	// name, URL or standard name), for display only.
	KickstartName string `json:"kickstart_name,omitempty"`
	// Kickstart is the flattened kickstart text; empty for boot builds.
	Kickstart string `json:"kickstart,omitempty"`
	// Owner is the submitting user (local user name, account or token owner).
	Owner       string    `json:"owner"`
	SubmittedAt time.Time `json:"submitted_at"`
	// Schedule is the ID of the schedule that made this build; empty for a
	// build someone submitted.
	Schedule string `json:"schedule,omitempty"`
	// Group is the ID of the multi-arch group this build belongs to; empty
	// for a build on its own.
	Group string `json:"group,omitempty"`
}

// Encode serialises the payload for asynq.
func (p *Payload) Encode() ([]byte, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode payload of build %s: %w", p.ID, err)
	}
	return b, nil
}

// DecodePayload parses and validates a payload taken off the queue.
func DecodePayload(b []byte) (*Payload, error) {
	var p Payload
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decode build payload: %w", err)
	}
	if !ValidBuildID(p.ID) {
		return nil, fmt.Errorf("decode build payload: bad build ID %q", p.ID)
	}
	if err := p.Spec.Validate(); err != nil {
		return nil, fmt.Errorf("decode build payload %s: %w", p.ID, err)
	}
	if len(p.Spec.Arches()) != 1 {
		return nil, fmt.Errorf("decode build payload %s: arch %q names several arches: a build has one", p.ID, p.Spec.Arch)
	}
	return &p, nil
}

// Artifact is a file a build produced, as staged.
type Artifact struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// URL is where the file is in the staging area.
	URL string `json:"url,omitempty"`
}

// LogsDir is the folder of a build's staging directory that holds the
// build tool's own logs.
const LogsDir = "logs"

// LogExcerpt points at lines of a build tool's log: the first error line
// or traceback found in it.
type LogExcerpt struct {
	// Log is the log's path inside the build's logs/ folder, e.g.
	// "anaconda/packaging.log".
	Log string `json:"log"`
	// Line is the line number (from 1) of the first line in Lines.
	Line int `json:"line"`
	// Lines are the error line and the lines that go with it (a
	// traceback's frames, a message's continuation lines).
	Lines []string `json:"lines"`
}

// String names the log and the line, for failure summaries:
// "logs/anaconda/packaging.log line 12".
func (e *LogExcerpt) String() string {
	return fmt.Sprintf("%s/%s line %d", LogsDir, e.Log, e.Line)
}

// HumanSize writes n bytes for people: "1.2 GiB". Pages and mails show
// artifact sizes with it.
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// StageTiming records when a pipeline stage ran.
type StageTiming struct {
	Stage    Stage         `json:"stage"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
}

// Build is the record of one build: what was asked, where it is, what came
// out. It lives in Redis beside the task and outlives it.
type Build struct {
	ID            string `json:"id"`
	Spec          Spec   `json:"spec"`
	KickstartName string `json:"kickstart_name,omitempty"`
	Owner         string `json:"owner"`
	State         State  `json:"state"`
	Stage         Stage  `json:"stage,omitempty"`
	Queue         string `json:"queue"`
	// TaskID is the asynq task currently carrying the build: the build ID,
	// or the build ID with a suffix once the build was re-queued after its
	// worker was lost.
	TaskID    string        `json:"task_id"`
	Attempt   int           `json:"attempt"`
	Created   time.Time     `json:"created"`
	Started   time.Time     `json:"started,omitzero"`
	Finished  time.Time     `json:"finished,omitzero"`
	Worker    string        `json:"worker,omitempty"`
	Artifacts []Artifact    `json:"artifacts,omitempty"`
	Stages    []StageTiming `json:"stages,omitempty"`
	// Progress is how far the current stage has moved its bytes (ISO
	// download, side repository, transfer), updated every few seconds
	// while such a stage runs; nil otherwise.
	Progress *Progress `json:"progress,omitempty"`
	// Staged is the staging location of the build's directory.
	Staged string `json:"staged,omitempty"`
	// Error says why a build failed, with the failing stage.
	Error string `json:"error,omitempty"`
	// Tail holds the last lines of the tool's output when a build failed.
	Tail []string `json:"tail,omitempty"`
	// Logs are the build tool's own log files (lorax.log, anaconda's
	// program.log, ...), staged under <staging>/<id>/logs/ whether the
	// build failed or not; Name is the path inside logs/.
	Logs []Artifact `json:"logs,omitempty"`
	// ToolError is where the tool's own logs show its error, when a build
	// failed and one of them has an error line or a traceback.
	ToolError *LogExcerpt `json:"tool_error,omitempty"`
	// Waiting says why a running build is not running right now: its
	// images are built and their transfer to staging failed, and the worker
	// that holds them retries later. Empty while it runs.
	Waiting string `json:"waiting,omitempty"`
	// WaitingUntil is when the transfer retries of a waiting build give
	// up: the end of the retry window the worker holding the images was
	// given. Zero while the build runs.
	WaitingUntil time.Time `json:"waiting_until,omitzero"`
	// CancelRequested is set when someone asked to cancel the build.
	CancelRequested bool `json:"cancel_requested,omitempty"`
	// Events is a short human history: re-queues, hand-backs, cancels.
	Events []string `json:"events,omitempty"`
	// SpaceHandBacks counts the attempts handed back because the worker's
	// data dir ran out of space; a build that keeps running out fails
	// (worker.Config.SpaceHandBacks).
	SpaceHandBacks int `json:"space_hand_backs,omitempty"`
	// Schedule is the ID of the schedule that made this build; empty for a
	// build someone submitted.
	Schedule string `json:"schedule,omitempty"`
	// Group is the ID of the multi-arch group this build belongs to; empty
	// for a build on its own.
	Group string `json:"group,omitempty"`
}

// Summary is the part of a build record that a list of builds shows: who,
// what, in which state, how long, what came out. The store keeps one beside
// every record, written in the same transaction, so a long list reads and
// decodes a fraction of the records' bytes.
type Summary struct {
	ID        string         `json:"id"`
	Type      ImageType      `json:"type"`
	Arch      string         `json:"arch"`
	Release   string         `json:"release"`
	Owner     string         `json:"owner"`
	State     State          `json:"state"`
	Stage     Stage          `json:"stage,omitempty"`
	Created   time.Time      `json:"created"`
	Started   time.Time      `json:"started,omitzero"`
	Finished  time.Time      `json:"finished,omitzero"`
	Artifacts []ArtifactLink `json:"artifacts,omitempty"`
}

// ArtifactLink names an artifact and where it is staged, for lists.
type ArtifactLink struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

// Summary returns the build's summary.
func (b *Build) Summary() Summary {
	s := Summary{ID: b.ID, Type: b.Spec.Type, Arch: b.Spec.Arch, Release: b.Spec.Release, Owner: b.Owner,
		State: b.State, Stage: b.Stage, Created: b.Created, Started: b.Started, Finished: b.Finished}
	for _, a := range b.Artifacts {
		s.Artifacts = append(s.Artifacts, ArtifactLink{Name: a.Name, URL: a.URL})
	}
	return s
}

// Duration is Build.Duration for a summarized build.
func (s *Summary) Duration(now time.Time) time.Duration {
	return (&Build{Started: s.Started, Finished: s.Finished}).Duration(now)
}

// Duration is how long the build ran, or has run so far.
func (b *Build) Duration(now time.Time) time.Duration {
	switch {
	case b.Started.IsZero():
		return 0
	case b.Finished.IsZero():
		return now.Sub(b.Started)
	}
	return b.Finished.Sub(b.Started)
}
