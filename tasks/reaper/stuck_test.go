package reaper_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/reaper"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

// waitingBuild returns a build of attempt 1 that waits for a transfer
// retry from host, with its retry task queued there.
func waitingBuild(t *testing.T, st *builds.Store, queue *asynq.Client, host string) *tasks.Build {
	t.Helper()
	ctx := context.Background()
	b := runningBuild(t, st, 1)
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	b, err := st.Update(ctx, b.ID, func(b *tasks.Build) error {
		b.Stage, b.Worker = tasks.StageTransfer, host
		b.Waiting, b.WaitingUntil = "transfer failed; retrying from "+host, until
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	task, err := tasks.NewTransferTask(tasks.TransferPayload{ID: b.ID, Until: until, Attempt: 1},
		tasks.TransferTask{Host: host, Attempt: 1, Timeout: time.Hour, Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := queue.EnqueueContext(ctx, task); err != nil {
		t.Fatal(err)
	}
	return b
}

// reapUntil reaps until cond holds, for up to 20 s.
func reapUntil(t *testing.T, r *reaper.Reaper, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := r.Reap(context.Background()); err != nil {
			t.Fatalf("reap: %v", err)
		}
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReaperEndsWaitForGoneHost: a build waiting for a transfer retry
// from a host that sends no heartbeat is lost once HostGone has passed
// (before, it waited forever: the reaper left every transfer wait alone),
// as lost_builds says; a build waiting on a host that is alive is left to
// it.
func TestReaperEndsWaitForGoneHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		policy tasks.LostPolicy
		want   tasks.State
	}{
		{"requeue", tasks.LostRequeue, tasks.StateQueued},
		{"fail", tasks.LostFail, tasks.StateFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rdb := redistest.Start(t).Client()
			st := builds.NewStore(rdb)
			queue := asynq.NewClientFromRedisClient(rdb)
			insp := asynq.NewInspectorFromRedisClient(rdb)
			gone := waitingBuild(t, st, queue, "gonehost")
			kept := waitingBuild(t, st, queue, "alivehost")
			if err := st.Heartbeat(ctx, &builds.WorkerInfo{ID: "alivehost/1", Host: "alivehost"}, time.Minute); err != nil {
				t.Fatal(err)
			}
			r := newReaper(t, rdb, reaper.Config{LostBuilds: tc.policy, BuildTimeout: time.Hour, HostGone: 300 * time.Millisecond})
			start := time.Now()
			var got *tasks.Build
			reapUntil(t, r, "the wait for gonehost to end", func() bool {
				b, err := st.Get(ctx, gone.ID)
				if err != nil {
					t.Fatal(err)
				}
				got = b
				return b.State != tasks.StateRunning
			})
			if waited := time.Since(start); waited < 300*time.Millisecond {
				t.Errorf("the wait ended after %s; want HostGone (300ms) at least", waited)
			}
			if got.State != tc.want || got.Waiting != "" || !got.WaitingUntil.IsZero() {
				t.Errorf("build waiting on a gone host: state %s waiting %q until %v; want %s, no longer waiting", got.State, got.Waiting, got.WaitingUntil, tc.want)
			}
			const why = "worker lost: gonehost sent no heartbeat"
			switch tc.want {
			case tasks.StateQueued:
				if len(got.Events) != 1 || !strings.Contains(got.Events[0], why) || got.TaskID != gone.ID+"-2" {
					t.Errorf("re-queued build: events %q task %s; want the reason and task %s-2", got.Events, got.TaskID, gone.ID)
				}
				if info, err := insp.GetTaskInfo(got.Queue, got.TaskID); err != nil || info.State != asynq.TaskStatePending {
					t.Errorf("re-queued build's task: %+v, %v; want it pending", info, err)
				}
			case tasks.StateFailed:
				if !strings.Contains(got.Error, why) || got.Finished.IsZero() {
					t.Errorf("failed build: error %q finished %v; want the reason", got.Error, got.Finished)
				}
			}
			if b, err := st.Get(ctx, kept.ID); err != nil || b.State != tasks.StateRunning || b.Waiting == "" || len(b.Events) != 0 {
				t.Errorf("build waiting on a live host: %+v, %v; want it left waiting", b, err)
			}
		})
	}
}

// TestReaperReschedulesLostTransferRetry: a build waits for a transfer
// retry whose task is gone (archived: dropped while Redis was away): the
// reaper schedules it again on the same host, with the same window.
func TestReaperReschedulesLostTransferRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	st := builds.NewStore(rdb)
	queue := asynq.NewClientFromRedisClient(rdb)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	if err := st.Heartbeat(ctx, &builds.WorkerInfo{ID: "host1/1", Host: "host1"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	b := waitingBuild(t, st, queue, "host1")
	kept := waitingBuild(t, st, queue, "host1")
	tq, tid := tasks.TransferQueue("host1"), tasks.TransferTaskID(b.ID, 1)
	if err := insp.ArchiveTask(tq, tid); err != nil {
		t.Fatal(err)
	}
	r := newReaper(t, rdb, reaper.Config{BuildTimeout: time.Hour, TaskGone: 200 * time.Millisecond})
	var info *asynq.TaskInfo
	reapUntil(t, r, "the transfer retry to be scheduled again", func() bool {
		i, err := insp.GetTaskInfo(tq, tid)
		info = i
		return err == nil && i.State != asynq.TaskStateArchived
	})
	var tp tasks.TransferPayload
	if err := json.Unmarshal(info.Payload, &tp); err != nil || tp.Attempt != 1 || !tp.Until.Equal(b.WaitingUntil) || info.State != asynq.TaskStatePending {
		t.Errorf("task scheduled again: %s in state %s (%v); want pending, attempt 1 until %v", info.Payload, info.State, err, b.WaitingUntil)
	}
	got, err := st.Get(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != tasks.StateRunning || got.Waiting == "" || len(got.Events) != 1 || !strings.Contains(got.Events[0], "transfer retry task on host1 was lost") {
		t.Errorf("record: state %s waiting %q events %q; want still waiting, the event noted", got.State, got.Waiting, got.Events)
	}
	if info, err := insp.GetTaskInfo(tq, tasks.TransferTaskID(kept.ID, 1)); err != nil || info.State != asynq.TaskStateScheduled {
		t.Errorf("the other build's retry: %+v, %v; want it left scheduled", info, err)
	}
}

// TestReaperRequeuesQueuedBuildWithoutTask: a queued build whose task was
// archived (asynq's recoverer archives a build task whose worker was
// stopped while Redis was away, since builds have no retries) would stay
// queued forever; the reaper queues it again under a new task.
func TestReaperRequeuesQueuedBuildWithoutTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	st := builds.NewStore(rdb)
	queue := asynq.NewClientFromRedisClient(rdb)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	queued := func() *tasks.Build {
		b := runningBuild(t, st, 1)
		b, err := st.Update(ctx, b.ID, func(b *tasks.Build) error {
			b.State, b.Stage = tasks.StateQueued, ""
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		data, err := st.Payload(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tasks.DecodePayload(data)
		if err != nil {
			t.Fatal(err)
		}
		task, err := tasks.NewBuildTask(p, b.TaskID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := queue.EnqueueContext(ctx, task); err != nil {
			t.Fatal(err)
		}
		return b
	}
	lost, kept := queued(), queued()
	if err := insp.ArchiveTask(lost.Queue, lost.TaskID); err != nil {
		t.Fatal(err)
	}
	r := newReaper(t, rdb, reaper.Config{BuildTimeout: time.Hour, TaskGone: 200 * time.Millisecond})
	var got *tasks.Build
	reapUntil(t, r, "the queued build to get a new task", func() bool {
		b, err := st.Get(ctx, lost.ID)
		if err != nil {
			t.Fatal(err)
		}
		got = b
		return b.TaskID != lost.TaskID
	})
	if info, err := insp.GetTaskInfo(got.Queue, got.TaskID); err != nil || info.State != asynq.TaskStatePending {
		t.Errorf("new task %s: %+v, %v; want it pending", got.TaskID, info, err)
	}
	if got.State != tasks.StateQueued || len(got.Events) != 1 || !strings.Contains(got.Events[0], "was lost; queued again") {
		t.Errorf("record: state %s events %q; want queued, the event noted", got.State, got.Events)
	}
	if b, err := st.Get(ctx, kept.ID); err != nil || b.TaskID != kept.TaskID || len(b.Events) != 0 {
		t.Errorf("queued build with its task: %+v, %v; want it left alone", b, err)
	}
}
