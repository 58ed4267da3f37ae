package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/redisurl"
	"github.com/fedora-fbs/fbs/testing/sentineltest"
	"github.com/fedora-fbs/fbs/testing/smtptest"
)

// TestSentinelFailover runs `fbs web`, `fbs monitor` (the mail sender) and
// a worker on a redis-sentinel:// URL (a master, a replica, three
// sentinels) and kills the master with SIGKILL while a build runs and
// others wait. Every build succeeds once, with its log lines once each,
// both its mails once each at a real SMTP server, and its record served by
// fbs web. It logs the figures of doc/reliability.md, "Sentinel failover".
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	cluster := sentineltest.Start(t)
	e := newEnv(t)
	e.redisURL = cluster.URL
	mail := smtptest.Start(t, smtptest.Options{})
	e.moreConf = fmt.Sprintf("[smtp]\nhost = %s\nport = %d\ntls = none\nfrom = fbs@example.org\n", mail.Host, mail.Port)
	_, pids := e.slowXorriso(8)
	e.worker("host1", "--concurrency", "2")
	webAddr, monAddr := freeAddr(t), freeAddr(t)
	cfg := e.config("front", "")
	e.startReady("fbs web: serving", "web", "--config", cfg, "--listen", webAddr)
	e.startReady("fbs monitor: serving", "monitor", "--config", cfg, "--listen", monAddr)

	client := e.config("client", "")
	submitted := map[string]time.Time{}
	slowAt := time.Now()
	slow := e.submitSlow(client, "slow.conf", pids)
	submitted[slow] = slowAt
	var ids = []string{slow}
	for i := range 3 {
		out, errs, code := e.run("submit", "--config", client, e.spec(fmt.Sprintf("b%d.conf", i), "x86_64", "boot.iso"))
		if code != 0 {
			t.Fatalf("submit: %s", errs)
		}
		id := strings.TrimSpace(out)
		submitted[id] = time.Now()
		ids = append(ids, id)
	}

	// A client as fbs makes one, writing every 10 ms from the kill on:
	// the first write that succeeds after the kill is the recovery.
	opt, err := redisurl.Parse(cluster.URL)
	if err != nil {
		t.Fatal(err)
	}
	probe := redis.NewUniversalClient(opt)
	defer probe.Close()
	cluster.Sync()
	old, killed := cluster.KillMaster()
	recovered := make(chan time.Time, 1)
	go func() {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			err := probe.Set(ctx, "failover-probe", "x", 0).Err()
			cancel()
			if err == nil {
				recovered <- time.Now()
				return
			}
			if time.Since(killed) > time.Minute {
				close(recovered)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	promoted := cluster.WaitFailover(old, 30*time.Second)
	promotedAfter := time.Since(killed)
	back, ok := <-recovered
	if !ok {
		t.Fatalf("no write through the sentinels succeeded within a minute of the kill")
	}

	done := map[string]time.Duration{}
	for _, id := range ids {
		b := e.waitState(client, id, tasks.StateSucceeded, 3*time.Minute)
		if b.Attempt != 1 {
			t.Errorf("build %s: attempt %d, want 1 (no build runs twice)", id, b.Attempt)
		}
		done[id] = b.Finished.Sub(submitted[id])
		checkStaged(t, e, id)
		logs, errs, code := e.run("logs", "--config", client, id)
		if code != 0 {
			t.Errorf("logs %s: %s", id, errs)
		}
		// The stream holds each line of the worker's own log once: it
		// starts with the same lines, in order, as the log staged beside
		// the image (then come the lines of the transfer itself).
		staged := strings.Split(strings.TrimSpace(mustRead(t, filepath.Join(e.staging, id, "build.log"))), "\n")
		stream := strings.Split(strings.TrimSpace(logs), "\n")
		if len(stream) > len(staged) {
			stream = stream[:len(staged)]
		}
		if diff := cmp.Diff(staged, stream); diff != "" {
			t.Errorf("log stream of %s differs from its staged build.log (-staged +stream):\n%s", id, diff)
		}
		doneLines := 0
		for _, line := range strings.Split(logs, "\n") {
			if _, text, _ := strings.Cut(line, " | "); strings.HasPrefix(text, "stage build: done") {
				doneLines++
			}
		}
		if doneLines != 1 {
			t.Errorf("log of %s has \"stage build: done\" %d times:\n%s", id, doneLines, logs)
		}
		code, body := get(t, "http://"+webAddr+"/api/v1/builds/"+id)
		if code != http.StatusOK || !strings.Contains(body, `"state":"succeeded"`) {
			t.Errorf("fbs web GET /api/v1/builds/%s: %d %s", id, code, body)
		}
	}
	msgs := mail.Wait(t, 2*len(ids), 2*time.Minute)
	perID := map[string]int{}
	for _, m := range msgs {
		h, err := m.Header()
		if err != nil {
			t.Fatal(err)
		}
		perID[h.Get("Message-Id")]++
	}
	for _, id := range ids {
		for _, kind := range []tasks.MailKind{tasks.MailSubmitted, tasks.MailFinished} {
			found := 0
			for mid, n := range perID {
				if strings.Contains(mid, id+"."+string(kind)) {
					found += n
				}
			}
			if found != 1 {
				t.Errorf("build %s: %d %s mails, want 1 (Message-IDs %v)", id, found, kind, perID)
			}
		}
	}
	t.Logf("Sentinel failover: master %s killed; %s promoted after %s; first write through the sentinels after %s; "+
		"slow build (8 s tool) submit→done %s; others %v",
		old, promoted, promotedAfter.Round(time.Millisecond), back.Sub(killed).Round(time.Millisecond),
		done[slow].Round(time.Millisecond), durations(done, ids[1:]))
}

func durations(done map[string]time.Duration, ids []string) []string {
	var out []string
	for _, id := range ids {
		out = append(out, done[id].Round(time.Millisecond).String())
	}
	return out
}
