package progress

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks"
)

// clock is a clock the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) step(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestMeterReportsEveryInterval(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	var lines []string
	var pubs []tasks.Progress
	r := &Reporter{
		Log:     func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) },
		Publish: func(p tasks.Progress) { pubs = append(pubs, p) },
		Now:     clk.now,
	}
	m := r.Start(tasks.StageTransfer, "a.iso", 100e6)
	// 10 MB every half second for 5 s: 20 MB/s, a report every 2 s.
	for range 10 {
		clk.step(500 * time.Millisecond)
		if _, err := m.Write(make([]byte, 10e6)); err != nil {
			t.Fatal(err)
		}
	}
	m.Finish()
	m.Finish()
	want := []string{
		"progress transfer: 40000000/100000000 bytes (40%, 20.0 MB/s, 3s left) a.iso",
		"progress transfer: 80000000/100000000 bytes (80%, 20.0 MB/s, 1s left) a.iso",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("log lines (-want +got):\n%s", diff)
	}
	wantPubs := []tasks.Progress{
		{Stage: tasks.StageTransfer, Item: "a.iso", Done: 40e6, Total: 100e6, Rate: 20e6, Updated: start.Add(2 * time.Second)},
		{Stage: tasks.StageTransfer, Item: "a.iso", Done: 80e6, Total: 100e6, Rate: 20e6, Updated: start.Add(4 * time.Second)},
		{Stage: tasks.StageTransfer, Item: "a.iso", Done: 100e6, Total: 100e6, Rate: 20e6, Updated: start.Add(5 * time.Second)},
	}
	if diff := cmp.Diff(wantPubs, pubs); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
}

func TestMeterConcurrentAdds(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var lines []string
	r := &Reporter{Log: func(f string, a ...any) {
		mu.Lock()
		lines = append(lines, fmt.Sprintf(f, a...))
		mu.Unlock()
	}, Interval: time.Millisecond}
	m := r.Start(tasks.StageSideRepo, "8 RPMs", 8*1000*4096)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			rd := m.Reader(strings.NewReader(strings.Repeat("x", 4096)))
			buf := make([]byte, 4096)
			for range 1000 {
				n, _ := rd.Read(buf)
				if n != 4096 {
					t.Errorf("read %d bytes", n)
				}
				rd = m.Reader(strings.NewReader(strings.Repeat("x", 4096)))
			}
		})
	}
	wg.Wait()
	if got := m.Done(); got != 8*1000*4096 {
		t.Errorf("Done() = %d, want %d", got, 8*1000*4096)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, l := range lines {
		if _, ok := tasks.ParseProgressLine(l); !ok {
			t.Errorf("line %q is not a progress line", l)
		}
	}
}

func TestNilReporter(t *testing.T) {
	t.Parallel()
	var r *Reporter
	r.Logf("nothing %d", 1)
	m := r.Start(tasks.StageFetch, "x", 0)
	m.Add(5)
	m.Finish()
	if m.Done() != 5 {
		t.Errorf("Done() = %d, want 5", m.Done())
	}
}

// BenchmarkMeterWrite is the cost of counting one 32 KiB chunk (what a
// transfer's copy loop hands the meter) at the production interval.
func BenchmarkMeterWrite(b *testing.B) {
	m := (&Reporter{Log: func(string, ...any) {}}).Start(tasks.StageTransfer, "x", 0)
	chunk := make([]byte, 32<<10)
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		m.Write(chunk)
	}
}
