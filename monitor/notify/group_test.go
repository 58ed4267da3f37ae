package notify_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/monitor/notify"
	"github.com/fedora-fbs/fbs/tasks"
)

// newGroup stores a group of two builds (x86_64 and aarch64) with fixed
// IDs, as client.SubmitGroup would.
func (b *bundle) newGroup(t *testing.T) (*tasks.Group, []*tasks.Build) {
	t.Helper()
	g := &tasks.Group{ID: "01JD8Z5Q3XK4V6W7Y8Z9GRP000", Owner: "alice", Created: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	var members []*tasks.Build
	for i, arch := range []string{"x86_64", "aarch64"} {
		id := []string{"01JD8Z5Q3XK4V6W7Y8Z9ABCDE0", "01JD8Z5Q3XK4V6W7Y8Z9ABCDE1"}[i]
		bd := b.newBuild(t, func(bd *tasks.Build) {
			bd.ID, bd.TaskID, bd.Group = id, id, g.ID
			bd.Spec.Arch, bd.Queue = arch, tasks.QueueName(arch, "41")
		})
		g.Builds = append(g.Builds, bd.ID)
		members = append(members, bd)
	}
	if err := b.store.CreateGroup(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	return g, members
}

// TestGroupMails sends a group's two mails: their text against golden
// files, each arch's result and artifacts in the completion mail, HTML
// escaped, and each mail once although its task runs twice.
func TestGroupMails(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	g, members := b.newGroup(t)
	b.enqueue(t, g.ID, tasks.MailGroupSubmitted)
	b.waitTask(t, g.ID, tasks.MailGroupSubmitted, asynq.TaskStateCompleted)

	// The completion mail waits while a build has not ended.
	b.finish(t, members[0].ID, tasks.StateSucceeded, nil)
	b.enqueue(t, g.ID, tasks.MailGroupFinished)
	b.waitTask(t, g.ID, tasks.MailGroupFinished, asynq.TaskStateRetry)
	b.finish(t, members[1].ID, tasks.StateFailed, func(bd *tasks.Build) {
		bd.Error = `build: xorriso <failed> & "stopped"`
		bd.Artifacts = bd.Artifacts[1:]
	})
	b.waitTask(t, g.ID, tasks.MailGroupFinished, asynq.TaskStateCompleted)

	msgs := b.smtp.Wait(t, 2, waitLimit)
	want := map[tasks.MailKind]string{
		tasks.MailGroupSubmitted: "[fbs] group " + g.ID + " submitted: ksiso Fedora 41 x86_64, aarch64",
		tasks.MailGroupFinished:  "[fbs] group " + g.ID + " failed: ksiso Fedora 41 x86_64, aarch64",
	}
	for i, kind := range []tasks.MailKind{tasks.MailGroupSubmitted, tasks.MailGroupFinished} {
		m := msgs[i]
		if m.Subject() != want[kind] {
			t.Errorf("subject %q, want %q", m.Subject(), want[kind])
		}
		got := mustPart(t, m, "text/plain")
		golden := filepath.Join("testdata", string(kind)+".txt.golden")
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		wantText, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if diff := cmp.Diff(string(wantText), got); diff != "" {
			t.Errorf("%s mail text (-want +got):\n%s", kind, diff)
		}
	}
	html := mustPart(t, msgs[1], "text/html")
	for _, s := range []string{
		"xorriso &lt;failed&gt; &amp; &#34;stopped&#34;",
		publicURL + "/groups/" + g.ID,
		publicURL + "/builds/" + members[0].ID,
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	} {
		if !strings.Contains(html, s) {
			t.Errorf("HTML part lacks %q:\n%s", s, html)
		}
	}
	if strings.Contains(html, "<failed>") {
		t.Error("HTML part carries the error unescaped")
	}

	// Run the completion mail's task again, as when asynq loses the
	// completion or a second monitor enqueues it: no second mail.
	if err := b.insp.DeleteTask(tasks.NotifyQueue, tasks.NotifyTaskID(g.ID, tasks.MailGroupFinished)); err != nil {
		t.Fatal(err)
	}
	b.enqueue(t, g.ID, tasks.MailGroupFinished)
	b.waitTask(t, g.ID, tasks.MailGroupFinished, asynq.TaskStateCompleted)
	if n := len(b.smtp.Messages()); n != 2 {
		t.Errorf("%d mails, want 2", n)
	}
	if got := b.counters(t)[notify.CounterSent]; got != 2 {
		t.Errorf("%d mails counted sent, want 2", got)
	}
}
