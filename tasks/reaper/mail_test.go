package reaper_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/tasks/reaper"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

// TestReaperQueuesMailOfEndedBuild: a worker killed (or cut off from
// Redis for good) between storing a build's final state and queuing its
// completion mail left the build ended and the mail never queued; nothing
// looked for such builds (the chaos soak, seed 1795803070483203143). The
// final state's write now marks the build due a mail in the same
// transaction, Notify clears the mark, and the reaper queues the mail of
// a build still marked after MailGrace.
func TestReaperQueuesMailOfEndedBuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := srv.Client()
	st := builds.NewStore(rdb)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	queue := asynq.NewClientFromRedisClient(rdb)

	// end stores state as the build's final state, as a worker does
	// before it queues the mail.
	end := func(b *tasks.Build, state tasks.State) *tasks.Build {
		t.Helper()
		b, err := st.Update(ctx, b.ID, func(b *tasks.Build) error {
			b.State, b.Finished = state, time.Now().UTC()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	mailed := func(id string, kind tasks.MailKind) bool {
		t.Helper()
		_, err := insp.GetTaskInfo(tasks.NotifyQueue, tasks.NotifyTaskID(id, kind))
		if err != nil && !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	due := func() map[string]bool {
		t.Helper()
		ids, err := st.MailsDue(ctx, time.Now().Add(time.Hour), 1000)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, id := range ids {
			m[id] = true
		}
		return m
	}

	// The worker died between its two writes.
	killed := end(mailedBuild(t, st, "", "tester@example.org"), tasks.StateSucceeded)
	// The worker queued the mail, as it does when nothing goes wrong.
	whole := end(mailedBuild(t, st, "", "tester@example.org"), tasks.StateFailed)
	if err := client.Notify(ctx, queue, st, whole); err != nil {
		t.Fatal(err)
	}
	// No recipient, no mail.
	silent := end(mailedBuild(t, st, "", ""), tasks.StateSucceeded)
	// The last member of a group to end died before queuing the group's
	// mail; the first had queued nothing, rightly, as the other was
	// still running.
	group := &tasks.Group{ID: tasks.NewBuildID(), Owner: "tester", Created: time.Now().UTC()}
	first := mailedBuild(t, st, group.ID, "tester@example.org")
	last := mailedBuild(t, st, group.ID, "tester@example.org")
	group.Builds = []string{first.ID, last.ID}
	if err := st.CreateGroup(ctx, group); err != nil {
		t.Fatal(err)
	}
	first = end(first, tasks.StateSucceeded)
	if err := client.Notify(ctx, queue, st, first); err != nil {
		t.Fatal(err)
	}
	end(last, tasks.StateCancelled)
	// Purged (retention) before any reaper looked.
	purged := end(mailedBuild(t, st, "", "tester@example.org"), tasks.StateSucceeded)
	if _, err := st.Purge(ctx, purged.ID); err != nil {
		t.Fatal(err)
	}

	if got, want := due(), map[string]bool{killed.ID: true, last.ID: true}; !equalSet(got, want) {
		t.Fatalf("builds due a mail after the writes: %v, want %v", got, want)
	}

	// Within the grace the writer may still be queuing it: left alone.
	if err := newReaper(t, rdb, reaper.Config{MailGrace: time.Hour}).Reap(ctx); err != nil {
		t.Fatal(err)
	}
	if mailed(killed.ID, tasks.MailFinished) || mailed(group.ID, tasks.MailGroupFinished) {
		t.Fatal("the reaper queued a mail within the grace")
	}

	time.Sleep(20 * time.Millisecond)
	if err := newReaper(t, rdb, reaper.Config{MailGrace: 10 * time.Millisecond}).Reap(ctx); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		id   string
		kind tasks.MailKind
		want bool
	}{
		{"killed between the writes", killed.ID, tasks.MailFinished, true},
		{"queued by its worker", whole.ID, tasks.MailFinished, true},
		{"no recipient", silent.ID, tasks.MailFinished, false},
		{"group member: no mail of its own", last.ID, tasks.MailFinished, false},
		{"group whose last member was killed", group.ID, tasks.MailGroupFinished, true},
		{"purged", purged.ID, tasks.MailFinished, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mailed(tt.id, tt.kind); got != tt.want {
				t.Errorf("%s mail of %s queued: %v, want %v", tt.kind, tt.id, got, tt.want)
			}
		})
	}
	if got := due(); len(got) != 0 {
		t.Errorf("builds still due a mail after the reaper: %v", got)
	}
	// A second look queues nothing twice (the task ID) and finds nothing due.
	if err := newReaper(t, rdb, reaper.Config{MailGrace: 10 * time.Millisecond}).Reap(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := insp.ListPendingTasks(tasks.NotifyQueue); err != nil || len(n) != 3 {
		t.Errorf("notify tasks after two looks: %d (%v), want 3", len(n), err)
	}
}

// mailedBuild returns a running build of group (or none) whose mails go
// to email.
func mailedBuild(t *testing.T, st *builds.Store, group, email string) *tasks.Build {
	t.Helper()
	b := runningBuild(t, st, 1)
	b, err := st.Update(context.Background(), b.ID, func(b *tasks.Build) error {
		b.Spec.Email, b.Group = email, group
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func equalSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
