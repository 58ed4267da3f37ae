// Package progress measures the long byte-moving parts of a build (the boot
// ISO download, the side repository's downloads, every staging transfer) and
// reports how far they are every few seconds: a line in the build log
// (tasks.Progress.Line, which the monitor's page and `fbs logs -f` read as it
// streams) and a tasks.Progress handed to the worker for the build record.
//
// Counting is an atomic add per chunk written; the clock is read once per
// chunk and a report made at most once per interval, so a transfer of any
// size costs a handful of lines and nothing measurable in speed (see
// doc/benchmarks.md, *Progress reporting*).
package progress

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
)

// Interval is how often a transfer reports when Reporter.Interval is not
// set: often enough that a page looks alive, rarely enough that a log holds
// a few hundred lines for an hour's transfer.
const Interval = 2 * time.Second

// Reporter is where a build's progress goes. A nil *Reporter discards
// everything; its meters still count.
type Reporter struct {
	// Log receives each progress line (and, through Logf, the stage's
	// other lines) for the build log. Nil discards them.
	Log func(format string, args ...any)
	// Publish receives each report as it is logged, and a last one when
	// a meter finishes. It is called on the transferring goroutine and
	// must not block. Nil discards them.
	Publish func(tasks.Progress)
	// Interval is the time between two reports of a meter; 0 means
	// Interval. Tests shorten it; fbs does not.
	Interval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Logf writes a line to the build log; on a nil Reporter it does nothing.
func (r *Reporter) Logf(format string, args ...any) {
	if r != nil && r.Log != nil {
		r.Log(format, args...)
	}
}

func (r *Reporter) now() time.Time {
	if r == nil || r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func (r *Reporter) interval() time.Duration {
	if r == nil || r.Interval <= 0 {
		return Interval
	}
	return r.Interval
}

// Meter counts the bytes of one transfer and reports them every interval.
// Add (and Write) are safe for concurrent use: the side repository's
// parallel downloads share one meter. A nil *Meter counts nothing and
// reports nothing.
type Meter struct {
	r     *Reporter
	stage tasks.Stage
	item  string
	total atomic.Int64
	done  atomic.Int64
	// due is when the next report is due, in Unix nanoseconds.
	due   atomic.Int64
	every time.Duration

	mu       sync.Mutex // serializes reports
	lastDone int64
	lastAt   time.Time
	finished bool
}

// Start returns a meter for total bytes (0 when unknown) of item in stage.
// item is shown in the log and the build page: pass a file name, or a URL
// through tasks.RedactURL, never one holding a password.
func (r *Reporter) Start(stage tasks.Stage, item string, total int64) *Meter {
	now := r.now()
	m := &Meter{r: r, stage: stage, item: item, every: r.interval(), lastAt: now}
	m.total.Store(max(total, 0))
	m.due.Store(now.Add(m.every).UnixNano())
	return m
}

// SetTotal changes the total, when it is learnt late.
func (m *Meter) SetTotal(total int64) {
	if m != nil {
		m.total.Store(max(total, 0))
	}
}

// Add counts n more bytes, reporting when a report is due.
func (m *Meter) Add(n int64) {
	if m == nil {
		return
	}
	m.done.Add(n)
	if m.r == nil {
		return
	}
	now := m.r.now()
	due := m.due.Load()
	if now.UnixNano() < due || !m.due.CompareAndSwap(due, now.Add(m.every).UnixNano()) {
		return
	}
	m.report(now, false)
}

// Write counts len(p) bytes: a meter is the third writer of an
// io.MultiWriter beside the file and the hash.
func (m *Meter) Write(p []byte) (int, error) {
	m.Add(int64(len(p)))
	return len(p), nil
}

// Done is the bytes counted so far.
func (m *Meter) Done() int64 {
	if m == nil {
		return 0
	}
	return m.done.Load()
}

// Finish publishes the final count (no log line: the stage logs its own
// summary) once; later calls do nothing.
func (m *Meter) Finish() {
	if m == nil || m.r == nil {
		return
	}
	m.report(m.r.now(), true)
}

func (m *Meter) report(now time.Time, final bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.finished {
		return
	}
	m.finished = final
	done := m.done.Load()
	p := tasks.Progress{Stage: m.stage, Item: m.item, Done: done, Total: m.total.Load(), Updated: now.UTC()}
	if dt := now.Sub(m.lastAt); dt > 0 && done >= m.lastDone {
		p.Rate = float64(done-m.lastDone) / dt.Seconds()
	}
	m.lastDone, m.lastAt = done, now
	if !final {
		m.r.Logf("%s", p.Line())
	}
	if m.r.Publish != nil {
		m.r.Publish(p)
	}
}

// Reader returns r counting what is read from it into m.
func (m *Meter) Reader(r io.Reader) io.Reader { return &reader{r: r, m: m} }

type reader struct {
	r io.Reader
	m *Meter
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.m.Add(int64(n))
	}
	return n, err
}
