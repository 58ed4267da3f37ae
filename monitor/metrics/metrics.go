// Package metrics records build and stage durations in Redis as histogram
// buckets, so that every worker host adds to the same histograms, and reads
// them back for the monitor, which exports them to Prometheus at scrape time.
//
// Each series is a set of fields of one Redis hash, incremented with HINCRBY:
// one field per bucket (not cumulative; the reader sums them), a count and a
// sum in milliseconds. Bucket fields carry their upper bound ("le=60"), so a
// change of bucket layout never mixes old counts into the wrong bucket. The
// hashes are rediskey.BuildSeconds and rediskey.StageSeconds; Recorder is
// the only code that reads or writes them.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/rediskey"
)

// BuildBuckets are the upper bounds, in seconds, of the build duration
// buckets: from half a minute to eight hours.
var BuildBuckets = []float64{30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800}

// StageBuckets are the upper bounds, in seconds, of the stage duration
// buckets: from a second to four hours.
var StageBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400}

// Histogram families, the Name of a Histogram.
const (
	FamilyBuild = "build"
	FamilyStage = "stage"
)

// Recorder adds build and stage durations to the shared histograms.
type Recorder struct {
	rdb redis.UniversalClient
}

// NewRecorder returns a recorder over rdb; the caller owns rdb.
func NewRecorder(rdb redis.UniversalClient) *Recorder { return &Recorder{rdb: rdb} }

// BuildDone records that a build of type typ ended in the final state state
// after running for d.
func (r *Recorder) BuildDone(ctx context.Context, typ tasks.ImageType, state tasks.State, d time.Duration) error {
	if !typ.Valid() {
		return fmt.Errorf("record build duration: unknown image type %q", typ)
	}
	if !state.Final() {
		return fmt.Errorf("record build duration: state %q is not final", state)
	}
	return r.observe(ctx, rediskey.BuildSeconds, string(typ)+"/"+string(state), BuildBuckets, d)
}

// StageDone records that a pipeline stage of a build of type typ took d.
// Workers record every stage that ran; the monitor's build page estimates
// a running stage from them (StageEstimates).
func (r *Recorder) StageDone(ctx context.Context, typ tasks.ImageType, stage tasks.Stage, d time.Duration) error {
	if !typ.Valid() {
		return fmt.Errorf("record stage duration: unknown image type %q", typ)
	}
	if stage == "" || strings.ContainsAny(string(stage), "/\n") {
		return fmt.Errorf("record stage duration: bad stage name %q", stage)
	}
	return r.observe(ctx, rediskey.StageSeconds, string(typ)+"/"+string(stage), StageBuckets, d)
}

// Estimate is what past builds of a type say of one stage.
type Estimate struct {
	// Mean is the stage's mean duration.
	Mean time.Duration `json:"mean"`
	// Count is how many durations it is the mean of.
	Count uint64 `json:"count"`
}

// StageEstimates returns, for builds of type typ, each stage's mean
// duration so far, for the stages with at least one recorded.
func (r *Recorder) StageEstimates(ctx context.Context, typ tasks.ImageType) (map[tasks.Stage]Estimate, error) {
	m, err := r.rdb.HGetAll(ctx, rediskey.StageSeconds).Result()
	if err != nil {
		return nil, fmt.Errorf("read stage duration histograms: %w", err)
	}
	prefix := string(typ) + "/"
	out := map[tasks.Stage]Estimate{}
	for field, v := range m {
		name, ok := strings.CutPrefix(field, prefix)
		if !ok {
			continue
		}
		stage, what, ok := strings.Cut(name, "/")
		if !ok || (what != "count" && what != "sum_ms") {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("read stage duration histograms: field %q: %w", field, err)
		}
		e := out[tasks.Stage(stage)]
		if what == "count" {
			e.Count = n
		} else {
			e.Mean = time.Duration(n) * time.Millisecond // a sum until divided below
		}
		out[tasks.Stage(stage)] = e
	}
	for st, e := range out {
		if e.Count == 0 {
			delete(out, st)
			continue
		}
		e.Mean = (e.Mean / time.Duration(e.Count)).Round(time.Millisecond)
		out[st] = e
	}
	return out, nil
}

