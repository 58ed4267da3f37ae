package metrics_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/monitor/metrics"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/rediskey"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

func TestRecorder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := srv.Client()
	// Two recorders stand for two worker hosts adding to the same series.
	a, b := metrics.NewRecorder(rdb), metrics.NewRecorder(rdb)
	for _, d := range []time.Duration{10 * time.Second, 45 * time.Second, 3 * time.Minute} {
		if err := a.BuildDone(ctx, tasks.TypeLive, tasks.StateSucceeded, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.BuildDone(ctx, tasks.TypeLive, tasks.StateSucceeded, 9*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := b.BuildDone(ctx, tasks.TypeBoot, tasks.StateFailed, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := a.StageDone(ctx, tasks.TypeLive, tasks.StageSideRepo, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.StageDone(ctx, tasks.TypeLive, tasks.StageSideRepo, 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}

	got, err := a.Histograms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cumul := func(bounds []float64, durations ...float64) map[float64]uint64 {
		m := map[float64]uint64{}
		for _, b := range bounds {
			for _, d := range durations {
				if d <= b {
					m[b]++
				}
			}
			if _, ok := m[b]; !ok {
				m[b] = 0
			}
		}
		return m
	}
	want := []metrics.Histogram{
		{Family: "build", Labels: map[string]string{"type": "boot", "state": "failed"}, Count: 1, Sum: 1.5,
			Buckets: cumul(metrics.BuildBuckets, 1.5)},
		{Family: "build", Labels: map[string]string{"type": "live", "state": "succeeded"}, Count: 4, Sum: 10 + 45 + 180 + 9*3600,
			Buckets: cumul(metrics.BuildBuckets, 10, 45, 180, 9*3600)},
		{Family: "stage", Labels: map[string]string{"type": "live", "stage": "side repo"}, Count: 2, Sum: 2.5,
			Buckets: cumul(metrics.StageBuckets, 2, 0.5)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Histograms (-want +got):\n%s", diff)
	}
}

// TestStageEstimates reads back the mean of each stage of one build type,
// leaving other types' stages out.
func TestStageEstimates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := metrics.NewRecorder(redistest.Start(t).Client())
	for _, o := range []struct {
		typ   tasks.ImageType
		stage tasks.Stage
		d     time.Duration
	}{
		{tasks.TypeLive, tasks.StageBuild, 10 * time.Minute},
		{tasks.TypeLive, tasks.StageBuild, 20 * time.Minute},
		{tasks.TypeLive, tasks.StageTransfer, 30 * time.Second},
		{tasks.TypeBoot, tasks.StageBuild, time.Minute},
	} {
		if err := r.StageDone(ctx, o.typ, o.stage, o.d); err != nil {
			t.Fatal(err)
		}
	}
	got, err := r.StageEstimates(ctx, tasks.TypeLive)
	if err != nil {
		t.Fatal(err)
	}
	want := map[tasks.Stage]metrics.Estimate{
		tasks.StageBuild:    {Mean: 15 * time.Minute, Count: 2},
		tasks.StageTransfer: {Mean: 30 * time.Second, Count: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("StageEstimates(live) (-want +got):\n%s", diff)
	}
	none, err := r.StageEstimates(ctx, tasks.TypeDVD)
	if err != nil || len(none) != 0 {
		t.Errorf("StageEstimates(dvd) = %v, %v; want none", none, err)
	}
}

func TestRecorderRejects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	r := metrics.NewRecorder(rdb)
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"unknown type", func() error { return r.BuildDone(ctx, "floppy", tasks.StateFailed, time.Second) }, `unknown image type "floppy"`},
		{"state not final", func() error { return r.BuildDone(ctx, tasks.TypeDVD, tasks.StateRunning, time.Second) }, `state "running" is not final`},
		{"negative", func() error { return r.BuildDone(ctx, tasks.TypeDVD, tasks.StateFailed, -time.Second) }, "negative duration"},
		{"empty stage", func() error { return r.StageDone(ctx, tasks.TypeLive, "", time.Second) }, "bad stage name"},
		{"slash in stage", func() error { return r.StageDone(ctx, tasks.TypeLive, "a/b", time.Second) }, "bad stage name"},
	} {
		err := tc.call()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if h, err := r.Histograms(ctx); err != nil || len(h) != 0 {
		t.Errorf("after refused records: Histograms = %v, %v; want none", h, err)
	}
	// A foreign field in the hash is reported, naming it.
	rdb.HSet(ctx, rediskey.StageSeconds, "junk", "1")
	if _, err := r.Histograms(ctx); err == nil || !strings.Contains(err.Error(), `"junk"`) {
		t.Errorf("Histograms over a foreign field: err = %v, want one naming \"junk\"", err)
	}
}

func TestRedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client()
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := metrics.NewRecorder(rdb).StageDone(ctx, tasks.TypeLive, tasks.StageBuild, time.Second)
	if err == nil || !strings.Contains(err.Error(), "record duration of live/build") {
		t.Errorf("StageDone with Redis down: err = %v, want a wrapped error", err)
	}
}
