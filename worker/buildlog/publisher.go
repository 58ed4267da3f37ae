package buildlog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fedora-fbs/fbs/tasks/builds"
)

// Streamer is where a Publisher sends lines; *builds.Store implements it.
type Streamer interface {
	LastLogLine(ctx context.Context, id string) (int, error)
	AppendLog(ctx context.Context, id string, lines []builds.LogLine, maxLen int64) (int, error)
}

var _ Streamer = (*builds.Store)(nil)

// PublisherOptions configures a Publisher.
type PublisherOptions struct {
	// MaxLen trims the stream to about this many lines (0: keep all).
	MaxLen int64
	// Batch is how many lines go to Redis in one round trip (default 2000).
	Batch int
	// Retry is how long to wait after a failed publish (default 1 s).
	Retry time.Duration
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

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once

	// owned by the run goroutine
	r        *bufio.Reader
	f        *os.File
	read     int // lines read from the file so far
	skip     int // lines already in the stream at start (-1: not known yet)
	pending  []builds.LogLine
	partial  string
	lastErr  error
	statusMu sync.Mutex
}

// NewPublisher returns a publisher for the log of build id at path.
func NewPublisher(st Streamer, id, path string, opts PublisherOptions) *Publisher {
	if opts.Batch <= 0 {
		opts.Batch = 2000
	}
	if opts.Retry <= 0 {
		opts.Retry = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Publisher{
		st: st, id: id, path: path, opts: opts, skip: -1,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// Wake tells the publisher new lines are in the file; it never blocks.
func (p *Publisher) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Start runs the publisher until Stop.
func (p *Publisher) Start(ctx context.Context) {
	go p.run(ctx)
}

func (p *Publisher) run(ctx context.Context) {
	defer close(p.done)
	retry := time.NewTimer(p.opts.Retry)
	defer retry.Stop()
	for {
		err := p.pump(ctx)
		p.setErr(err)
		select {
		case <-p.stop:
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
		p.f, p.r = f, bufio.NewReaderSize(f, 256<<10)
	}
	for {
		for len(p.pending) < p.opts.Batch {
			s, err := p.r.ReadString('\n')
			if err == io.EOF {
				p.partial += s
				break
			}
			if err != nil {
				return fmt.Errorf("read build log for publishing: %w", err)
			}
			s = p.partial + s
			p.partial = ""
			p.read++
			if p.read <= p.skip {
				continue
			}
			p.pending = append(p.pending, builds.LogLine{N: p.read, Text: strings.TrimSuffix(s, "\n")})
		}
		if len(p.pending) == 0 {
			return nil
		}
		prev, err := p.st.AppendLog(ctx, p.id, p.pending, p.opts.MaxLen)
		if err != nil {
			return err // pending is kept and sent again; the stream drops repeats
		}
		if want := p.pending[0].N - 1; prev < want {
			// The stream lost lines (Redis restarted empty) and took none
			// of these: publish again from the file, after its last line.
			p.opts.Logger.Warn("log stream lost lines; re-publishing from the log file", "build", p.id, "stream_top", prev, "want", want)
			p.f.Close()
			p.f, p.r, p.read, p.partial = nil, nil, 0, ""
			p.pending = p.pending[:0]
			p.skip = prev
			return p.pump(ctx)
		}
		full := len(p.pending) == p.opts.Batch
		p.pending = p.pending[:0]
		if !full {
			return nil
		}
	}
}

// Stop publishes what is left, trying until ctx ends, then stops. It is safe
// to call more than once. It returns an error if lines could not be
// published (they remain in the log file).
func (p *Publisher) Stop(ctx context.Context) error {
	p.once.Do(func() { close(p.stop) })
	<-p.done
	for {
		err := p.pump(ctx)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("publish the rest of the log of build %s: %w", p.id, errors.Join(err, ctx.Err()))
		case <-time.After(p.opts.Retry):
		}
	}
	if p.f != nil {
		p.f.Close()
		p.f = nil
	}
	return nil
}
