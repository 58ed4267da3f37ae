package tasks

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
)

// The three kinds of task fbs queues, and how each is made. Every task of
// fbs is built by one of the constructors below: its type, queue, ID,
// retries, timeout and retention are decided here and nowhere else. They
// make values only; tasks/client (and the worker and reaper with their own
// asynq clients) enqueue them.

// Task types, as asynq names them. They are task names, not Redis keys.
const (
	// TypeBuild is the task type of an image build.
	TypeBuild = "fbs:build"
	// TypeTransfer is the task type of a retried transfer to staging: it
	// runs on the worker host that holds the images, in its TransferQueue.
	TypeTransfer = "fbs:transfer"
	// TypeNotify is the task type of a notification mail.
	TypeNotify = "fbs:notify"
)

// QueueName is the asynq queue that builds for arch and release go to.
func QueueName(arch, release string) string {
	return "build:" + arch + ":" + release
}

// ParseQueueName splits a queue name made by QueueName.
func ParseQueueName(q string) (arch, release string, err error) {
	parts := strings.Split(q, ":")
	if len(parts) != 3 || parts[0] != "build" || !ValidArch(parts[1]) || !ValidRelease(parts[2]) {
		return "", "", fmt.Errorf("not a build queue name: %q", q)
	}
	return parts[1], parts[2], nil
}

// TransferQueue is the queue of the transfer retries of worker host.
func TransferQueue(host string) string { return "transfer:" + host }

// NotifyQueue is the asynq queue notification tasks go to; the monitor serves it.
const NotifyQueue = "notify"

// buildRetention is how long a finished build or transfer task stays
// inspectable in asynq.
const buildRetention = 24 * time.Hour

// NewBuildTask returns the task that runs build p: on p's queue, with task
// ID taskID (the build ID, or the build ID with a suffix once the reaper
// queued it again), the asynq timeout timeout, no retries (a failed or
// cancelled build is final; a build whose worker died is re-queued by the
// reaper, not by asynq), and a day of retention so the task stays
// inspectable. The task's payload is p encoded.
func NewBuildTask(p *Payload, taskID string, timeout time.Duration) (*asynq.Task, error) {
	data, err := p.Encode()
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeBuild, data,
		asynq.Queue(p.Spec.Queue()),
		asynq.TaskID(taskID),
		asynq.MaxRetry(0),
		asynq.Timeout(timeout),
		asynq.Retention(buildRetention),
	), nil
}

// TransferPayload is what a transfer retry task carries.
type TransferPayload struct {
	ID string `json:"id"`
	// Until is when the retries give up and the build fails.
	Until time.Time `json:"until"`
	// Attempt is the build's attempt whose images are transferred: a
	// retry of an attempt the record has moved on from does nothing.
	// Zero in tasks of an older fbs; their task ID names it.
	Attempt int `json:"attempt,omitempty"`
}

// TransferTask says where and how a transfer retry runs.
type TransferTask struct {
	// Host is the worker host that holds the images; the task goes to its
	// TransferQueue.
	Host string
	// Attempt is the build's attempt whose images are transferred; it
	// makes the task ID "<build>:transfer:<attempt>".
	Attempt int
	// Timeout bounds one run of the task (the build timeout).
	Timeout time.Duration
	// Delay is the wait before the first retry.
	Delay time.Duration
}

// transferMaxRetry lets asynq retry a transfer for as long as the payload's
// Until allows; the handler gives up at Until, not asynq.
const transferMaxRetry = 10000

// TransferTaskID is the asynq task ID of the transfer retries of build
// id's attempt: "<id>:transfer:<attempt>". A cancel signals it as well as
// the build's own task, since it is what runs while a transfer is retried.
func TransferTaskID(id string, attempt int) string {
	return id + ":transfer:" + strconv.Itoa(attempt)
}

// NewTransferTask returns the task that retries the transfer of build p.ID
// on the host that holds its images.
func NewTransferTask(p TransferPayload, t TransferTask) (*asynq.Task, error) {
	if !ValidBuildID(p.ID) {
		return nil, fmt.Errorf("transfer task: bad build ID %q", p.ID)
	}
	data, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode transfer task of build %s: %w", p.ID, err)
	}
	return asynq.NewTask(TypeTransfer, data,
		asynq.Queue(TransferQueue(t.Host)),
		asynq.TaskID(TransferTaskID(p.ID, t.Attempt)),
		asynq.MaxRetry(transferMaxRetry),
		asynq.Timeout(t.Timeout),
		asynq.Retention(buildRetention),
		asynq.ProcessIn(t.Delay),
	), nil
}

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
func NotifyRetryDelay(n int) time.Duration { return NotifyBackoff(30 * time.Second)(n) }

// NotifyBackoff returns the waits before retry n+1 (n counts from 0) that
// start at first and double, at most an hour ([smtp] retry_backoff).
func NotifyBackoff(first time.Duration) func(n int) time.Duration {
	return func(n int) time.Duration {
		d := first
		for i := 0; i < n && d < time.Hour; i++ {
			d *= 2
		}
		return min(d, time.Hour)
	}
}

// NotifyTaskID is the asynq task ID of the kind mail of build id.
func NotifyTaskID(id string, kind MailKind) string { return id + ":" + string(kind) }

// NewNotifyTask returns the task that sends the kind mail of build id. Its task
// ID is "<id>:<kind>", so enqueueing it twice gives asynq.ErrTaskIDConflict,
// which callers treat as done (client.EnqueueNotify does).
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

// TypeSchedule is the task type a schedule's scheduler enqueues at each
// fire time; the monitor's schedule runner handles it (it decides whether
// the schedule builds, and submits the build). It is a task name, not a
// Redis key.
const TypeSchedule = "fbs:schedule"

// ScheduleQueue is the asynq queue of schedule fires; the monitor serves it.
const ScheduleQueue = "schedule"

// scheduleTimeout bounds one run: preparing the spec (which may fetch a
// kickstart) and submitting the build.
const scheduleTimeout = 5 * time.Minute

// SchedulePayload is what a schedule's fire carries: the schedule alone.
// What the run builds is read from the schedule when it runs.
type SchedulePayload struct {
	Schedule string `json:"schedule"`
}

// NewScheduleTask returns the task a scheduler enqueues when schedule id
// fires. It has no task ID of its own (asynq's scheduler enqueues the same
// task at every fire), no retries (a failed run is recorded and the next
// fire is the retry) and no retention: the run's outcome is recorded in the
// schedule's runs, and a fire of several schedulers for one slot runs once
// because the handler claims the slot (tasks.ScheduleSlot).
func NewScheduleTask(id string) (*asynq.Task, error) {
	if !ValidScheduleID(id) {
		return nil, fmt.Errorf("schedule task: bad schedule ID %q", id)
	}
	data, err := json.Marshal(SchedulePayload{Schedule: id})
	if err != nil {
		return nil, fmt.Errorf("encode schedule task of %s: %w", id, err)
	}
	return asynq.NewTask(TypeSchedule, data,
		asynq.Queue(ScheduleQueue), asynq.MaxRetry(0), asynq.Timeout(scheduleTimeout),
	), nil
}
