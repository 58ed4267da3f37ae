package monitor

import (
	"context"
	"fmt"
	"regexp"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-fbs/fbs/monitor/metrics"
)

// Metric descriptions. Everything is read from Redis at scrape time, so
// every monitor reports the same service-wide numbers.
var (
	descUp       = prometheus.NewDesc("fbs_redis_up", "Whether the monitor could read Redis during this scrape.", nil, nil)
	descBuilds   = prometheus.NewDesc("fbs_builds", "Builds by state.", []string{"state"}, nil)
	descQueue    = prometheus.NewDesc("fbs_queue_tasks", "Tasks in each asynq queue by task state.", []string{"queue", "state"}, nil)
	descWorkers  = prometheus.NewDesc("fbs_workers_alive", "Workers whose heartbeat is current.", nil, nil)
	descBusy     = prometheus.NewDesc("fbs_worker_builds", "Builds running on each worker.", []string{"worker", "arch"}, nil)
	descBuildDur = prometheus.NewDesc("fbs_build_duration_seconds", "How long builds ran, by image type and final state.", []string{"type", "state"}, nil)
	descStageDur = prometheus.NewDesc("fbs_stage_duration_seconds", "How long pipeline stages took.", []string{"stage"}, nil)
)

// counterName keeps the service-wide counters whose names make valid
// metric names (log_lines_published, emails_sent, ...).
var counterName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// collector exports the state in Redis as Prometheus metrics.
type collector struct{ s *Server }

// Describe sends the fixed descriptions; the counters are unchecked (their
// set grows as other parts of fbs add counters).
func (m *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descBuilds, descQueue, descWorkers, descBusy, descBuildDur, descStageDur} {
		ch <- d
	}
}

// Collect reads Redis. A part that fails is reported as an invalid metric
// (promhttp logs it and serves the rest) and fbs_redis_up is 0.
func (m *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), m.s.cfg.RequestTimeout)
	defer cancel()
	up := 1.0
	fail := func(d *prometheus.Desc, err error) {
		up = 0
		ch <- prometheus.NewInvalidMetric(d, err)
	}
	if byState, err := m.s.store.CountByState(ctx); err != nil {
		fail(descBuilds, err)
	} else {
		for st, n := range byState {
			ch <- prometheus.MustNewConstMetric(descBuilds, prometheus.GaugeValue, float64(n), string(st))
		}
	}
	if qs, err := m.s.queues(); err != nil {
		fail(descQueue, err)
	} else {
		for _, q := range qs {
			for _, c := range []struct {
				state string
				n     int
			}{{"pending", q.Pending}, {"active", q.Active}, {"scheduled", q.Scheduled}, {"retry", q.Retry}, {"archived", q.Archived}} {
				ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(c.n), q.Name, c.state)
			}
		}
	}
	if ws, err := m.s.store.Workers(ctx); err != nil {
		fail(descWorkers, err)
	} else {
		ch <- prometheus.MustNewConstMetric(descWorkers, prometheus.GaugeValue, float64(len(ws)))
		for _, w := range ws {
			ch <- prometheus.MustNewConstMetric(descBusy, prometheus.GaugeValue, float64(len(w.Builds)), w.ID, w.Arch)
		}
	}
	if counters, err := m.s.store.Counters(ctx); err != nil {
		fail(prometheus.NewDesc("fbs_counters", "Service-wide counters.", nil, nil), err)
	} else {
		for name, n := range counters {
			if !counterName.MatchString(name) {
				continue
			}
			d := prometheus.NewDesc("fbs_"+name+"_total", fmt.Sprintf("Service-wide counter %s.", name), nil, nil)
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n))
		}
	}
	if hs, err := m.s.rec.Histograms(ctx); err != nil {
		fail(descBuildDur, err)
	} else {
		for _, h := range hs {
			d, labels := descStageDur, []string{h.Labels["stage"]}
			if h.Family == metrics.FamilyBuild {
				d, labels = descBuildDur, []string{h.Labels["type"], h.Labels["state"]}
			}
			ch <- prometheus.MustNewConstHistogram(d, h.Count, h.Sum, h.Buckets, labels...)
		}
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up)
}
