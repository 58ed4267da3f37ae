package notify_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/conf"
	"github.com/fedora-fbs/fbs/monitor/notify"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/testing/smtptest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestMails sends both mails of a build through a real SMTP server in each
// TLS mode and AUTH mechanism, and checks what arrives.
func TestMails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		smtp smtptest.Options
	}{
		{"plain", smtptest.Options{TLS: smtptest.TLSNone}},
		{"starttls auth plain", smtptest.Options{TLS: smtptest.TLSStartTLS, Username: "fbs", Password: password, Mechanisms: []string{"PLAIN"}}},
		{"tls auth login", smtptest.Options{TLS: smtptest.TLSImplicit, Username: "fbs", Password: password, Mechanisms: []string{"LOGIN"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{smtp: tc.smtp})
			bd := b.newBuild(t, func(bd *tasks.Build) {
				bd.Spec.Email = "Alice <alice@example.org>, bob@example.org"
				bd.KickstartName = "<script>alert('ks')</script>.ks"
			})
			b.enqueue(t, bd.ID, tasks.MailSubmitted)
			b.smtp.Wait(t, 1, waitLimit)

			b.appendLog(t, bd.ID, 120, func(i int) string {
				if i == 119 {
					return "\x1b[31merror:\x1b[0m <script>alert('log')</script> & more"
				}
				return fmt.Sprintf("line %d of the tool", i)
			})
			b.finish(t, bd.ID, tasks.StateSucceeded, nil)
			b.enqueue(t, bd.ID, tasks.MailFinished)
			msgs := b.smtp.Wait(t, 2, waitLimit)
			b.waitTask(t, bd.ID, tasks.MailSubmitted, asynq.TaskStateCompleted)
			b.waitTask(t, bd.ID, tasks.MailFinished, asynq.TaskStateCompleted)

			for _, m := range msgs {
				if diff := cmp.Diff([]string{"alice@example.org", "bob@example.org"}, m.To); diff != "" {
					t.Errorf("envelope recipients (-want +got):\n%s", diff)
				}
				if m.From != "fbs@builds.example.org" {
					t.Errorf("envelope sender %q", m.From)
				}
				if want := tc.smtp.TLS != smtptest.TLSNone; m.TLS != want {
					t.Errorf("TLS = %v, want %v", m.TLS, want)
				}
				if m.User != tc.smtp.Username {
					t.Errorf("authenticated as %q, want %q", m.User, tc.smtp.Username)
				}
				if got := header(t, m, "To"); !strings.Contains(got, "alice@example.org") || !strings.Contains(got, "bob@example.org") {
					t.Errorf("To header %q", got)
				}
			}
			sub, fin := msgs[0], msgs[1]
			wantSub := fmt.Sprintf("[fbs] build %s submitted: ksiso Fedora 41 x86_64", bd.ID)
			wantFin := fmt.Sprintf("[fbs] build %s succeeded: ksiso Fedora 41 x86_64", bd.ID)
			if diff := cmp.Diff([]string{wantSub, wantFin}, []string{sub.Subject(), fin.Subject()}); diff != "" {
				t.Errorf("subjects (-want +got):\n%s", diff)
			}
			if got, want := header(t, fin, "In-Reply-To"), header(t, sub, "Message-Id"); got != want {
				t.Errorf("completion mail In-Reply-To %q, want the submission's Message-Id %q", got, want)
			}

			buildURL := publicURL + "/builds/" + bd.ID
			subText, subHTML := mustPart(t, sub, "text/plain"), mustPart(t, sub, "text/html")
			for _, want := range []string{bd.ID, "ksiso", "x86_64", "41", "<script>alert('ks')</script>.ks", buildURL} {
				if !strings.Contains(subText, want) {
					t.Errorf("submission text lacks %q:\n%s", want, subText)
				}
			}
			finText, finHTML := mustPart(t, fin, "text/plain"), mustPart(t, fin, "text/html")
			for _, want := range []string{
				"Result:     succeeded", "Duration:   1h2m3s", "Worker:     builder1.example.org",
				"Fedora-41-x86_64.iso  (2.0 GiB, 2147483648 bytes)",
				"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
				"file:///srv/staging/" + bd.ID + "/Fedora-41-x86_64.iso",
				"Last 50 log lines:", "  line 71 of the tool\n", "  line 120 of the tool\n",
				"error: <script>alert('log')</script> & more",
				"Full log:   " + buildURL + "/log",
			} {
				if !strings.Contains(finText, want) {
					t.Errorf("completion text lacks %q:\n%s", want, finText)
				}
			}
			if strings.Contains(finText, "line 70 of the tool") || strings.Contains(finText, "\x1b") {
				t.Errorf("completion text quotes more than 50 lines or escape codes:\n%s", finText)
			}
			for name, html := range map[string]string{"submission": subHTML, "completion": finHTML} {
				if strings.Contains(html, "<script") {
					t.Errorf("%s HTML has a live <script>:\n%s", name, html)
				}
				if !strings.Contains(html, "&lt;script&gt;") {
					t.Errorf("%s HTML lacks the escaped script text:\n%s", name, html)
				}
				if !strings.Contains(html, `href="`+buildURL) {
					t.Errorf("%s HTML lacks a link to %s:\n%s", name, buildURL, html)
				}
			}
			if !strings.Contains(finHTML, `href="`+buildURL+`/log"`) {
				t.Errorf("completion HTML lacks the full log link:\n%s", finHTML)
			}
			if diff := cmp.Diff(counts(2, 0, 0), b.counters(t)); diff != "" {
				t.Errorf("counters (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGolden renders the text parts of both mails of a fixed build into
// golden files; run with -update to rewrite them after a deliberate change.
func TestGolden(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	const id = "01JD8Z5Q3XK4V6W7Y8Z9ABCDEF"
	for _, kind := range []tasks.MailKind{tasks.MailSubmitted, tasks.MailFinished} {
		t.Run(string(kind), func(t *testing.T) {
			if kind == tasks.MailSubmitted {
				bd := b.newBuild(t, nil)
				// Rename the record to the fixed ID.
				if err := b.store.Delete(context.Background(), bd.ID); err != nil {
					t.Fatal(err)
				}
				bd.ID, bd.TaskID = id, id
				if err := b.store.Create(context.Background(), bd, []byte(`{}`)); err != nil {
					t.Fatal(err)
				}
			} else {
				b.appendLog(t, id, 3, func(i int) string { return fmt.Sprintf("\tline %d", i) })
				b.finish(t, id, tasks.StateSucceeded, nil)
			}
			b.enqueue(t, id, kind)
			msgs := b.smtp.Wait(t, map[tasks.MailKind]int{tasks.MailSubmitted: 1, tasks.MailFinished: 2}[kind], waitLimit)
			got := mustPart(t, msgs[len(msgs)-1], "text/plain")
			golden := filepath.Join("testdata", string(kind)+".txt.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s mail text (-want +got):\n%s", kind, diff)
			}
		})
	}
}

// TestExactlyOnce enqueues a mail twice, then runs it again after it was
// sent (as when asynq loses the completion): one mail arrives.
func TestExactlyOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	bd := b.newBuild(t, nil)
	task, err := tasks.NewNotifyTask(bd.ID, tasks.MailSubmitted)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.queue.Enqueue(task); err != nil {
		t.Fatal(err)
	}
	if _, err := b.queue.Enqueue(task); !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Fatalf("second enqueue: %v, want a task ID conflict", err)
	}
	b.enqueue(t, bd.ID, tasks.MailSubmitted) // client.EnqueueNotify takes the conflict as done
	b.waitTask(t, bd.ID, tasks.MailSubmitted, asynq.TaskStateCompleted)

	// The task runs again after the mail went out.
	if err := b.insp.DeleteTask(tasks.NotifyQueue, tasks.NotifyTaskID(bd.ID, tasks.MailSubmitted)); err != nil {
		t.Fatal(err)
	}
	b.enqueue(t, bd.ID, tasks.MailSubmitted)
	b.waitTask(t, bd.ID, tasks.MailSubmitted, asynq.TaskStateCompleted)
	if n := len(b.smtp.Messages()); n != 1 {
		t.Errorf("%d mails arrived, want 1", n)
	}
	if diff := cmp.Diff(counts(1, 0, 0), b.counters(t)); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
	if !strings.Contains(b.logs.String(), "already sent") {
		t.Errorf("second run did not say it skipped:\n%s", b.logs)
	}
}

// TestFaults makes the SMTP server misbehave, then recover: the mail
// arrives once, after retries.
func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault smtptest.Fault
		n     int
	}{
		{smtptest.Refuse, 3},
		{smtptest.Timeout, 2},
		{smtptest.Drop, 2},
	}
	for _, tc := range tests {
		t.Run(tc.fault.String(), func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{
				smtp:   smtptest.Options{TLS: smtptest.TLSStartTLS, Username: "fbs", Password: password},
				modify: func(c *notify.Config) { c.SendTimeout = 300 * time.Millisecond },
			})
			b.smtp.Fail(tc.fault, tc.n)
			bd := b.newBuild(t, nil)
			b.enqueue(t, bd.ID, tasks.MailSubmitted)
			b.smtp.Wait(t, 1, waitLimit)
			b.waitTask(t, bd.ID, tasks.MailSubmitted, asynq.TaskStateCompleted)
			if n := len(b.smtp.Messages()); n != 1 {
				t.Errorf("%d mails arrived, want 1", n)
			}
			if got := b.smtp.Connections(); got != tc.n+1 {
				t.Errorf("%d connections, want %d", got, tc.n+1)
			}
			if diff := cmp.Diff(counts(1, int64(tc.n), 0), b.counters(t)); diff != "" {
				t.Errorf("counters (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOutage stops the SMTP server while a mail waits, then brings it back.
func TestOutage(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.smtp.Stop()
	bd := b.newBuild(t, nil)
	b.finish(t, bd.ID, tasks.StateFailed, nil)
	b.enqueue(t, bd.ID, tasks.MailFinished)
	b.waitCounter(t, notify.CounterRetried, 3)
	if n := len(b.smtp.Messages()); n != 0 {
		t.Fatalf("%d mails during the outage", n)
	}
	info, err := b.insp.GetTaskInfo(tasks.NotifyQueue, tasks.NotifyTaskID(bd.ID, tasks.MailFinished))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info.LastErr, "connect to SMTP server "+b.smtp.Addr) {
		t.Errorf("task's last error %q does not say what failed", info.LastErr)
	}
	b.smtp.Restart()
	msgs := b.smtp.Wait(t, 1, waitLimit)
	b.waitTask(t, bd.ID, tasks.MailFinished, asynq.TaskStateCompleted)
	if got := msgs[0].Subject(); !strings.Contains(got, "failed") {
		t.Errorf("subject %q", got)
	}
	c := b.counters(t)
	if c[notify.CounterSent] != 1 || c[notify.CounterFailed] != 0 || c[notify.CounterRetried] < 3 {
		t.Errorf("counters %v", c)
	}
}

// TestGiveUp: a server that refuses for longer than all retries; the mail
// is counted failed and kept in the outbox, not lost.
func TestGiveUp(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.smtp.Fail(smtptest.Refuse, 1000)
	bd := b.newBuild(t, nil)
	b.enqueue(t, bd.ID, tasks.MailSubmitted)
	b.waitTask(t, bd.ID, tasks.MailSubmitted, asynq.TaskStateArchived)
	if diff := cmp.Diff(counts(0, tasks.NotifyMaxRetry, 1), b.counters(t)); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
	if got := b.smtp.Connections(); got != tasks.NotifyMaxRetry+1 {
		t.Errorf("%d attempts, want %d", got, tasks.NotifyMaxRetry+1)
	}
	kept := outboxSubjects(t, b.outbox)
	want := []string{fmt.Sprintf("[fbs] build %s submitted: ksiso Fedora 41 x86_64", bd.ID)}
	if diff := cmp.Diff(want, kept); diff != "" {
		t.Errorf("outbox (-want +got):\n%s", diff)
	}
}

// TestRejectedRecipient: a 5xx on RCPT is final at once.
func TestRejectedRecipient(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{smtp: smtptest.Options{Reject: []string{"nobody@example.org"}}})
	bd := b.newBuild(t, func(bd *tasks.Build) { bd.Spec.Email = "nobody@example.org" })
	b.enqueue(t, bd.ID, tasks.MailSubmitted)
	info := b.waitTask(t, bd.ID, tasks.MailSubmitted, asynq.TaskStateArchived)
	if !strings.Contains(info.LastErr, "RCPT TO nobody@example.org") || !strings.Contains(info.LastErr, "550") {
		t.Errorf("last error %q", info.LastErr)
	}
	if diff := cmp.Diff(counts(0, 0, 1), b.counters(t)); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
	if n := len(outboxSubjects(t, b.outbox)); n != 1 {
		t.Errorf("%d mails kept in the outbox, want 1", n)
	}
}

// TestLostReply shows the one window left (see the package doc): the
// server took the mail but its reply was lost, so the retry sends it again,
// with the same Message-ID.
func TestLostReply(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.smtp.Fail(smtptest.LoseReply, 1)
	bd := b.newBuild(t, nil)
	b.enqueue(t, bd.ID, tasks.MailSubmitted)
	msgs := b.smtp.Wait(t, 2, waitLimit)
	b.waitTask(t, bd.ID, tasks.MailSubmitted, asynq.TaskStateCompleted)
	if len(msgs) != 2 {
		t.Fatalf("%d mails, want 2", len(msgs))
	}
	if a, c := header(t, msgs[0], "Message-Id"), header(t, msgs[1], "Message-Id"); a != c {
		t.Errorf("duplicate has another Message-Id: %q, %q", a, c)
	}
	if want := fmt.Sprintf("<%s.submitted@builds.example.org>", bd.ID); header(t, msgs[0], "Message-Id") != want {
		t.Errorf("Message-Id %q, want %q", header(t, msgs[0], "Message-Id"), want)
	}
}

// TestNoEmail: a build without an address gets no mail, and the task is
// done.
func TestNoEmail(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	bd := b.newBuild(t, func(bd *tasks.Build) { bd.Spec.Email = "" })
	b.finish(t, bd.ID, tasks.StateSucceeded, nil)
	b.enqueue(t, bd.ID, tasks.MailSubmitted)
	b.enqueue(t, bd.ID, tasks.MailFinished)
	b.waitTask(t, bd.ID, tasks.MailSubmitted, asynq.TaskStateCompleted)
	b.waitTask(t, bd.ID, tasks.MailFinished, asynq.TaskStateCompleted)
	if n := len(b.smtp.Messages()); n != 0 {
		t.Errorf("%d mails for a build without address", n)
	}
	if diff := cmp.Diff(counts(0, 0, 0), b.counters(t)); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}

// TestWaitsForFinalState: a completion mail queued while the build still
// runs goes out once the build has finished, telling the final result.
func TestWaitsForFinalState(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{modify: func(c *notify.Config) {
		c.RetryDelay = func(int) time.Duration { return 50 * time.Millisecond }
	}})
	bd := b.newBuild(t, func(bd *tasks.Build) { bd.State = tasks.StateRunning })
	b.enqueue(t, bd.ID, tasks.MailFinished)
	info := b.waitTask(t, bd.ID, tasks.MailFinished, asynq.TaskStateRetry)
	if info.Retried != 0 {
		t.Errorf("waiting used up %d retries", info.Retried)
	}
	b.finish(t, bd.ID, tasks.StateCancelled, nil)
	msgs := b.smtp.Wait(t, 1, waitLimit)
	b.waitTask(t, bd.ID, tasks.MailFinished, asynq.TaskStateCompleted)
	if got := msgs[0].Subject(); !strings.Contains(got, " cancelled: ") {
		t.Errorf("subject %q", got)
	}
	if diff := cmp.Diff(counts(1, 0, 0), b.counters(t)); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}

// TestPasswordNeverLogged: a wrong password, then the right one written to
// the password file (read again for every delivery); the password shows in
// no log line and no task error.
func TestPasswordNeverLogged(t *testing.T) {
	t.Parallel()
	const wrong = "wrong-Pa55word-never-logged"
	b := setup(t, setupOpts{smtp: smtptest.Options{TLS: smtptest.TLSStartTLS, Username: "fbs", Password: password}})
	if err := os.WriteFile(b.passwordFile, []byte(wrong), 0o600); err != nil {
		t.Fatal(err)
	}
	bd := b.newBuild(t, nil)
	b.enqueue(t, bd.ID, tasks.MailSubmitted)
	b.waitCounter(t, notify.CounterRetried, 2)
	info, err := b.insp.GetTaskInfo(tasks.NotifyQueue, tasks.NotifyTaskID(bd.ID, tasks.MailSubmitted))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.passwordFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b.smtp.Wait(t, 1, waitLimit)
	b.waitTask(t, bd.ID, tasks.MailSubmitted, asynq.TaskStateCompleted)
	b.srv.Shutdown()

	logs := b.logs.String()
	if !strings.Contains(logs, "authenticate as fbs") || !strings.Contains(logs, "mail sent") {
		t.Fatalf("log lacks the auth failure or the send; nothing was tested:\n%s", logs)
	}
	if b.smtp.AuthFailures() < 2 {
		t.Errorf("%d auth failures, want at least 2", b.smtp.AuthFailures())
	}
	for _, secret := range []string{password, wrong} {
		if strings.Contains(logs, secret) {
			t.Errorf("log shows a password:\n%s", logs)
		}
		if strings.Contains(info.LastErr, secret) {
			t.Errorf("task error shows a password: %s", info.LastErr)
		}
	}
}

// TestOutbox: without SMTP both mails are written as .eml files, listed
// newest first and opened by name only.
func TestOutbox(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{outbox: true})
	bd := b.newBuild(t, nil)
	b.enqueue(t, bd.ID, tasks.MailSubmitted)
	b.waitTask(t, bd.ID, tasks.MailSubmitted, asynq.TaskStateCompleted)
	b.appendLog(t, bd.ID, 3, func(i int) string { return fmt.Sprintf("line %d", i) })
	b.finish(t, bd.ID, tasks.StateSucceeded, nil)
	b.enqueue(t, bd.ID, tasks.MailFinished)
	b.waitTask(t, bd.ID, tasks.MailFinished, asynq.TaskStateCompleted)

	list, err := notify.Outbox(b.outbox)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range list {
		got = append(got, m.Subject+" to "+m.To)
		if m.Size <= 0 || m.Date.IsZero() || time.Since(m.Date) > time.Minute {
			t.Errorf("message %+v", m)
		}
		if !regexp.MustCompile(`^\d{8}T\d{6}\.\d{9}Z-` + bd.ID + `-(submitted|finished)\.eml$`).MatchString(m.Name) {
			t.Errorf("file name %q", m.Name)
		}
	}
	want := []string{
		fmt.Sprintf("[fbs] build %s succeeded: ksiso Fedora 41 x86_64 to <alice@example.org>", bd.ID),
		fmt.Sprintf("[fbs] build %s submitted: ksiso Fedora 41 x86_64 to <alice@example.org>", bd.ID),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outbox, newest first (-want +got):\n%s", diff)
	}
	if len(list) == 0 {
		t.FailNow()
	}
	rc, err := notify.OpenMessage(b.outbox, list[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	m := smtptest.Message{Data: data}
	if text := mustPart(t, m, "text/plain"); !strings.Contains(text, "  line 3\n") || !strings.Contains(text, publicURL+"/builds/"+bd.ID+"/log") {
		t.Errorf("outbox mail text:\n%s", text)
	}
	if diff := cmp.Diff(counts(2, 0, 0), b.counters(t)); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}

	// Only bare names of listed files open.
	if err := os.Symlink("/etc/passwd", filepath.Join(b.outbox, "evil.eml")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(b.outbox), "outside.eml"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "../outside.eml", "/etc/passwd", "evil.eml", ".tmp-1.eml", "x/../" + list[0].Name, list[0].Name + "\x00", "..eml", "a.txt"} {
		if rc, err := notify.OpenMessage(b.outbox, name); err == nil {
			rc.Close()
			t.Errorf("OpenMessage(%q) opened it", name)
		}
	}
	if list2, err := notify.Outbox(b.outbox); err != nil || len(list2) != 2 {
		t.Errorf("Outbox lists %d files (%v), want 2 (no symlink)", len(list2), err)
	}
}

func TestOutboxMissingDir(t *testing.T) {
	t.Parallel()
	list, err := notify.Outbox(filepath.Join(t.TempDir(), "none"))
	if err != nil || len(list) != 0 {
		t.Errorf("Outbox of a missing dir = %v, %v", list, err)
	}
}

func outboxSubjects(t *testing.T, dir string) []string {
	t.Helper()
	list, err := notify.Outbox(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range list {
		if _, err := mail.ParseAddress(strings.Trim(m.To, " ")); err != nil {
			t.Errorf("outbox mail %s: To %q: %v", m.Name, m.To, err)
		}
		out = append(out, m.Subject)
	}
	return out
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t).Client()
	tests := []struct {
		name string
		cfg  notify.Config
		want string
	}{
		{"no smtp no outbox", notify.Config{}, "no SMTP host and no outbox directory"},
		{"bad public url", notify.Config{OutboxDir: "/x", PublicURL: "ftp://x"}, `public URL "ftp://x" is not an http(s) URL`},
		{"bad tls", notify.Config{SMTP: notify.SMTP{Host: "h", TLS: "ssl"}}, `SMTP tls "ssl" is not one of none, starttls, tls`},
		{"bad port", notify.Config{SMTP: notify.SMTP{Host: "h", Port: 70000}}, "SMTP port 70000 is out of range"},
		{"missing password file", notify.Config{SMTP: notify.SMTP{Host: "h", Username: "u", Password: conf.SMTP{PasswordFile: "/nonexistent/pw"}.Password}}, "read SMTP password"},
		{"user without password", notify.Config{SMTP: notify.SMTP{Host: "h", Username: "u"}}, "SMTP user u has no password"},
		{"bad from", notify.Config{OutboxDir: "/x", SMTP: notify.SMTP{From: "not an address"}}, `sender address "not an address"`},
	}
	for _, tc := range tests {
		_, err := notify.New(r, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
