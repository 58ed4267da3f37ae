// Package buildlog writes the log of one build: a file under the worker's
// data dir, which is the durable copy that goes to staging, and a Redis stream
// the monitor and `fbs logs` read live from any host.
//
// Every line is numbered from 1. The publisher tails the file and adds the
// lines to the stream in runs, each entry's ID being the number of its last
// line (tasks/builds), so a line that reached Redis before a failure is never
// added twice, and after an outage the publisher catches up from the file, so
// no line is lost.
package buildlog

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// TailLines is how many of the last tool lines a Log keeps for the build
// status of a failed build.
const TailLines = 20

// Log is the log of one build. It is safe for concurrent use.
type Log struct {
	path   string
	now    func() time.Time
	notify func()
	redact func(string) string

	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer
	lines int
	tail  []string
	err   error
	// flush is the pending delayed flush, nil when none is scheduled:
	// lines reach the file (and the publisher) within FlushDelay, in one
	// write for many lines rather than one per line.
	flush *time.Timer
	// lastMs and lastTs cache the timestamp text of the current millisecond.
	lastMs int64
	lastTs string
}

// FlushDelay is the longest a line waits in memory before it is written to
// the log file and offered to the publisher.
const FlushDelay = 10 * time.Millisecond

// Options configures a Log.
type Options struct {
	// Now is the clock for timestamps (default time.Now).
	Now func() time.Time
	// Notify is called after lines were written (the publisher's wake-up); it
	// must not block.
	Notify func()
	// Redact, when set, rewrites every line before it is written: the
	// worker hides the build kickstart's secrets with it
	// (kickstarts.Redaction.Line), whichever tool echoes them.
	Redact func(string) string
}

// Create opens the log file at path for appending, counting the lines it
// holds already (a build re-queued on this host, or lines copied from the
// stream of an earlier attempt).
func Create(path string, opts Options) (*Log, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Notify == nil {
		opts.Notify = func() {}
	}
	n, err := countLines(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open build log: %w", err)
	}
	return &Log{path: path, now: opts.Now, notify: opts.Notify, redact: opts.Redact, f: f, w: bufio.NewWriterSize(f, 64<<10), lines: n}, nil
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read build log: %w", err)
	}
	defer f.Close()
	n := 0
	buf := make([]byte, 64<<10)
	for {
		k, err := f.Read(buf)
		n += strings.Count(string(buf[:k]), "\n")
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("read build log: %w", err)
		}
	}
}

// Path is the log file.
func (l *Log) Path() string { return l.path }

// Printf writes one line from fbs itself (stage starts and ends, commands).
func (l *Log) Printf(format string, args ...any) {
	l.line("fbs", fmt.Sprintf(format, args...), false)
}

// Write takes the tool's output; each call is one line (the builders' runner
// splits output into lines). A trailing newline is dropped.
func (l *Log) Write(p []byte) (int, error) {
	s := strings.TrimRight(string(p), "\n")
	for _, part := range strings.Split(s, "\n") {
		l.line("out", part, true)
	}
	return len(p), l.Err()
}

func (l *Log) line(src, text string, tool bool) {
	text = strings.TrimRight(text, "\r")
	if l.redact != nil {
		text = l.redact(text)
	}
	now := l.now().UTC()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	if ms := now.UnixMilli(); ms != l.lastMs || l.lastTs == "" {
		l.lastMs, l.lastTs = ms, now.Format("2006-01-02T15:04:05.000Z")
	}
	l.w.WriteString(l.lastTs)
	l.w.WriteByte(' ')
	l.w.WriteString(src)
	l.w.WriteString(" | ")
	l.w.WriteString(text)
	if err := l.w.WriteByte('\n'); err != nil && l.err == nil {
		l.err = fmt.Errorf("write build log: %w", err)
	}
	l.lines++
	if tool {
		if len(l.tail) == TailLines {
			l.tail = append(l.tail[:0], l.tail[1:]...)
		}
		l.tail = append(l.tail, text)
	}
	if l.flush == nil {
		l.flush = time.AfterFunc(FlushDelay, l.flushNow)
	}
}

// flushNow writes the buffered lines to the file and wakes the publisher.
func (l *Log) flushNow() {
	l.mu.Lock()
	l.flush = nil
	if l.f != nil {
		if err := l.w.Flush(); err != nil && l.err == nil {
			l.err = fmt.Errorf("write build log: %w", err)
		}
	}
	l.mu.Unlock()
	l.notify()
}

// Sync writes buffered lines to the file now, for readers of the file.
func (l *Log) Sync() error {
	l.flushNow()
	return l.Err()
}

// LineCount is how many lines the log holds.
func (l *Log) LineCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines
}

// Tail returns the last lines of tool output (at most TailLines).
func (l *Log) Tail() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.tail...)
}

// Err returns the first write error, if any.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Close flushes and closes the file; lines written after Close are dropped.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return l.err
	}
	if l.flush != nil {
		l.flush.Stop()
		l.flush = nil
	}
	err := l.w.Flush()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if err != nil && l.err == nil {
		l.err = fmt.Errorf("close build log: %w", err)
	}
	return l.err
}
