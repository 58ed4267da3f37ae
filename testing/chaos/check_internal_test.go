package chaos

import (
	"fmt"
	"strings"
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

// TestLineProblems pins what the soak counts as lost or repeated log
// lines, and what it allows: a prefix of a run whose attempt was lost,
// and of the last run of a build the reaper failed as lost (finding 12 of
// doc/reliability.md: that run's tail was refused by the attempt fence).
func TestLineProblems(t *testing.T) {
	t.Parallel()
	const id = "01M8F5FWFS57C5H33WDX9ZCB02"
	lines := func(tok string, total int, nums ...int) []string {
		var ls []string
		for _, n := range nums {
			ls = append(ls, fmt.Sprintf("2026-11-27T18:00:00Z chaos-line %s %d/%d", tok, n, total))
		}
		return ls
	}
	// t1 ran first and ended well (its attempt then judged lost), t2
	// ran last.
	runs := func(lastStatus string) map[string]*toolRun {
		return map[string]*toolRun{
			"t1": {token: "t1", build: id, start: 1, end: 2, status: "0"},
			"t2": {token: "t2", build: id, start: 3, end: 4, status: lastStatus},
		}
	}
	tests := []struct {
		name       string
		src        string
		ls         []string
		lastStatus string
		lostLast   bool
		want       string // "" for no problem, else a part of the first
	}{
		{"both runs whole", "stream", append(lines("t1", 3, 1, 2, 3), lines("t2", 3, 1, 2, 3)...), "0", false, ""},
		{"earlier run's prefix", "stream", append(lines("t1", 3, 1), lines("t2", 3, 1, 2, 3)...), "0", false, ""},
		{"last run's tail missing", "stream", append(lines("t1", 3, 1), lines("t2", 3, 1, 2)...), "0", false, "line 3 of run t2 present 0 times"},
		{"last run's tail missing, build failed as lost", "stream", append(lines("t1", 3, 1), lines("t2", 3, 1, 2)...), "0", true, ""},
		{"last run's tail missing, in the staged log, failed as lost", "staged log", lines("t2", 4, 1), "0", true, ""},
		{"last run killed: a prefix", "stream", lines("t2", 5, 1, 2), "137", false, ""},
		{"a gap in a prefix", "stream", lines("t2", 5, 1, 2, 4), "137", false, "line 3 of run t2 present 0 times"},
		{"a gap in a prefix, failed as lost", "stream", lines("t2", 5, 1, 3), "0", true, "line 2 of run t2 present 0 times"},
		{"a line twice", "staged log", lines("t2", 3, 1, 2, 2, 3), "0", false, "line 2 of run t2 present 2 times"},
		{"a line twice in an earlier run", "stream", append(lines("t1", 3, 1, 1), lines("t2", 3, 1, 2, 3)...), "0", false, "line 1 of run t1 present 2 times"},
		{"completed last run without lines", "stream", lines("t1", 3, 1, 2, 3), "0", false, "completed run t2 has no lines"},
		{"completed last run without lines, failed as lost", "stream", lines("t1", 3, 1, 2, 3), "0", true, ""},
		{"completed last run without lines, staged log", "staged log", lines("t1", 3, 1, 2, 3), "0", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad, n := lineProblems(id, tt.src, tt.ls, runs(tt.lastStatus), tt.lostLast)
			if n != len(tt.ls) {
				t.Errorf("counted %d numbered lines, want %d", n, len(tt.ls))
			}
			switch {
			case tt.want == "" && len(bad) > 0:
				t.Errorf("problems %q, want none", bad)
			case tt.want != "" && (len(bad) == 0 || !strings.Contains(bad[0], tt.want)):
				t.Errorf("problems %q, want one saying %q", bad, tt.want)
			}
		})
	}
}
