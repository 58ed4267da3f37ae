package tasks_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

// TestNewTasks enqueues a task of each constructor into a real Redis and
// checks what asynq holds: the queue, task ID, retries, timeout, retention
// and payload each kind of task is made with.
func TestNewTasks(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	q := asynq.NewClientFromRedisClient(srv.Client())
	t.Cleanup(func() { q.Close() })
	insp := asynq.NewInspectorFromRedisClient(srv.Client())
	t.Cleanup(func() { insp.Close() })

	id := tasks.NewBuildID()
	p := &tasks.Payload{ID: id, Spec: validSpec(), Kickstart: "text\n", Owner: "alice",
		SubmittedAt: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	until := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	made := func(t *asynq.Task, err error) func() (*asynq.Task, error) {
		return func() (*asynq.Task, error) { return t, err }
	}
	type want struct {
		Type, Queue, ID string
		MaxRetry        int
		Timeout         time.Duration
		Retention       time.Duration
		State           asynq.TaskState
		Payload         any
	}
	tests := []struct {
		name string
		make func() (*asynq.Task, error)
		want want
		// decode reads the payload back for comparison with want.Payload.
		decode func([]byte) (any, error)
	}{
		{
			name:   "build",
			make:   made(tasks.NewBuildTask(p, id, 6*time.Hour)),
			want:   want{tasks.TypeBuild, "build:x86_64:41", id, 0, 6 * time.Hour, 24 * time.Hour, asynq.TaskStatePending, p},
			decode: func(b []byte) (any, error) { return tasks.DecodePayload(b) },
		},
		{
			name:   "build re-queued",
			make:   made(tasks.NewBuildTask(p, id+"-2", time.Hour)),
			want:   want{tasks.TypeBuild, "build:x86_64:41", id + "-2", 0, time.Hour, 24 * time.Hour, asynq.TaskStatePending, p},
			decode: func(b []byte) (any, error) { return tasks.DecodePayload(b) },
		},
		{
			name: "transfer now",
			make: made(tasks.NewTransferTask(tasks.TransferPayload{ID: id, Until: until},
				tasks.TransferTask{Host: "builder1", Attempt: 1, Timeout: 6 * time.Hour})),
			want: want{tasks.TypeTransfer, "transfer:builder1", id + ":transfer:1", 10000, 6 * time.Hour, 24 * time.Hour, asynq.TaskStatePending,
				tasks.TransferPayload{ID: id, Until: until}},
			decode: decodeTransfer,
		},
		{
			name: "transfer later",
			make: made(tasks.NewTransferTask(tasks.TransferPayload{ID: id, Until: until},
				tasks.TransferTask{Host: "builder1", Attempt: 2, Timeout: time.Hour, Delay: time.Hour})),
			want: want{tasks.TypeTransfer, "transfer:builder1", id + ":transfer:2", 10000, time.Hour, 24 * time.Hour, asynq.TaskStateScheduled,
				tasks.TransferPayload{ID: id, Until: until}},
			decode: decodeTransfer,
		},
		{
			name: "notify",
			make: made(tasks.NewNotifyTask(id, tasks.MailFinished)),
			want: want{tasks.TypeNotify, tasks.NotifyQueue, id + ":finished", tasks.NotifyMaxRetry, 5 * time.Minute, tasks.NotifyRetention, asynq.TaskStatePending,
				tasks.NotifyPayload{ID: id, Kind: tasks.MailFinished}},
			decode: func(b []byte) (any, error) { return tasks.DecodeNotifyPayload(b) },
		},
	}
	for _, tc := range tests {
		task, err := tc.make()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		info, err := q.Enqueue(task)
		if err != nil {
			t.Fatalf("%s: enqueue: %v", tc.name, err)
		}
		if info, err = insp.GetTaskInfo(info.Queue, info.ID); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		pl, err := tc.decode(info.Payload)
		if err != nil {
			t.Fatalf("%s: payload: %v", tc.name, err)
		}
		got := want{info.Type, info.Queue, info.ID, info.MaxRetry, info.Timeout, info.Retention, info.State, pl}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: task (-want +got):\n%s", tc.name, diff)
		}
	}
}

func decodeTransfer(b []byte) (any, error) {
	var tp tasks.TransferPayload
	err := json.Unmarshal(b, &tp)
	return tp, err
}

// TestNewTaskRefuses checks that a constructor refuses what would make a
// task no handler can take.
func TestNewTaskRefuses(t *testing.T) {
	t.Parallel()
	id := tasks.NewBuildID()
	task, err := tasks.NewNotifyTask(id, tasks.MailFinished)
	if err != nil {
		t.Fatal(err)
	}
	if task.Type() != tasks.TypeNotify {
		t.Errorf("type %q", task.Type())
	}
	for name, bad := range map[string]func() error{
		"notify: bad id":   func() error { _, err := tasks.NewNotifyTask("../x", tasks.MailSubmitted); return err },
		"notify: bad kind": func() error { _, err := tasks.NewNotifyTask(id, "started"); return err },
		"transfer: bad id": func() error {
			_, err := tasks.NewTransferTask(tasks.TransferPayload{ID: "x"}, tasks.TransferTask{Host: "h"})
			return err
		},
	} {
		if err := bad(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRetrySpan checks the default schedule of notifications: retries for
// about a day.
func TestRetrySpan(t *testing.T) {
	t.Parallel()
	var total time.Duration
	for n := range tasks.NotifyMaxRetry {
		total += tasks.NotifyRetryDelay(n)
	}
	if total < 23*time.Hour || total > 25*time.Hour {
		t.Errorf("%d retries span %v, want about 24h", tasks.NotifyMaxRetry, total)
	}
	if d := tasks.NotifyRetryDelay(0); d != 30*time.Second {
		t.Errorf("first retry after %v", d)
	}
	if d := tasks.NotifyRetryDelay(100); d != time.Hour {
		t.Errorf("late retry after %v, want the 1h cap", d)
	}
}

// TestNotifyBackoff checks the schedule [smtp] retry_backoff sets: from
// the first wait, doubling, at most an hour.
func TestNotifyBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		first time.Duration
		n     int
		want  time.Duration
	}{
		{time.Second, 0, time.Second},
		{time.Second, 1, 2 * time.Second},
		{time.Second, 3, 8 * time.Second},
		{time.Second, 30, time.Hour},
		{45 * time.Minute, 1, time.Hour},
		{2 * time.Hour, 0, time.Hour},
	}
	for _, tt := range tests {
		if got := tasks.NotifyBackoff(tt.first)(tt.n); got != tt.want {
			t.Errorf("NotifyBackoff(%v)(%d) = %v, want %v", tt.first, tt.n, got, tt.want)
		}
	}
}
