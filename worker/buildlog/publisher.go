package buildlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/startstop"
)

// Streamer is where a Publisher sends lines; *builds.Store implements it.
type Streamer interface {
	LastLogLine(ctx context.Context, id string) (int, error)
	AppendLogTextOf(ctx context.Context, id string, attempt, first int, text []byte, maxLen int64) (int, error)
}

var _ Streamer = (*builds.Store)(nil)

// PublisherOptions configures a Publisher.
type PublisherOptions struct {
	// MaxLen trims the stream to about this many lines (0: keep all).
	MaxLen int64
	// Attempt is the build's attempt that writes the log: once the record
	// says it is over, the publisher stops publishing (0: never stops).
	Attempt int
	// Batch is about how many bytes of lines go to Redis in one round trip
	// (default 1 MiB; a longer line goes whole).
	Batch int
	// Retry is how long to wait after a failed publish (default 1 s).
	Retry time.Duration
	// FlushTimeout bounds how long Stop keeps trying to publish the lines
	// left (default 30 s); what it could not publish stays in the file.
	FlushTimeout time.Duration
	// Logger receives the publisher's own problems (default slog.Default()).
	Logger *slog.Logger
}

// Publisher tails a build's log file into its Redis stream. The file is the
// buffer: while Redis is unreachable the publisher holds at most one batch
// in memory and catches up from the file later.
type Publisher struct {
	st   Streamer
	id   string
	path string
	opts PublisherOptions

	wake   chan struct{}
	resync atomic.Bool
	loop   startstop.Loop

	// owned by the publishing goroutine
	f    *os.File
	read int // complete lines read from the file so far
	skip int // lines already in the stream at start (-1: not known yet)
	// buf[:n] holds what was read from the file and not yet published:
	// pending lines first (numbered from first), then a partial line.
	buf     []byte
	n       int
	pending int // bytes of complete lines at the start of buf
	lines   int // how many lines those are
	first   int // the number of the first
	// over is set once the stream refused lines because the attempt is
	// over: nothing more is published.
	over bool

	statusMu sync.Mutex
	lastErr  error
	flushErr error // what the last Stop could not publish
}

// NewPublisher returns a publisher for the log of build id at path.
func NewPublisher(st Streamer, id, path string, opts PublisherOptions) *Publisher {
	if opts.Batch <= 0 {
		opts.Batch = 1 << 20
	}
	if opts.Retry <= 0 {
		opts.Retry = time.Second
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Publisher{st: st, id: id, path: path, opts: opts, skip: -1, wake: make(chan struct{}, 1)}
}

// Resync has the publisher check the stream against the file before its
// next batch, and publish again what the stream lost: call it when Redis is
// known to have lost data (a build record found missing) while the tool is
// quiet, so the stream is refilled without waiting for a new line. It never
// blocks.
func (p *Publisher) Resync() {
	p.resync.Store(true)
	p.Wake()
}

// Wake tells the publisher new lines are in the file; it never blocks.
func (p *Publisher) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Start publishes the file as it grows, until Stop or until ctx ends; then
// it publishes what is left.
func (p *Publisher) Start(ctx context.Context) {
	p.loop.Start(ctx, p.publish)
}

// Stop publishes what is left, trying for up to FlushTimeout, and stops.
// It is safe to call when Start never ran, and more than once. Err says
// whether lines were left unpublished.
func (p *Publisher) Stop() { p.loop.Stop() }

// Err returns, after Stop, why lines could not be published (they remain in
// the log file), or nil.
func (p *Publisher) Err() error {
	p.statusMu.Lock()
	defer p.statusMu.Unlock()
	return p.flushErr
}

// publish is the publisher's loop.
func (p *Publisher) publish(ctx context.Context, stop <-chan struct{}) {
	defer p.flush(ctx)
	retry := time.NewTimer(p.opts.Retry)
	defer retry.Stop()
	for {
		err := p.pump(ctx)
		p.setErr(err)
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-retry.C:
		}
		if !retry.Stop() {
			select {
			case <-retry.C:
			default:
			}
		}
		retry.Reset(p.opts.Retry)
	}
}

// flush publishes what is left, trying for up to FlushTimeout.
func (p *Publisher) flush(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.FlushTimeout)
	defer cancel()
	var flushErr error
	for {
		err := p.pump(ctx)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			flushErr = fmt.Errorf("publish the rest of the log of build %s: %w", p.id, errors.Join(err, ctx.Err()))
		case <-time.After(p.opts.Retry):
			continue
		}
		break
	}
	if p.f != nil {
		p.f.Close()
		p.f = nil
	}
	p.statusMu.Lock()
	p.flushErr = flushErr
	p.statusMu.Unlock()
}

