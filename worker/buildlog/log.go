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
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
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

	mu sync.Mutex
	f  *os.File
	// buf holds the lines not yet in the file: those of the next flush,
	// and those a full disk refused, kept until it has room again.
	buf      []byte
	maxBuf   int
	reserved int64 // bytes reserved past the file's end at Create
	full     bool  // the last write met a full disk
	lines    int
	tail     []string
	err      error
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
	// Reserve is how many bytes of disk Create reserves for the log past
	// its end (fallocate, FALLOC_FL_KEEP_SIZE), so that a data dir filled
	// by something else does not stop the log; Close gives back what was
	// not used. 0 means DefaultReserve, a negative value none.
	Reserve int64
	// MaxBuffered bounds the bytes of lines kept in memory while the disk
	// refuses them (0: DefaultMaxBuffered); lines past it are dropped, and
	// Err says so.
	MaxBuffered int
}

// DefaultReserve is the disk space a build log reserves when it is created:
// the logs of the builds fbs runs are well under it.
const DefaultReserve = 4 << 20

// DefaultMaxBuffered is how many bytes of lines a Log keeps in memory while
// its disk is full, waiting for room.
const DefaultMaxBuffered = 8 << 20

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
	if opts.Reserve == 0 {
		opts.Reserve = DefaultReserve
	}
	if opts.MaxBuffered <= 0 {
		opts.MaxBuffered = DefaultMaxBuffered
	}
	l := &Log{path: path, now: opts.Now, notify: opts.Notify, redact: opts.Redact, f: f, maxBuf: opts.MaxBuffered, lines: n}
	if opts.Reserve > 0 {
		// Best effort: a file system without fallocate, or a disk full
		// already, leaves the log to the memory buffer alone.
		if fi, err := f.Stat(); err == nil {
			if unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, fi.Size(), opts.Reserve) == nil {
				l.reserved = opts.Reserve
			}
		}
	}
	return l, nil
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
	if len(l.buf)+len(l.lastTs)+len(src)+len(text)+5 > l.maxBuf && len(l.buf) > 0 {
		// The disk has refused lines for long: drop this one rather
		// than grow without bound.
		if l.err == nil {
			l.err = fmt.Errorf("write build log: disk full and %d bytes of lines kept in memory: dropping lines", len(l.buf))
		}
		return
	}
	l.buf = append(l.buf, l.lastTs...)
	l.buf = append(l.buf, ' ')
	l.buf = append(l.buf, src...)
	l.buf = append(l.buf, " | "...)
	l.buf = append(l.buf, text...)
	l.buf = append(l.buf, '\n')
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
		l.writeBuf()
		if len(l.buf) > 0 && l.flush == nil {
			// The disk is full: try again later, whether or not
			// new lines come.
			l.flush = time.AfterFunc(fullRetry, l.flushNow)
		}
	}
	l.mu.Unlock()
	l.notify()
}

// fullRetry is how often a Log whose disk is full tries to write the lines
// it keeps.
const fullRetry = 200 * time.Millisecond

// writeBuf writes the buffered lines to the file. What a full disk refuses
// stays buffered, in order, for the next try; the first time, the log says
// so in a line of its own. l.mu is held.
func (l *Log) writeBuf() {
	if len(l.buf) == 0 {
		return
	}
	n, err := l.f.Write(l.buf)
	l.buf = l.buf[:copy(l.buf, l.buf[n:])]
	switch {
	case err == nil:
		l.full = false
	case errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT):
		if !l.full {
			l.full = true
			l.appendNote(fmt.Sprintf("the disk of the build log is full (%v): keeping lines in memory until it has room", err))
		}
	default:
		if l.err == nil {
			l.err = fmt.Errorf("write build log: %w", err)
		}
	}
}

// appendNote adds a line from fbs itself to the buffer. l.mu is held.
func (l *Log) appendNote(text string) {
	now := l.now().UTC()
	l.buf = append(l.buf, now.Format("2006-01-02T15:04:05.000Z")+" fbs | "+text+"\n"...)
	l.lines++
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
	l.writeBuf()
	var err error
	if len(l.buf) > 0 {
		err = fmt.Errorf("%d bytes of lines could not be written: the disk is full", len(l.buf))
	}
	if l.reserved > 0 {
		// Give back the reserved space the log did not use.
		if fi, serr := l.f.Stat(); serr == nil {
			_ = unix.Fallocate(int(l.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, fi.Size(), l.reserved)
		}
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if err != nil && l.err == nil {
		l.err = fmt.Errorf("close build log: %w", err)
	}
	return l.err
}
