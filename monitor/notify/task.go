package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks"
)

// TypeNotify is the asynq task type of a notification mail.
const TypeNotify = "fbs:notify"

// Queue is the asynq queue notification tasks go to; the monitor serves it.
const Queue = "notify"

// Kind says which mail of a build a task sends.
type Kind string

// The two mails of a build.
const (
	// KindSubmitted is sent once the build is queued.
	KindSubmitted Kind = "submitted"
	// KindFinished is sent once the build reached a final state.
	KindFinished Kind = "finished"
)

// Valid reports whether k is one of the known kinds.
func (k Kind) Valid() bool { return k == KindSubmitted || k == KindFinished }

// MaxRetry is how many times a notification is retried: with
// DefaultRetryDelay the retries span a little over 24 hours.
const MaxRetry = 30

// Retention is how long a finished notification task stays visible in
// asynq (and keeps its task ID taken, so a second enqueue is a conflict).
const Retention = 7 * 24 * time.Hour

// taskTimeout bounds one attempt, well above the send timeout.
const taskTimeout = 5 * time.Minute

// DefaultRetryDelay is the wait before retry n+1 (n counts from 0): 30 s,
// doubling, at most an hour. MaxRetry retries of it last about a day.
func DefaultRetryDelay(n int) time.Duration {
	d := 30 * time.Second
	for i := 0; i < n && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// payload is what a notification task carries: the build is read when the
// mail is sent, so the mail tells the build's state at that time.
type payload struct {
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
}

// TaskID is the asynq task ID of the kind mail of build id.
func TaskID(id string, kind Kind) string { return id + ":" + string(kind) }

// NewTask returns the task that sends the kind mail of build id. Its task
// ID is "<id>:<kind>", so enqueueing it twice gives asynq.ErrTaskIDConflict,
// which callers treat as done (Enqueue does).
func NewTask(id string, kind Kind) (*asynq.Task, error) {
	if !tasks.ValidBuildID(id) {
		return nil, fmt.Errorf("notification task: bad build ID %q", id)
	}
	if !kind.Valid() {
		return nil, fmt.Errorf("notification task for build %s: unknown kind %q", id, kind)
	}
	data, err := json.Marshal(payload{ID: id, Kind: kind})
	if err != nil {
		return nil, fmt.Errorf("encode notification task for build %s: %w", id, err)
	}
	return asynq.NewTask(TypeNotify, data,
		asynq.Queue(Queue), asynq.TaskID(TaskID(id, kind)),
		asynq.MaxRetry(MaxRetry), asynq.Retention(Retention), asynq.Timeout(taskTimeout),
	), nil
}

// Enqueue queues the kind mail of build id through c. A mail already
// queued or sent (a task ID conflict) is not an error.
func Enqueue(ctx context.Context, c *asynq.Client, id string, kind Kind) error {
	t, err := NewTask(id, kind)
	if err != nil {
		return err
	}
	_, err = c.EnqueueContext(ctx, t)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("queue %s mail of build %s: %w", kind, id, err)
	}
	return nil
}

func decodePayload(b []byte) (payload, error) {
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("decode notification task: %w", err)
	}
	if !tasks.ValidBuildID(p.ID) {
		return p, fmt.Errorf("decode notification task: bad build ID %q", p.ID)
	}
	if !p.Kind.Valid() {
		return p, fmt.Errorf("decode notification task for build %s: unknown kind %q", p.ID, p.Kind)
	}
	return p, nil
}
