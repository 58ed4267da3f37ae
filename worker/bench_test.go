package worker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/worker"
	"github.com/fedora-fbs/fbs/worker/pipeline"
)

// BenchmarkSubmitToStart measures how long a build waits between its
// submission and the moment an idle worker claims it (record Created to
// Started), over b.N builds submitted one after another, each after the
// previous one ended. It also reports the Redis calls per second of the
// idle worker. Run it with:
//
//	go test ./worker -run '^$' -bench SubmitToStart -benchtime 1000x
func BenchmarkSubmitToStart(b *testing.B) {
	for _, poll := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 600 * time.Millisecond, time.Second} {
		b.Run("poll="+poll.String(), func(b *testing.B) { benchSubmitToStart(b, poll) })
	}
}

func benchSubmitToStart(b *testing.B, poll time.Duration) {
	ctx := context.Background()
	srv := redistest.Start(b)
	rdb := srv.Client()
	dir := b.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	pipe, err := pipeline.New(pipeline.Config{DataDir: dir, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	w, err := worker.New(rdb, pipe, worker.Config{Releases: []string{"41"}, TaskCheckInterval: poll, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer w.Shutdown()
	c := client.New(rdb, client.Config{})
	defer c.Close()

	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// The ISO does not exist, so the build ends in its first stage:
		// what is measured is only the way to the worker.
		p := &tasks.Payload{Owner: "bench", Kickstart: "text\n", KickstartName: "x.ks",
			Spec: tasks.Spec{Type: tasks.TypeKSISO, Arch: worker.HostArch(), Release: "41", Staging: "file://" + dir + "/staging",
				KSISO: &tasks.KSISOSpec{ISO: "missing.iso", Config: "x.ks"}}}
		bld, err := c.Submit(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Follow(ctx, bld.ID, 0, func(builds.LogLine) error { return nil }); err != nil {
			b.Fatal(err)
		}
		got, err := c.Get(ctx, bld.ID)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, got.Started.Sub(got.Created))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(idleCalls(b, rdb, 5*time.Second), "idle-redis-calls/s")
}

// idleCalls counts the commands Redis serves per second while the worker
// waits for work.
func idleCalls(b *testing.B, rdb *redis.Client, d time.Duration) float64 {
	ctx := context.Background()
	total := func() int64 {
		info, err := rdb.Info(ctx, "stats").Result()
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(l, "total_commands_processed:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		b.Fatal(fmt.Errorf("no total_commands_processed in INFO"))
		return 0
	}
	before := total()
	time.Sleep(d)
	return float64(total()-before-1) / d.Seconds()
}
