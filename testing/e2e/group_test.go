package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/smtptest"
)

// TestGroupOfTwoArches submits one spec naming two arches with `fbs
// submit --wait` to two real workers, one per arch (an x86_64 host serves
// the i686 queue as well as its own), with two `fbs monitor`s sending the
// mails to a real SMTP server. Each build runs on its arch's queue, submit
// waits for both, and exactly two mails arrive: the group's submission
// mail and its completion mail with each arch's result and artifacts; no
// build has a mail of its own.
func TestGroupOfTwoArches(t *testing.T) {
	t.Parallel()
	if got := hostArch(t); got != "x86_64" {
		t.Skipf("needs an x86_64 host to run an i686 worker beside an x86_64 one; this is %s", got)
	}
	e := newEnv(t)
	mail := smtptest.Start(t, smtptest.Options{})
	e.moreConf = fmt.Sprintf("[releases]\narches = x86_64, i686\n[smtp]\nhost = %s\nport = %d\ntls = none\nfrom = fbs@example.org\n[monitor]\npublic_url = https://fbs.example.org\n", mail.Host, mail.Port)
	w64 := e.worker("host64")
	w32 := e.worker("host32", "--arch", "i686")
	for _, name := range []string{"mon1", "mon2"} {
		e.startReady("serving", "monitor", "--config", e.config(name, ""), "--listen", freeAddr(t))
	}
	cfg := e.config("client", "")
	out, errs, code := e.run("submit", "--config", cfg, "--wait", e.spec("g.conf", "x86_64,i686", "boot.iso"))
	if code != 0 {
		t.Fatalf("submit --wait: exit %d\n%s\n%s", code, errs, out)
	}
	lines := strings.Split(out, "\n")
	group := lines[0]
	if !tasks.ValidBuildID(group) {
		t.Fatalf("first line %q is not a group ID", group)
	}
	var ids []string
	for i, arch := range []string{"x86_64", "i686"} {
		id, a, ok := strings.Cut(lines[1+i], " ")
		if !ok || a != arch || !tasks.ValidBuildID(id) {
			t.Fatalf("line %d %q: want \"<build ID> %s\"", 2+i, lines[1+i], arch)
		}
		ids = append(ids, id)
		if !strings.Contains(out, "["+arch+"] ") {
			t.Errorf("--wait printed no log line of the %s build", arch)
		}
	}
	for i, id := range ids {
		b := e.status(cfg, id)
		arch := []string{"x86_64", "i686"}[i]
		if b.State != tasks.StateSucceeded || b.Group != group || b.Queue != "build:"+arch+":41" || len(b.Artifacts) == 0 {
			t.Errorf("build %s: state %s group %s queue %s, %d artifacts", arch, b.State, b.Group, b.Queue, len(b.Artifacts))
		}
		w := w64
		if arch == "i686" {
			w = w32
		}
		if !strings.Contains(w.Output(), id) {
			t.Errorf("the %s build did not run on the %s worker", arch, arch)
		}
	}
	insp := asynq.NewInspectorFromRedisClient(e.redis.Client())
	defer insp.Close()
	for _, kind := range []tasks.MailKind{tasks.MailGroupSubmitted, tasks.MailGroupFinished} {
		e.waitFor(60*time.Second, "the "+string(kind)+" mail task to complete", func() bool {
			info, err := insp.GetTaskInfo(tasks.NotifyQueue, tasks.NotifyTaskID(group, kind))
			return err == nil && info.State == asynq.TaskStateCompleted
		})
	}
	msgs := mail.Messages()
	var subjects []string
	for _, m := range msgs {
		subjects = append(subjects, m.Subject())
	}
	slices.Sort(subjects)
	want := []string{
		"[fbs] group " + group + " submitted: ksiso Fedora 41 x86_64, i686",
		"[fbs] group " + group + " succeeded: ksiso Fedora 41 x86_64, i686",
	}
	slices.Sort(want)
	if !slices.Equal(subjects, want) {
		t.Fatalf("mails %q, want exactly %q", subjects, want)
	}
	for _, m := range msgs {
		if !strings.Contains(m.Subject(), "succeeded") {
			continue
		}
		text, err := m.Part("text/plain")
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			arch := []string{"x86_64", "i686"}[i]
			if !strings.Contains(text, arch+": build "+id+" succeeded") {
				t.Errorf("completion mail lacks the %s result:\n%s", arch, text)
			}
			b := e.status(cfg, id)
			for _, a := range b.Artifacts {
				if !strings.Contains(text, a.SHA256) {
					t.Errorf("completion mail lacks artifact %s of the %s build", a.Name, arch)
				}
			}
		}
		if !strings.Contains(text, "https://fbs.example.org/groups/"+group) {
			t.Errorf("completion mail lacks the group page link:\n%s", text)
		}
	}
	// No mail task of a build of its own.
	for _, id := range ids {
		for _, kind := range []tasks.MailKind{tasks.MailSubmitted, tasks.MailFinished} {
			if _, err := insp.GetTaskInfo(tasks.NotifyQueue, tasks.NotifyTaskID(id, kind)); err == nil {
				t.Errorf("build %s has a %s mail task of its own", id, kind)
			}
		}
	}
	// Each build staged its own directory.
	for _, id := range ids {
		if _, err := os.Stat(filepath.Join(e.staging, id)); err != nil {
			t.Errorf("staged directory of build %s: %v", id, err)
		}
	}
}

// hostArch is the RPM arch of this machine, as fbs names it.
func hostArch(t *testing.T) string {
	t.Helper()
	out, err := os.ReadFile("/proc/sys/kernel/arch")
	if err != nil {
		t.Skipf("cannot read this machine's arch: %v", err)
	}
	return strings.TrimSpace(string(out))
}