func (r *Recorder) observe(ctx context.Context, key, series string, buckets []float64, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("record duration of %s: negative duration %v", series, d)
	}
	sec := d.Seconds()
	le := "+Inf"
	for _, b := range buckets {
		if sec <= b {
			le = formatBound(b)
			break
		}
	}
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HIncrBy(ctx, key, series+"/le="+le, 1)
		p.HIncrBy(ctx, key, series+"/count", 1)
		p.HIncrBy(ctx, key, series+"/sum_ms", d.Milliseconds())
		return nil
	})
	if err != nil {
		return fmt.Errorf("record duration of %s: %w", series, err)
	}
	return nil
}

func formatBound(b float64) string { return strconv.FormatFloat(b, 'g', -1, 64) }

// Histogram is one series read back: what Prometheus calls a histogram with
// its labels.
type Histogram struct {
	// Family is FamilyBuild or FamilyStage.
	Family string
	// Labels are type and state for builds, type and stage for stages.
	Labels map[string]string
	// Count is how many durations were recorded; Sum their total in seconds.
	Count uint64
	Sum   float64
	// Buckets maps each upper bound (seconds) to the cumulative count of
	// durations at most that long; the +Inf bucket is Count.
	Buckets map[float64]uint64
}

// Histograms reads every series of both families, sorted by family and
// labels.
func (r *Recorder) Histograms(ctx context.Context) ([]Histogram, error) {
	var out []Histogram
	for _, f := range []struct {
		key, family string
		labels      []string
		buckets     []float64
	}{
		{rediskey.BuildSeconds, FamilyBuild, []string{"type", "state"}, BuildBuckets},
		{rediskey.StageSeconds, FamilyStage, []string{"type", "stage"}, StageBuckets},
	} {
		m, err := r.rdb.HGetAll(ctx, f.key).Result()
		if err != nil {
			return nil, fmt.Errorf("read %s duration histograms: %w", f.family, err)
		}
		hs, err := parse(f.family, f.labels, f.buckets, m)
		if err != nil {
			return nil, err
		}
		out = append(out, hs...)
	}
	return out, nil
}

type series struct {
	count, sumMS uint64
	raw          map[float64]uint64
}

// parse turns the fields of one hash into histograms. Fields it does not
// understand are an error naming the field: they mean another writer uses
// the key.
func parse(family string, labels []string, buckets []float64, m map[string]string) ([]Histogram, error) {
	all := map[string]*series{}
	for field, v := range m {
		i := strings.LastIndexByte(field, '/')
		if i < 0 {
			return nil, fmt.Errorf("read %s duration histograms: malformed field %q", family, field)
		}
		name, what := field[:i], field[i+1:]
		if len(strings.Split(name, "/")) != len(labels) {
			return nil, fmt.Errorf("read %s duration histograms: field %q: want %d labels", family, field, len(labels))
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("read %s duration histograms: field %q: %w", family, field, err)
		}
		s := all[name]
		if s == nil {
			s = &series{raw: map[float64]uint64{}}
			all[name] = s
		}
		switch {
		case what == "count":
			s.count = n
		case what == "sum_ms":
			s.sumMS = n
		case strings.HasPrefix(what, "le="):
			b, err := strconv.ParseFloat(what[3:], 64)
			if err != nil {
				return nil, fmt.Errorf("read %s duration histograms: field %q: bad bound: %w", family, field, err)
			}
			s.raw[b] += n
		default:
			return nil, fmt.Errorf("read %s duration histograms: malformed field %q", family, field)
		}
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]Histogram, 0, len(names))
	for _, name := range names {
		s := all[name]
		h := Histogram{Family: family, Labels: map[string]string{}, Count: s.count, Sum: float64(s.sumMS) / 1000, Buckets: map[float64]uint64{}}
		for i, v := range strings.Split(name, "/") {
			h.Labels[labels[i]] = v
		}
		// Current bounds plus any bound recorded under an older layout.
		bounds := slices.Clone(buckets)
		for b := range s.raw {
			if !math.IsInf(b, 1) && !slices.Contains(bounds, b) {
				bounds = append(bounds, b)
			}
		}
		slices.Sort(bounds)
		var cum uint64
		for _, b := range bounds {
			cum += s.raw[b]
			h.Buckets[b] = cum
		}
		if cum > h.Count {
			return nil, errors.New("read " + family + " duration histograms: series " + name + ": buckets exceed count")
		}
		out = append(out, h)
	}
	return out, nil
}
