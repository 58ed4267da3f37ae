package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/hibiken/asynq"
)

// TypeNotify is the asynq task type of a notification mail.
const TypeNotify = "fbs:notify"

// NotifyQueue is the asynq queue notification tasks go to; the monitor serves it.
const NotifyQueue = "notify"

// MailKind says which mail of a build a task sends.
type MailKind string

// The two mails of a build.
const (
	// MailSubmitted is sent once the build is queued.
	MailSubmitted MailKind = "submitted"
	// MailFinished is sent once the build reached a final state.
	MailFinished MailKind = "finished"
)

// Valid reports whether k is one of the known kinds.
func (k MailKind) Valid() bool { return k == MailSubmitted || k == MailFinished }

// NotifyMaxRetry is how many times a notification is retried: with
// NotifyRetryDelay the retries span a little over 24 hours.
const NotifyMaxRetry = 30

// NotifyRetention is how long a finished notification task stays visible in
// asynq (and keeps its task ID taken, so a second enqueue is a conflict).
const NotifyRetention = 7 * 24 * time.Hour

// notifyTimeout bounds one attempt, well above the send timeout.
const notifyTimeout = 5 * time.Minute

// NotifyRetryDelay is the wait before retry n+1 (n counts from 0): 30 s,
// doubling, at most an hour. NotifyMaxRetry retries of it last about a day.
func NotifyRetryDelay(n int) time.Duration {
	d := 30 * time.Second
	for i := 0; i < n && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// NotifyPayload is what a notification task carries: the build is read when the
// mail is sent, so the mail tells the build's state at that time.
type NotifyPayload struct {
	ID   string   `json:"id"`
	Kind MailKind `json:"kind"`
}

// NotifyTaskID is the asynq task ID of the kind mail of build id.
func NotifyTaskID(id string, kind MailKind) string { return id + ":" + string(kind) }

// NewNotifyTask returns the task that sends the kind mail of build id. Its task
// ID is "<id>:<kind>", so enqueueing it twice gives asynq.ErrTaskIDConflict,
// which callers treat as done (EnqueueNotify does).
func NewNotifyTask(id string, kind MailKind) (*asynq.Task, error) {
	if !ValidBuildID(id) {
		return nil, fmt.Errorf("notification task: bad build ID %q", id)
	}
	if !kind.Valid() {
		return nil, fmt.Errorf("notification task for build %s: unknown kind %q", id, kind)
	}
	data, err := json.Marshal(NotifyPayload{ID: id, Kind: kind})
	if err != nil {
		return nil, fmt.Errorf("encode notification task for build %s: %w", id, err)
	}
	return asynq.NewTask(TypeNotify, data,
		asynq.Queue(NotifyQueue), asynq.TaskID(NotifyTaskID(id, kind)),
		asynq.MaxRetry(NotifyMaxRetry), asynq.Retention(NotifyRetention), asynq.Timeout(notifyTimeout),
	), nil
}

// EnqueueNotify queues the kind mail of build id through c. A mail already
// queued or sent (a task ID conflict) is not an error.
func EnqueueNotify(ctx context.Context, c *asynq.Client, id string, kind MailKind) error {
	t, err := NewNotifyTask(id, kind)
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

func DecodeNotifyPayload(b []byte) (NotifyPayload, error) {
	var p NotifyPayload
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("decode notification task: %w", err)
	}
	if !ValidBuildID(p.ID) {
		return p, fmt.Errorf("decode notification task: bad build ID %q", p.ID)
	}
	if !p.Kind.Valid() {
		return p, fmt.Errorf("decode notification task for build %s: unknown kind %q", p.ID, p.Kind)
	}
	return p, nil
}

// CheckEmail reports whether addr is a usable recipient for a build's
// Email: one mail address, with or without a display name (not a list), so
// a bad address is refused at submit time rather than found by the mailer.
// It is the one email rule of specs, forms and the API.
func CheckEmail(addr string) error {
	list, err := ParseRecipients(addr)
	if err != nil {
		return err
	}
	if len(list) != 1 {
		return fmt.Errorf("mail address %q: want one address, not %d", addr, len(list))
	}
	return nil
}

// ParseRecipients parses a build's Email into its addresses.
func ParseRecipients(addr string) ([]*mail.Address, error) {
	if strings.ContainsAny(addr, "\r\n") {
		return nil, fmt.Errorf("mail address %q: contains a line break", addr)
	}
	list, err := mail.ParseAddressList(addr)
	if err != nil {
		return nil, fmt.Errorf("mail address %q: %w", addr, err)
	}
	return list, nil
}
