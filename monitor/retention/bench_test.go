package retention_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/monitor/retention"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/tasks/rediskey"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

// usedMemory is INFO memory's used_memory of rdb, in bytes.
func usedMemory(b *testing.B, rdb *redis.Client) int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Fatal("no used_memory in INFO memory")
	return 0
}

// BenchmarkRetentionMemory shows that retention bounds Redis memory: it
// submits 2000 builds, half through client.Submit and half as 500
// multi-arch groups of two (x86_64 and aarch64) through client.SubmitGroup
// (records, summaries, indexes, payloads with a 4 KiB kickstart, group
// records, the asynq build and mail tasks), gives each build a 400-line log
// and the sent marks of its mails (each group's two mails instead of its
// builds'), as made 40 days ago and ended then, and reports
// used_memory before, with the builds, and after one retention run
// ([retention] succeeded_days = 30). asynq's own completed tasks live a
// day (tasks/queue.go) and are outside retention: they are deleted here
// as asynq's janitor would have, to compare fbs's keys alone.
//
//	go test -run '^$' -bench RetentionMemory -benchtime 1x ./monitor/retention
func BenchmarkRetentionMemory(b *testing.B) {
	const n, groups, lines = 2000, 500, 400
	ctx := context.Background()
	for range b.N {
		rdb := redistest.Start(b).Client()
		c := client.New(rdb, client.Config{})
		store := c.Store()
		// One collector run first: its lease, counters and Lua scripts
		// belong to the baseline.
		col, err := retention.New(rdb, retention.Config{Builds: builds.Retention{MaxAge: map[tasks.State]time.Duration{tasks.StateSucceeded: 30 * day}}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := col.Collect(ctx); err != nil {
			b.Fatal(err)
		}
		before := usedMemory(b, rdb)

		ks := strings.Repeat("# a kickstart line of a realistic length, sixty-four bytes..\n", 64)
		var text strings.Builder
		for i := range lines {
			fmt.Fprintf(&text, "2026-11-27T10:00:%02d.000Z out | line %d of the build tool's output, about eighty bytes long\n", i%60, i)
		}
		old := time.Now().Add(-40 * day)
		payload := func(arch string) *tasks.Payload {
			return &tasks.Payload{Spec: tasks.Spec{Type: tasks.TypeKSISO, Arch: arch, Release: "42", Staging: "file:///srv/staging",
				Email: "alice@example.org", KSISO: &tasks.KSISOSpec{ISO: "boot.iso", Config: "main.ks"}}, Kickstart: ks, Owner: "alice",
				ID: idAt(old), SubmittedAt: old}
		}
		sent := func(id string, kinds ...tasks.MailKind) {
			for _, k := range kinds {
				if err := rdb.Set(ctx, rediskey.NotifySent(tasks.NotifyTaskID(id, k)), old.Format(time.RFC3339), rediskey.NotifySentTTL).Err(); err != nil {
					b.Fatal(err)
				}
			}
		}
		var ids []string
		for range n / 2 {
			bd, err := c.Submit(ctx, payload("x86_64"))
			if err != nil {
				b.Fatal(err)
			}
			sent(bd.ID, tasks.MailSubmitted, tasks.MailFinished)
			ids = append(ids, bd.ID)
		}
		for range groups {
			g := idAt(old)
			ps := []*tasks.Payload{payload("x86_64"), payload("aarch64")}
			for _, p := range ps {
				p.Group = g
			}
			gs, err := c.SubmitGroup(ctx, ps)
			if err != nil {
				b.Fatal(err)
			}
			sent(gs.ID, tasks.MailGroupSubmitted, tasks.MailGroupFinished)
			ids = append(ids, ps[0].ID, ps[1].ID)
		}
		for _, id := range ids {
			if _, err := store.AppendLogText(ctx, id, 1, []byte(text.String()), 0); err != nil {
				b.Fatal(err)
			}
			_, err = store.Update(ctx, id, func(r *tasks.Build) error {
				r.State, r.Started, r.Finished, r.Stage = tasks.StateSucceeded, old, old.Add(time.Hour), tasks.StageTransfer
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		for _, q := range []string{tasks.QueueName("x86_64", "42"), tasks.QueueName("aarch64", "42"), tasks.NotifyQueue} {
			if _, err := c.Inspector().DeleteAllPendingTasks(q); err != nil {
				b.Fatal(err)
			}
		}
		full := usedMemory(b, rdb)
		res, err := col.Collect(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if res.Removed[retention.KindBuild] != n || res.Removed[retention.KindGroup] != groups {
			b.Fatalf("retention removed %v, want %d builds and %d groups", res.Removed, n, groups)
		}
		after := usedMemory(b, rdb)
		c.Close()
		b.ReportMetric(float64(before)/(1<<20), "MiB-before")
		b.ReportMetric(float64(full)/(1<<20), "MiB-with-builds")
		b.ReportMetric(float64(after)/(1<<20), "MiB-after-gc")
		b.ReportMetric(float64(after-before)/float64(full-before)*100, "%-left")
		b.ReportMetric(0, "ns/op")
	}
}
