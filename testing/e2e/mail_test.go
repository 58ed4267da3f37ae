package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/smtptest"
)

// TestMailsFromARealBuild runs a worker and `fbs monitor` (which sends the
// mails) against a real SMTP server with AUTH, and checks both mails of a
// real build arrive, once each, with links to the monitor's public URL.
func TestMailsFromARealBuild(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mail := smtptest.Start(t, smtptest.Options{Username: "fbs", Password: "s3cret-pw"})
	pw := e.dir + "/smtp-password"
	e.write(pw, "s3cret-pw\n")
	listen := freeAddr(t)
	e.moreConf = fmt.Sprintf("[smtp]\nhost = %s\nport = %d\ntls = none\nusername = fbs\npassword_file = %s\nfrom = fbs@example.org\n[monitor]\npublic_url = https://fbs.example.org\n", mail.Host, mail.Port, pw)
	e.worker("host1")
	mon := e.startReady("serving", "monitor", "--config", e.config("monitor", ""), "--listen", listen)
	cfg := e.config("client", "")
	out, errs, code := e.run("submit", "--config", cfg, "--wait", e.spec("m.conf", "x86_64", "boot.iso"))
	if code != 0 {
		t.Fatalf("build: %s\n%s", errs, out)
	}
	id := strings.SplitN(out, "\n", 2)[0]
	msgs := mail.Wait(t, 2, 60*time.Second)
	var subjects []string
	for _, m := range msgs {
		subjects = append(subjects, m.Subject())
		if len(m.To) != 1 || m.To[0] != "tester@example.org" {
			t.Errorf("mail to %v", m.To)
		}
		if !strings.Contains(string(m.Data), "https://fbs.example.org/builds/"+id) {
			t.Errorf("mail %q lacks the monitor link", m.Subject())
		}
	}
	if len(msgs) != 2 || !strings.Contains(strings.Join(subjects, "|"), "succeeded") {
		t.Errorf("subjects %q", subjects)
	}
	if strings.Contains(mon.Output(), "s3cret-pw") {
		t.Error("the SMTP password reached the monitor's log")
	}
	// Exactly once: both mail tasks are done and two mails arrived.
	insp := asynq.NewInspectorFromRedisClient(e.redis.Client())
	for _, kind := range []tasks.MailKind{tasks.MailSubmitted, tasks.MailFinished} {
		e.waitFor(30*time.Second, "the "+string(kind)+" mail task to complete", func() bool {
			info, err := insp.GetTaskInfo(tasks.NotifyQueue, tasks.NotifyTaskID(id, kind))
			return err == nil && info.State == asynq.TaskStateCompleted
		})
	}
	if n := len(mail.Messages()); n != 2 {
		t.Errorf("%d mails, want 2", n)
	}
}
