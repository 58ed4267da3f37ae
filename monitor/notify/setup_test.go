package notify_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/conf"
	"github.com/fedora-fbs/fbs/monitor/notify"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/testing/smtptest"
)

const (
	publicURL = "https://fbs.example.org/monitor"
	password  = "s3cret-Pa55word-never-logged"
	waitLimit = 20 * time.Second
)

// bundle is what a test works with: a real Redis and SMTP server, the
// notification server under test, and ways to look at both.
type bundle struct {
	rdb    *redis.Client
	store  *builds.Store
	queue  *asynq.Client
	insp   *asynq.Inspector
	smtp   *smtptest.Server // nil in outbox mode
	srv    *notify.Server
	cfg    notify.Config
	logs   *syncBuffer
	outbox string
	// passwordFile holds the SMTP password when the server wants one.
	passwordFile string
}

type setupOpts struct {
	outbox bool             // no SMTP: write to the outbox
	smtp   smtptest.Options // the SMTP server's settings
	modify func(*notify.Config)
}

func setup(t *testing.T, o setupOpts) *bundle {
	t.Helper()
	r := redistest.Start(t)
	b := &bundle{rdb: r.Client(), logs: &syncBuffer{}, outbox: filepath.Join(t.TempDir(), "outbox")}
	b.store = builds.NewStore(b.rdb)
	b.queue = asynq.NewClientFromRedisClient(b.rdb)
	b.insp = asynq.NewInspectorFromRedisClient(b.rdb)
	cfg := notify.Config{
		OutboxDir:    b.outbox,
		PublicURL:    publicURL + "/",
		Logger:       slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SendTimeout:  2 * time.Second,
		RetryDelay:   func(int) time.Duration { return 0 },
		PollInterval: 20 * time.Millisecond,
	}
	if !o.outbox {
		b.smtp = smtptest.Start(t, o.smtp)
		cfg.SMTP = notify.SMTP{Host: b.smtp.Host, Port: b.smtp.Port, TLS: notify.TLSMode(o.smtp.TLS), From: "Fedora Build Service <fbs@builds.example.org>"}
		if cfg.SMTP.TLS == "" {
			cfg.SMTP.TLS = notify.TLSNone
		}
		if o.smtp.Username != "" {
			// The password comes from a file, as conf reads it, so a
			// test can rotate it.
			b.passwordFile = filepath.Join(t.TempDir(), "smtp-password")
			if err := os.WriteFile(b.passwordFile, []byte(o.smtp.Password+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg.SMTP.Username = o.smtp.Username
			cfg.SMTP.Password = conf.SMTP{PasswordFile: b.passwordFile}.Password
		}
		cfg.TLS = b.smtp.ClientTLS()
	}
	if o.modify != nil {
		o.modify(&cfg)
	}
	b.cfg = cfg
	srv, err := notify.New(b.rdb, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	b.srv = srv
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		srv.Shutdown()
		b.queue.Close()
		b.insp.Close()
	})
	return b
}

// newBuild stores a queued build record; modify adjusts it first.
func (b *bundle) newBuild(t *testing.T, modify func(*tasks.Build)) *tasks.Build {
	t.Helper()
	id := tasks.NewBuildID()
	spec := tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "41", Staging: "file:///srv/staging",
		Email: "alice@example.org", KSISO: &tasks.KSISOSpec{ISO: "boot.iso", Config: "minimal.ks"}}
	bd := &tasks.Build{ID: id, Spec: spec, KickstartName: "minimal.ks", Owner: "alice", State: tasks.StateQueued,
		Queue: spec.Queue(), TaskID: id, Created: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	if modify != nil {
		modify(bd)
	}
	if err := b.store.Create(context.Background(), bd, []byte(`{}`)); err != nil {
		t.Fatalf("create build: %v", err)
	}
	return bd
}

// finish moves build id to state with a worker, timings and artifacts.
func (b *bundle) finish(t *testing.T, id string, state tasks.State, modify func(*tasks.Build)) {
	t.Helper()
	_, err := b.store.Update(context.Background(), id, func(bd *tasks.Build) error {
		bd.State, bd.Stage, bd.Worker = state, "", "builder1.example.org"
		bd.Started = time.Date(2026, 11, 22, 10, 1, 0, 0, time.UTC)
		bd.Finished = bd.Started.Add(time.Hour + 2*time.Minute + 3*time.Second)
		bd.Staged = "file:///srv/staging/" + id
		bd.Artifacts = []tasks.Artifact{
			{Name: "Fedora-41-x86_64.iso", Size: 2_147_483_648, SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", URL: "file:///srv/staging/" + id + "/Fedora-41-x86_64.iso"},
			{Name: "CHECKSUM", Size: 120, SHA256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752", URL: "file:///srv/staging/" + id + "/CHECKSUM"},
		}
		if modify != nil {
			modify(bd)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("finish build: %v", err)
	}
}

// appendLog publishes lines 1..n, line i being text(i).
func (b *bundle) appendLog(t *testing.T, id string, n int, text func(int) string) {
	t.Helper()
	lines := make([]builds.LogLine, n)
	for i := range lines {
		lines[i] = builds.LogLine{N: i + 1, Text: text(i + 1)}
	}
	if _, err := b.store.AppendLog(context.Background(), id, lines, 0); err != nil {
		t.Fatalf("append log: %v", err)
	}
}

func (b *bundle) enqueue(t *testing.T, id string, kind tasks.MailKind) {
	t.Helper()
	if err := client.EnqueueNotify(context.Background(), b.queue, id, kind); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
}

// waitTask waits until the notification task of id and kind is in state.
func (b *bundle) waitTask(t *testing.T, id string, kind tasks.MailKind, state asynq.TaskState) *asynq.TaskInfo {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		info, err := b.insp.GetTaskInfo(tasks.NotifyQueue, tasks.NotifyTaskID(id, kind))
		if err == nil && info.State == state {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s:%s not %v after %v: %+v, %v\nlog:\n%s", id, kind, state, waitLimit, info, err, b.logs)
		}
		time.Sleep(10 * time.Millisecond) // polling Redis state; asynq has no completion signal
	}
}

// waitCounter waits until counter name reaches at least n.
func (b *bundle) waitCounter(t *testing.T, name string, n int64) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		if b.counters(t)[name] >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counter %s below %d after %v: %v\nlog:\n%s", name, n, waitLimit, b.counters(t), b.logs)
		}
		time.Sleep(10 * time.Millisecond) // polling Redis state
	}
}

func (b *bundle) counters(t *testing.T) map[string]int64 {
	t.Helper()
	c, err := b.store.Counters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, k := range []string{notify.CounterSent, notify.CounterRetried, notify.CounterFailed} {
		out[k] = c[k]
	}
	return out
}

func counts(sent, retried, failed int64) map[string]int64 {
	return map[string]int64{notify.CounterSent: sent, notify.CounterRetried: retried, notify.CounterFailed: failed}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (slog handlers
// from several goroutines).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func mustPart(t *testing.T, m smtptest.Message, mediaType string) string {
	t.Helper()
	s, err := m.Part(mediaType)
	if err != nil {
		t.Fatalf("%s part: %v\n%s", mediaType, err, m.Data)
	}
	return strings.ReplaceAll(s, "\r\n", "\n")
}

func header(t *testing.T, m smtptest.Message, key string) string {
	t.Helper()
	h, err := m.Header()
	if err != nil {
		t.Fatal(err)
	}
	if v := h.Get(key); v != "" {
		return v
	}
	t.Fatalf("no %s header in\n%s", key, m.Data)
	return ""
}
