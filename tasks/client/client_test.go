package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

func payload() *tasks.Payload {
	return &tasks.Payload{Owner: "alice", Kickstart: "text\n", KickstartName: "x.ks",
		Spec: tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "41", Staging: "file:///srv/staging",
			KSISO: &tasks.KSISOSpec{ISO: "boot.iso", Config: "x.ks"}}}
}

func setup(t *testing.T) (*client.Client, *asynq.Inspector) {
	t.Helper()
	rdb := redistest.Start(t).Client()
	c := client.New(rdb, client.Config{BuildTimeout: 2 * time.Hour})
	t.Cleanup(func() { c.Close() })
	return c, c.Inspector()
}

func TestSubmit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, insp := setup(t)
	b, err := c.Submit(ctx, payload())
	if err != nil {
		t.Fatal(err)
	}
	if b.State != tasks.StateQueued || b.Queue != "build:x86_64:41" || b.TaskID != b.ID {
		t.Errorf("record: %+v", b)
	}
	info, err := insp.GetTaskInfo("build:x86_64:41", b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.MaxRetry != 0 || info.Timeout != 2*time.Hour || info.State != asynq.TaskStatePending {
		t.Errorf("task: max retry %d timeout %s state %v; want 0, 2h, pending", info.MaxRetry, info.Timeout, info.State)
	}
	got, err := tasks.DecodePayload(info.Payload)
	if err != nil || got.Kickstart != "text\n" {
		t.Errorf("payload on the queue: %+v %v", got, err)
	}
}

func TestSubmitInvalidNothingEnqueued(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, insp := setup(t)
	p := payload()
	p.Spec.Arch = "sparc"
	if _, err := c.Submit(ctx, p); err == nil {
		t.Fatal("invalid spec submitted")
	}
	p = payload()
	p.Spec.Email = "alice@@example..org"
	if _, err := c.Submit(ctx, p); err == nil || !strings.Contains(err.Error(), "email") {
		t.Fatalf("invalid recipient submitted: %v", err)
	}
	if bs, _ := c.List(ctx, builds.ListOptions{}); len(bs) != 0 {
		t.Errorf("%d records after a refused submit", len(bs))
	}
	if qs, _ := insp.Queues(); len(qs) != 0 {
		t.Errorf("queues after a refused submit: %v", qs)
	}
}

// TestSubmitEnqueueFailsLeavesNothing makes the enqueue fail after the
// record was written (a task with the same ID is already queued) and checks
// the record is gone again.
func TestSubmitEnqueueFailsLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := setup(t)
	p := payload()
	p.ID = tasks.NewBuildID()
	q := asynq.NewClientFromRedisClient(c.Redis())
	defer q.Close()
	if _, err := q.Enqueue(asynq.NewTask("other", nil, asynq.Queue(p.Spec.Queue()), asynq.TaskID(p.ID))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Submit(ctx, p); err == nil {
		t.Fatal("Submit succeeded despite a task ID conflict")
	}
	if _, err := c.Get(ctx, p.ID); !errors.Is(err, builds.ErrNotFound) {
		t.Errorf("record left after a failed enqueue: %v", err)
	}
}

func TestCancelQueuedAndFinished(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, insp := setup(t)
	b, err := c.Submit(ctx, payload())
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Cancel(ctx, b.ID)
	if err != nil || got.State != tasks.StateCancelled || !got.CancelRequested {
		t.Fatalf("Cancel = %+v, %v", got, err)
	}
	if _, err := insp.GetTaskInfo(b.Queue, b.ID); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("cancelled build's task still queued: %v", err)
	}
	if _, err := c.Cancel(ctx, b.ID); !errors.Is(err, client.ErrFinished) {
		t.Errorf("second Cancel: %v, want ErrFinished", err)
	}
	if _, err := c.Cancel(ctx, tasks.NewBuildID()); !errors.Is(err, builds.ErrNotFound) {
		t.Errorf("Cancel of an unknown build: %v", err)
	}
	// Followers of a cancelled build stop.
	state, err := c.Follow(ctx, b.ID, 0, func(builds.LogLine) error { return nil })
	if err != nil || state != tasks.StateCancelled {
		t.Errorf("Follow = %s, %v", state, err)
	}
}

func TestConnectRedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	url := srv.URL
	srv.Stop()
	if _, err := client.ConnectRedis(context.Background(), url); err == nil {
		t.Fatal("Connect to a stopped Redis succeeded")
	}
	if _, err := client.ConnectRedis(context.Background(), "http://nope"); err == nil {
		t.Fatal("Connect accepted an http URL")
	}
}

func TestSubmitQueuesMails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, insp := setup(t)
	p := payload()
	p.Spec.Email = "alice@example.org"
	b, err := c.Submit(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := insp.GetTaskInfo(tasks.NotifyQueue, tasks.NotifyTaskID(b.ID, tasks.MailSubmitted)); err != nil {
		t.Errorf("no submission mail queued: %v", err)
	}
	if _, err := c.Cancel(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := insp.GetTaskInfo(tasks.NotifyQueue, tasks.NotifyTaskID(b.ID, tasks.MailFinished)); err != nil {
		t.Errorf("no completion mail queued for the cancelled build: %v", err)
	}

	// A submit that fails after queuing the mail takes the mail back.
	p = payload()
	p.Spec.Email = "alice@example.org"
	p.ID = tasks.NewBuildID()
	q := asynq.NewClientFromRedisClient(c.Redis())
	defer q.Close()
	if _, err := q.Enqueue(asynq.NewTask("other", nil, asynq.Queue(p.Spec.Queue()), asynq.TaskID(p.ID))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Submit(ctx, p); err == nil {
		t.Fatal("Submit succeeded despite a task ID conflict")
	}
	if _, err := insp.GetTaskInfo(tasks.NotifyQueue, tasks.NotifyTaskID(p.ID, tasks.MailSubmitted)); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("submission mail of a failed submit left queued: %v", err)
	}
}
