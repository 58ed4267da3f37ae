package monitor

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-fbs/fbs/monitor/metrics"
	"github.com/fedora-fbs/fbs/monitor/retention"
)

// metricDescs are the metric descriptions. Everything is read from Redis at
// scrape time, so every monitor reports the same service-wide numbers.
type metricDescs struct {
	up, builds, queue, workers, busy, buildDur, stageDur, removed *prometheus.Desc
}

// descs builds the descriptions once, on the first scrape, not when fbs
// starts.
var descs = sync.OnceValue(func() metricDescs {
	return metricDescs{
		up:       prometheus.NewDesc("fbs_redis_up", "Whether the monitor could read Redis during this scrape.", nil, nil),
		builds:   prometheus.NewDesc("fbs_builds", "Builds by state.", []string{"state"}, nil),
		queue:    prometheus.NewDesc("fbs_queue_tasks", "Tasks in each asynq queue by task state.", []string{"queue", "state"}, nil),
		workers:  prometheus.NewDesc("fbs_workers_alive", "Workers whose heartbeat is current.", nil, nil),
		busy:     prometheus.NewDesc("fbs_worker_builds", "Builds running on each worker.", []string{"worker", "arch"}, nil),
		buildDur: prometheus.NewDesc("fbs_build_duration_seconds", "How long builds ran, by image type and final state.", []string{"type", "state"}, nil),
		stageDur: prometheus.NewDesc("fbs_stage_duration_seconds", "How long pipeline stages took, by image type.", []string{"type", "stage"}, nil),
		removed:  prometheus.NewDesc("fbs_retention_removed_total", "What retention removed, by kind: build, log, staged, mark, mail, group.", []string{"kind"}, nil),
	}
})

// counterName keeps the service-wide counters whose names make valid
// metric names (log_lines_published, emails_sent, ...).
var counterName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9_]*$`) })

// collector exports the state in Redis as Prometheus metrics.
type collector struct{ s *Server }

// Describe sends the fixed descriptions; the counters are unchecked (their
// set grows as other parts of fbs add counters).
func (m *collector) Describe(ch chan<- *prometheus.Desc) {
	ds := descs()
	for _, d := range []*prometheus.Desc{ds.up, ds.builds, ds.queue, ds.workers, ds.busy, ds.buildDur, ds.stageDur, ds.removed} {
		ch <- d
	}
}

// Collect reads Redis. A part that fails is reported as an invalid metric
// (promhttp logs it and serves the rest) and fbs_redis_up is 0.
func (m *collector) Collect(ch chan<- prometheus.Metric) {
	ds := descs()
	ctx, cancel := context.WithTimeout(context.Background(), m.s.cfg.RequestTimeout)
	defer cancel()
	up := 1.0
	fail := func(d *prometheus.Desc, err error) {
		up = 0
		ch <- prometheus.NewInvalidMetric(d, err)
	}
	if byState, err := m.s.store.CountByState(ctx); err != nil {
		fail(ds.builds, err)
	} else {
		for st, n := range byState {
			ch <- prometheus.MustNewConstMetric(ds.builds, prometheus.GaugeValue, float64(n), string(st))
		}
	}
	if qs, err := m.s.queues(); err != nil {
		fail(ds.queue, err)
	} else {
		for _, q := range qs {
			for _, c := range []struct {
				state string
				n     int
			}{{"pending", q.Pending}, {"active", q.Active}, {"scheduled", q.Scheduled}, {"retry", q.Retry}, {"archived", q.Archived}} {
				ch <- prometheus.MustNewConstMetric(ds.queue, prometheus.GaugeValue, float64(c.n), q.Name, c.state)
			}
		}
	}
	if ws, err := m.s.store.Workers(ctx); err != nil {
		fail(ds.workers, err)
	} else {
		ch <- prometheus.MustNewConstMetric(ds.workers, prometheus.GaugeValue, float64(len(ws)))
		for _, w := range ws {
			ch <- prometheus.MustNewConstMetric(ds.busy, prometheus.GaugeValue, float64(len(w.Builds)), w.ID, w.Arch)
		}
	}
	if counters, err := m.s.store.Counters(ctx); err != nil {
		fail(prometheus.NewDesc("fbs_counters", "Service-wide counters.", nil, nil), err)
	} else {
		for name, n := range counters {
			if kind, ok := strings.CutPrefix(name, retention.CounterPrefix); ok {
				ch <- prometheus.MustNewConstMetric(ds.removed, prometheus.CounterValue, float64(n), kind)
				continue
			}
			if !counterName().MatchString(name) {
				continue
			}
			d := prometheus.NewDesc("fbs_"+name+"_total", fmt.Sprintf("Service-wide counter %s.", name), nil, nil)
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n))
		}
	}
	if hs, err := m.s.rec.Histograms(ctx); err != nil {
		fail(ds.buildDur, err)
	} else {
		for _, h := range hs {
			d, labels := ds.stageDur, []string{h.Labels["type"], h.Labels["stage"]}
			if h.Family == metrics.FamilyBuild {
				d, labels = ds.buildDur, []string{h.Labels["type"], h.Labels["state"]}
			}
			ch <- prometheus.MustNewConstHistogram(d, h.Count, h.Sum, h.Buckets, labels...)
		}
	}
	ch <- prometheus.MustNewConstMetric(ds.up, prometheus.GaugeValue, up)
}
