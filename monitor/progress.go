package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
)

// progressView is the build page's "Now" section: the running build's
// current stage with a progress bar and an estimate of the time left,
// from the stage's bytes (tasks.Progress) or, for stages without bytes
// (the image tools), from the mean duration of the stage in past builds
// of the same type (monitor/metrics). build.js keeps it current from the
// log's stage and progress lines as they stream.
type progressView struct {
	Stage tasks.Stage
	// Since is when the stage started, Now when the page was made (the
	// script measures time on the server's clock).
	Since, Now string
	// Bytes is the stage's last progress, if it moves bytes.
	Bytes *tasks.Progress
	// Estimates is the JSON of stageEstimate by stage.
	Estimates string
	// Value is the bar's value out of 1000, -1 when unknown; Text says
	// the same in words.
	Value int
	Text  string
}

// stageEstimate is what the page's script is told of a stage.
type stageEstimate struct {
	// Mean is in seconds.
	Mean  float64 `json:"mean"`
	Count uint64  `json:"count"`
}

// progress makes the Now section of running build b, at now.
func (s *Server) progress(ctx context.Context, b *tasks.Build, now time.Time) *progressView {
	if b.State != tasks.StateRunning || b.Stage == "" || b.Waiting != "" {
		return nil
	}
	since := b.Started
	if n := len(b.Stages); n > 0 {
		last := b.Stages[n-1]
		since = last.Started.Add(last.Duration)
	}
	est := map[tasks.Stage]stageEstimate{}
	if m, err := s.rec.StageEstimates(ctx, b.Spec.Type); err != nil {
		s.log.Warn("monitor: read stage estimates", "build", b.ID, "err", err)
	} else {
		for st, e := range m {
			est[st] = stageEstimate{Mean: e.Mean.Seconds(), Count: e.Count}
		}
	}
	js, _ := json.Marshal(est)
	v := &progressView{Stage: b.Stage, Since: since.UTC().Format(time.RFC3339Nano), Now: now.UTC().Format(time.RFC3339Nano),
		Estimates: string(js), Value: -1}
	if b.Progress != nil && b.Progress.Stage == b.Stage {
		v.Bytes = b.Progress
	}
	f, text := progressText(v.Bytes, est[b.Stage], now.Sub(since))
	if f >= 0 {
		v.Value = int(f * 1000)
	}
	v.Text = text
	return v
}

// progressText says how far a stage is: from its bytes when p is set, else
// from how long it has run (elapsed) against the mean of past builds. It
// returns the fraction done, -1 when unknown. build.js words it the same.
func progressText(p *tasks.Progress, e stageEstimate, elapsed time.Duration) (float64, string) {
	if p != nil {
		f, ok := p.Fraction()
		text := tasks.HumanSize(p.Done)
		if ok {
			text = fmt.Sprintf("%d%% – %s of %s", int(f*100), tasks.HumanSize(p.Done), tasks.HumanSize(p.Total))
		} else {
			f = -1
		}
		text += fmt.Sprintf(" at %.1f MB/s", p.Rate/1e6)
		if d, ok := p.Remaining(); ok {
			text += ", about " + d.String() + " left"
		}
		if p.Item != "" {
			text += " (" + p.Item + ")"
		}
		return f, text
	}
	elapsed = max(elapsed, 0).Round(time.Second)
	if e.Count == 0 || e.Mean <= 0 {
		return -1, "running for " + elapsed.String() + " (no earlier build of this type to estimate from)"
	}
	mean := time.Duration(e.Mean * float64(time.Second)).Round(time.Second)
	text := fmt.Sprintf("running for %s; it took %s on average in %d earlier build(s) of this type", elapsed, mean, e.Count)
	if left := mean - elapsed; left > 0 {
		text += ", about " + left.String() + " left"
	} else {
		text += ", longer than usual"
	}
	return min(elapsed.Seconds()/e.Mean, 0.99), text
}