func (p *Publisher) setErr(err error) {
	p.statusMu.Lock()
	defer p.statusMu.Unlock()
	if err != nil && (p.lastErr == nil || p.lastErr.Error() != err.Error()) {
		p.opts.Logger.Warn("log publisher: Redis unreachable, buffering in the log file", "build", p.id, "err", err)
	}
	p.lastErr = err
}

// pump publishes everything the file holds now. It returns nil when the
// stream has caught up with the file. A stream that lost lines (a Redis that
// restarted empty, or failed over to a replica that lagged) refuses the next
// batch and says where it stands, and the publisher re-reads the file from
// there.
func (p *Publisher) pump(ctx context.Context) error {
	if p.over {
		return nil
	}
	if p.resync.Load() {
		n, err := p.st.LastLogLine(ctx, p.id)
		if err != nil {
			return err
		}
		p.resync.Store(false)
		if p.skip >= 0 && n < p.read-p.lines {
			// The stream lost lines it had: publish again after its last.
			p.opts.Logger.Warn("log stream lost lines; re-publishing from the log file", "build", p.id, "stream_top", n, "published", p.read-p.lines)
			p.rewind(n)
		}
	}
	if p.skip < 0 {
		n, err := p.st.LastLogLine(ctx, p.id)
		if err != nil {
			return err
		}
		p.skip = n
	}
	if p.f == nil {
		f, err := os.Open(p.path)
		if err != nil {
			return fmt.Errorf("open build log for publishing: %w", err)
		}
		p.f = f
		if p.buf == nil {
			p.buf = make([]byte, p.opts.Batch)
		}
	}
	for {
		eof, err := p.fill()
		if err != nil {
			return err
		}
		if p.pending == 0 {
			return nil
		}
		prev, err := p.st.AppendLogTextOf(ctx, p.id, p.opts.Attempt, p.first, p.buf[:p.pending], p.opts.MaxLen)
		if errors.Is(err, builds.ErrAttemptOver) {
			// The build was reaped or taken by a later attempt: lines
			// published now would come after the reaper's verdict or
			// among the next attempt's. They stay in the file only.
			p.opts.Logger.Warn("log stream refuses the lines of an attempt that is over; not publishing the rest", "build", p.id, "attempt", p.opts.Attempt)
			p.over = true
			p.n, p.pending, p.lines = 0, 0, 0
			return nil
		}
		if err != nil {
			return err // the lines stay pending and go again; the stream drops repeats
		}
		if prev < p.first-1 || prev >= p.first && prev < p.first+p.lines-1 {
			// The stream lost lines (Redis restarted empty) and took none
			// of these, or holds part of them already: publish again from
			// the file, after the stream's last line.
			if prev < p.first-1 {
				p.opts.Logger.Warn("log stream lost lines; re-publishing from the log file", "build", p.id, "stream_top", prev, "want", p.first-1)
			}
			p.rewind(prev)
			return p.pump(ctx)
		}
		p.n = copy(p.buf, p.buf[p.pending:p.n])
		p.pending, p.lines = 0, 0
		if eof {
			return nil
		}
	}
}

// rewind makes the next pump read the file again from the start and
// publish what comes after line top, the stream's last.
func (p *Publisher) rewind(top int) {
	if p.f != nil {
		p.f.Close()
	}
	p.f, p.read, p.n, p.pending, p.lines = nil, 0, 0, 0, 0
	p.skip = top
}

// fill reads the file until the buffer holds a batch of complete lines not
// yet in the stream, or the file has no more; eof says it had no more.
// Lines the stream already holds are dropped as they are read.
func (p *Publisher) fill() (eof bool, err error) {
	for {
		if p.n == len(p.buf) {
			if p.pending > 0 {
				return false, nil // a full batch
			}
			// One line longer than the buffer: make room for it.
			p.buf = append(p.buf, make([]byte, len(p.buf))...)
		}
		m, err := p.f.Read(p.buf[p.n:])
		if m == 0 && (err == io.EOF || err == nil) {
			return true, nil
		}
		if err != nil && err != io.EOF {
			return false, fmt.Errorf("read build log for publishing: %w", err)
		}
		// Take the complete lines among the new bytes. Lines the stream
		// holds already come before any pending one: they are cut off the
		// front of the buffer in one go.
		scan, cut := p.n, 0
		p.n += m
		for {
			i := bytes.IndexByte(p.buf[scan:p.n], '\n')
			if i < 0 {
				break
			}
			scan += i + 1
			p.read++
			if p.read <= p.skip {
				cut = scan
				continue
			}
			if p.pending == 0 {
				p.first = p.read
			}
			p.pending = scan
			p.lines++
		}
		if cut > 0 {
			p.n = copy(p.buf, p.buf[cut:p.n])
			p.pending = max(p.pending-cut, 0)
		}
	}
}
