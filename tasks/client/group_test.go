package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
)

// groupPayloads returns the payloads of a group for arches, as
// submission.Prepare makes them.
func groupPayloads(arches ...string) []*tasks.Payload {
	group := tasks.NewBuildID()
	out := make([]*tasks.Payload, len(arches))
	for i, a := range arches {
		p := payload()
		p.ID, p.Group, p.Spec.Arch, p.Spec.Email = tasks.NewBuildID(), group, a, "alice@example.org"
		out[i] = p
	}
	return out
}

func TestSubmitGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, insp := setup(t)
	ps := groupPayloads("x86_64", "aarch64", "ppc64le")
	gs, err := c.SubmitGroup(ctx, ps)
	if err != nil {
		t.Fatal(err)
	}
	if gs.ID != ps[0].Group || gs.State != tasks.StateQueued || len(gs.Builds) != 3 {
		t.Fatalf("group %+v", gs)
	}
	for i, p := range ps {
		b, err := c.Get(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if b.Group != gs.ID || b.Queue != "build:"+p.Spec.Arch+":41" || b.State != tasks.StateQueued || gs.Builds[i].ID != p.ID {
			t.Errorf("member %d: %+v", i, b)
		}
		info, err := insp.GetTaskInfo(b.Queue, b.ID)
		if err != nil {
			t.Fatalf("member %s not queued: %v", p.Spec.Arch, err)
		}
		if got, err := tasks.DecodePayload(info.Payload); err != nil || got.Group != gs.ID || got.Spec.Arch != p.Spec.Arch {
			t.Errorf("payload on the queue: %+v %v", got, err)
		}
		// No mail of its own: the group's.
		if _, err := insp.GetTaskInfo(tasks.NotifyQueue, tasks.NotifyTaskID(p.ID, tasks.MailSubmitted)); !errors.Is(err, asynq.ErrTaskNotFound) {
			t.Errorf("member %s has a submission mail of its own: %v", p.Spec.Arch, err)
		}
	}
	if _, err := insp.GetTaskInfo(tasks.NotifyQueue, tasks.NotifyTaskID(gs.ID, tasks.MailGroupSubmitted)); err != nil {
		t.Errorf("no group submission mail queued: %v", err)
	}
	got, err := c.Group(ctx, gs.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(gs, got); diff != "" {
		t.Errorf("Group (-submitted +read):\n%s", diff)
	}
}

// TestSubmitGroupAllOrNone makes the third member's enqueue fail (a task
// with its ID is already on its queue) and checks the first two are taken
// off their queues and every record, and the group's mail, are gone.
func TestSubmitGroupAllOrNone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, insp := setup(t)
	ps := groupPayloads("x86_64", "aarch64", "ppc64le")
	q := asynq.NewClientFromRedisClient(c.Redis())
	defer q.Close()
	if _, err := q.Enqueue(asynq.NewTask("other", nil, asynq.Queue(ps[2].Spec.Queue()), asynq.TaskID(ps[2].ID))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubmitGroup(ctx, ps); err == nil {
		t.Fatal("SubmitGroup succeeded despite a task ID conflict on its third build")
	}
	for _, p := range ps[:2] {
		if _, err := insp.GetTaskInfo(p.Spec.Queue(), p.ID); !errors.Is(err, asynq.ErrTaskNotFound) {
			t.Errorf("build %s left on its queue: %v", p.Spec.Arch, err)
		}
	}
	for _, p := range ps {
		if _, err := c.Get(ctx, p.ID); !errors.Is(err, builds.ErrNotFound) {
			t.Errorf("record of build %s left: %v", p.Spec.Arch, err)
		}
	}
	if _, err := c.Group(ctx, ps[0].Group); !errors.Is(err, builds.ErrNotFound) {
		t.Errorf("group record left: %v", err)
	}
	if _, err := insp.GetTaskInfo(tasks.NotifyQueue, tasks.NotifyTaskID(ps[0].Group, tasks.MailGroupSubmitted)); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("group submission mail left queued: %v", err)
	}
	if bs, _ := c.List(ctx, builds.ListOptions{}); len(bs) != 0 {
		t.Errorf("%d records after a failed group submission", len(bs))
	}
}

func TestSubmitGroupRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := setup(t)
	tests := map[string]func([]*tasks.Payload){
		"one build":      func(ps []*tasks.Payload) {},
		"arch twice":     func(ps []*tasks.Payload) { ps[1].Spec.Arch = ps[0].Spec.Arch },
		"several arches": func(ps []*tasks.Payload) { ps[1].Spec.Arch = "aarch64,ppc64le" },
		"other group":    func(ps []*tasks.Payload) { ps[1].Group = tasks.NewBuildID() },
		"other owner":    func(ps []*tasks.Payload) { ps[1].Owner = "bob" },
		"other email":    func(ps []*tasks.Payload) { ps[1].Spec.Email = "bob@example.org" },
	}
	for name, modify := range tests {
		ps := groupPayloads("x86_64", "aarch64")
		modify(ps)
		if name == "one build" {
			ps = ps[:1]
		}
		if _, err := c.SubmitGroup(ctx, ps); err == nil {
			t.Errorf("%s: SubmitGroup accepted it", name)
		}
	}
	if bs, _ := c.List(ctx, builds.ListOptions{}); len(bs) != 0 {
		t.Errorf("%d records after refused groups", len(bs))
	}
	// A build naming several arches goes through SubmitGroup, not Submit.
	p := payload()
	p.Spec.Arch = "x86_64,aarch64"
	if _, err := c.Submit(ctx, p); err == nil {
		t.Error("Submit took a payload naming two arches")
	}
}

// TestGroupCancelAndMail cancels a group with one member ended and checks
// the rest are cancelled, and that one completion mail is queued for the
// group, only once every member has ended, and none for a member.
func TestGroupCancelAndMail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, insp := setup(t)
	ps := groupPayloads("x86_64", "aarch64", "ppc64le")
	gs, err := c.SubmitGroup(ctx, ps)
	if err != nil {
		t.Fatal(err)
	}
	groupMail := tasks.NotifyTaskID(gs.ID, tasks.MailGroupFinished)
	// The first member ends on its own: no mail yet.
	first, err := c.Cancel(ctx, ps[0].ID)
	if err != nil || first.State != tasks.StateCancelled {
		t.Fatalf("Cancel = %+v, %v", first, err)
	}
	if _, err := insp.GetTaskInfo(tasks.NotifyQueue, groupMail); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("group mail queued while two builds are queued: %v", err)
	}
	// One member runs: cancelling it only asks its worker.
	if _, err := c.Store().Update(ctx, ps[1].ID, func(b *tasks.Build) error {
		b.State, b.Started = tasks.StateRunning, time.Now().UTC()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := c.CancelGroup(ctx, gs.ID)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]tasks.State{}
	for _, b := range got.Builds {
		states[b.Spec.Arch] = b.State
	}
	want := map[string]tasks.State{"x86_64": tasks.StateCancelled, "aarch64": tasks.StateRunning, "ppc64le": tasks.StateCancelled}
	if diff := cmp.Diff(want, states); diff != "" {
		t.Errorf("states after CancelGroup (-want +got):\n%s", diff)
	}
	if got.State != tasks.StateRunning || !got.Builds[1].CancelRequested {
		t.Errorf("group %s, running member cancel requested %v", got.State, got.Builds[1].CancelRequested)
	}
	if _, err := insp.GetTaskInfo(tasks.NotifyQueue, groupMail); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("group mail queued while a build runs: %v", err)
	}
	// Its worker ends it, as the worker does: state stored, then Notify.
	b, err := c.Store().Update(ctx, ps[1].ID, func(b *tasks.Build) error {
		b.State, b.Finished = tasks.StateCancelled, time.Now().UTC()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	q := asynq.NewClientFromRedisClient(c.Redis())
	defer q.Close()
	for range 2 { // twice, as two monitors might: one mail
		if err := client.Notify(ctx, q, c.Store(), b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := insp.GetTaskInfo(tasks.NotifyQueue, groupMail); err != nil {
		t.Errorf("no group mail once every build ended: %v", err)
	}
	for _, p := range ps {
		if _, err := insp.GetTaskInfo(tasks.NotifyQueue, tasks.NotifyTaskID(p.ID, tasks.MailFinished)); !errors.Is(err, asynq.ErrTaskNotFound) {
			t.Errorf("build %s has a completion mail of its own: %v", p.Spec.Arch, err)
		}
	}
	if got, err := c.Group(ctx, gs.ID); err != nil || got.State != tasks.StateCancelled {
		t.Errorf("group after all ended: %v, %v", got, err)
	}
	if _, err := c.CancelGroup(ctx, tasks.NewBuildID()); !errors.Is(err, builds.ErrNotFound) {
		t.Errorf("CancelGroup of an unknown group: %v", err)
	}
}
