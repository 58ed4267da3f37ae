package chaos

import (
	"testing"
	"time"
)

// TestDuringOutage pins which API calls the soak lets answer 503: those
// under way at some moment of a Redis outage or its grace, and no other.
func TestDuringOutage(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 27, 17, 9, 28, 0, time.UTC)
	sec := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Second))) }
	down := []window{{from: sec(0), to: sec(4)}}
	tests := []struct {
		name    string
		at, end time.Time
		want    bool
	}{
		{"made and answered during the outage", sec(1), sec(2), true},
		{"made before, answered during", sec(-2), sec(2.8), true},
		{"made during, answered after", sec(3), sec(12), true},
		{"made within the grace after", sec(8), sec(8.5), true},
		{"made and answered before", sec(-5), sec(-1), false},
		{"made after the grace", sec(9.5), sec(10), false},
		{"no answer time: made before", sec(-1), time.Time{}, false},
		{"no answer time: made during", sec(1), time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := duringOutage(apiCall{at: tt.at, end: tt.end}, down)
			if got != tt.want {
				t.Errorf("duringOutage(at %+.1fs, end %v) = %v, want %v", tt.at.Sub(t0).Seconds(), tt.end, got, tt.want)
			}
		})
	}
	if !duringOutage(apiCall{at: sec(100), end: sec(101)}, []window{{from: sec(99)}}) {
		t.Error("a call during an outage not yet over is not counted as during it")
	}
}
