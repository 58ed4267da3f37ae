package worker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/worker/pipeline"
)

// parkFixture is a worker on a real redis-server with append-only
// persistence (so a stop and start keeps what was written) and a build
// record running there.
type parkFixture struct {
	redis *redistest.Server
	rdb   *redis.Client
	store *builds.Store
	srv   *Server
	logs  *lockedBuffer
	b     *tasks.Build
	data  []byte // the build's payload
}

func newParkFixture(t *testing.T, attempt int) *parkFixture {
	t.Helper()
	ctx := context.Background()
	f := &parkFixture{redis: redistest.StartWith(t, redistest.Options{AppendOnly: true}), logs: &lockedBuffer{}}
	f.rdb = f.redis.Client()
	f.store = builds.NewStore(f.rdb)
	pipe, err := pipeline.New(pipeline.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	f.srv, err = New(f.rdb, pipe, Config{Releases: []string{"41"}, Host: "parker", LeaseTTL: 5 * time.Second,
		TransferRetryFor: time.Hour, Logger: slog.New(slog.NewTextHandler(f.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.srv.queue.Close() })
	p := &tasks.Payload{ID: tasks.NewBuildID(), Spec: tasks.Spec{
		Type: tasks.TypeLive, Arch: HostArch(), Release: "41", Staging: "file:///srv/staging",
		Live: &tasks.LiveSpec{Label: "Test", Config: "live.ks", Builder: tasks.BuilderLiveMedia},
	}, Kickstart: "text\n"}
	if f.data, err = p.Encode(); err != nil {
		t.Fatal(err)
	}
	f.b = &tasks.Build{ID: p.ID, Spec: p.Spec, State: tasks.StateRunning, Attempt: attempt, Worker: "parker",
		TaskID: p.ID, Stage: tasks.StageTransfer}
	if err := f.store.Create(ctx, f.b, f.data); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestParkWaitsForRedis fails a build's transfer while Redis is down (as
// in the chaos soak: "could not schedule a retry (... SADD failed ...)",
// the build failed for good although its images were fine): the worker now
// tries to schedule the retry until Redis is back, and the build waits for
// its transfer retry instead of failing.
func TestParkWaitsForRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newParkFixture(t, 1)
	run := f.srv.newBuildRun(ctx, f.b, "parker/1/"+f.b.ID, f.data, 0)
	defer run.done()

	f.redis.Shutdown()
	back := make(chan struct{})
	go func() {
		defer close(back)
		time.Sleep(4 * time.Second)
		f.redis.Revive()
	}()
	transferErr := &pipeline.StageError{Stage: tasks.StageTransfer, Err: errors.New("sftp: connection reset")}
	err := run.finish(ctx, &pipeline.Result{Built: true, OutDir: "/var/lib/fbs/builds/x/out"}, transferErr)
	<-back
	if err != nil {
		t.Fatalf("finish of a build whose transfer failed while Redis was down: %v; want it parked", err)
	}
	b, err := f.store.Get(ctx, f.b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b.State != tasks.StateRunning || !strings.Contains(b.Waiting, "connection reset") || b.WaitingUntil.IsZero() {
		t.Errorf("record: state %s waiting %q until %v; want running, waiting for a transfer retry with its end", b.State, b.Waiting, b.WaitingUntil)
	}
	insp := asynq.NewInspectorFromRedisClient(f.rdb)
	info, err := insp.GetTaskInfo(tasks.TransferQueue("parker"), tasks.TransferTaskID(f.b.ID, 1))
	if err != nil {
		t.Fatalf("transfer retry task: %v", err)
	}
	var tp tasks.TransferPayload
	if err := json.Unmarshal(info.Payload, &tp); err != nil || tp.Attempt != 1 || !tp.Until.Equal(b.WaitingUntil) {
		t.Errorf("transfer task payload %s (%v); want attempt 1 until %v", info.Payload, err, b.WaitingUntil)
	}
	if !strings.Contains(f.logs.String(), "Redis unavailable; trying again") {
		t.Errorf("worker log does not say it waited for Redis:\n%s", f.logs.String())
	}
}

// TestTransferRetryOutlivesRedisTrouble runs a transfer retry while Redis
// is down: the task must stay for asynq to retry, not be dropped
// (SkipRetry), which left the build waiting for a retry that no longer
// existed.
func TestTransferRetryOutlivesRedisTrouble(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newParkFixture(t, 1)
	task, err := f.srv.transferTask(f.b.ID, 1, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	f.redis.Shutdown()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = f.srv.processTransfer(rctx, task)
	f.redis.Revive()
	if err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Errorf("transfer retry with Redis down: %v; want an error asynq retries", err)
	}
}

// TestTransferRetryOfEarlierAttempt: a transfer retry made by attempt 1
// does nothing once the record is attempt 2's (re-queued while attempt 1's
// host was gone), even when attempt 2 waits for a transfer of its own.
func TestTransferRetryOfEarlierAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newParkFixture(t, 2)
	until := time.Now().Add(time.Hour).UTC()
	if _, err := f.store.Update(ctx, f.b.ID, func(b *tasks.Build) error {
		b.Waiting, b.WaitingUntil, b.Worker = "transfer failed; retrying from other", until, "other"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	task, err := f.srv.transferTask(f.b.ID, 1, until)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.srv.processTransfer(ctx, task); err != nil {
		t.Errorf("transfer retry of attempt 1: %v; want nothing done", err)
	}
	b, err := f.store.Get(ctx, f.b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b.Waiting == "" || b.Worker != "other" || b.Attempt != 2 {
		t.Errorf("record after attempt 1's retry: waiting %q worker %s attempt %d; want attempt 2 still waiting on other", b.Waiting, b.Worker, b.Attempt)
	}
	if h, _ := f.store.LeaseHolder(ctx, f.b.ID); h != "" {
		t.Errorf("lease held by %q; want none", h)
	}
}

// TestTransferAttempt reads the attempt of an older fbs's transfer task,
// whose payload does not carry it, from its task ID.
func TestTransferAttempt(t *testing.T) {
	id := "01M8ESHFSRX54WAFXDAZBKCMQ9"
	for _, tc := range []struct {
		taskID string
		want   int
	}{
		{tasks.TransferTaskID(id, 1), 1},
		{tasks.TransferTaskID(id, 2), 2},
		{"", 0},
		{id, 0},
		{tasks.TransferTaskID("01M8ESHN2JD4HT1PV810C2B0EY", 1), 0},
		{id + ":transfer:x", 0},
	} {
		if got := transferAttempt(id, tc.taskID); got != tc.want {
			t.Errorf("transferAttempt(%q) = %d; want %d", tc.taskID, got, tc.want)
		}
	}
}
