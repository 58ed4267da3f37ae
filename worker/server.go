package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/monitor/metrics"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/asynqlog"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/reaper"
	"github.com/fedora-fbs/fbs/worker/pipeline"
)

// Config configures a worker Server. Zero values take the defaults named.
type Config struct {
	// Arch is the arch served: the host's (the default, HostArch()), or
	// one it runs (tasks.RunsOn: i686 on x86_64).
	Arch string
	// Releases are the releases served; at least one.
	Releases []string
	// Concurrency is how many builds run at once (default 1).
	Concurrency int
	// BuildTimeout ends a build that runs longer (default 6 h).
	BuildTimeout time.Duration
	// DrainTimeout is how long a shutdown waits for running builds before
	// it stops them and hands them back to the queue (default 10 min).
	DrainTimeout time.Duration
	// LostBuilds is what the reaper does with a build whose worker died
	// (default tasks.LostRequeue: once, then fail).
	LostBuilds tasks.LostPolicy
	// Host names this worker in records and logs (default os.Hostname()).
	Host string
	// TaskCheckInterval is how often an idle worker polls its queues
	// (default 600 ms: p99 submit-to-start under 1 s, under 30 Redis
	// commands/s for three releases; doc/benchmarks.md, "Idle cost").
	TaskCheckInterval time.Duration
	// LeaseTTL is how long a build's lease lasts without renewal (default
	// tasks.DefaultLeaseTTL, at least tasks.MinLeaseTTL); it is renewed
	// every third of that. A running build without a lease is reaped.
	LeaseTTL time.Duration
	// ReapInterval is how often the reaper looks for lost builds (default
	// tasks.DefaultReapInterval, at least tasks.MinReapInterval).
	ReapInterval time.Duration
	// TransferRetryFor is how long a failed transfer is retried before the
	// build fails (default 1 h).
	TransferRetryFor time.Duration
	// TransferBackoff is the first wait between transfer retries; it
	// doubles up to TransferBackoffMax (default 30 s).
	TransferBackoff time.Duration
	// TransferBackoffMax is the longest wait between transfer retries
	// (default 10 minutes).
	TransferBackoffMax time.Duration
	// HandBackDelay is how long a build this worker lacks the tool for
	// waits before it is offered again to the workers of its queue; each
	// hand-back waits between this and half as much again, so workers that
	// all lack the tool never pass it around in a tight loop (default 10 s).
	HandBackDelay time.Duration
	// PauseCheckInterval is how often the worker looks whether its host
	// was paused or resumed (fbs worker pause; default 1 s).
	PauseCheckInterval time.Duration
	// MinFree is the free space, in bytes, the data dir's filesystem must
	// have for the worker to take a build ([worker] min_free). Below it,
	// or once a build ran out of space there, the worker hands builds back
	// and pauses itself until there is room again. 0 (the zero value, not
	// the configuration's default) turns all this off: builds fail when the
	// disk is full.
	MinFree int64
	// SpaceCheckInterval is how often a worker paused for space looks
	// whether there is room again (default 5 s).
	SpaceCheckInterval time.Duration
	// SpaceHandBacks is how many times a build that ran out of space in
	// the data dir is handed back; the next time it fails, as one that
	// needs more room than the workers have (default 3).
	SpaceHandBacks int
	// LogMaxLen trims each build's log stream to about this many lines (0: keep all).
	LogMaxLen int64
	// Logger receives service logs (default slog.Default()).
	Logger *slog.Logger
}

func (c *Config) fill() error {
	if c.Arch == "" {
		c.Arch = HostArch()
	}
	if !tasks.RunsOn(HostArch(), c.Arch) {
		return fmt.Errorf("this host is %s: a worker can only serve its own arch (and i686 on x86_64), not %s (start one on a %s host)", HostArch(), c.Arch, c.Arch)
	}
	if len(c.Releases) == 0 {
		return errors.New("worker: no releases to serve (give --release)")
	}
	for _, r := range c.Releases {
		if !tasks.ValidRelease(r) {
			return fmt.Errorf("worker: bad release %q (want a number or rawhide)", r)
		}
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.BuildTimeout <= 0 {
		c.BuildTimeout = 6 * time.Hour
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 10 * time.Minute
	}
	if c.Host == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("worker: host name: %w", err)
		}
		c.Host = h
	}
	if c.TaskCheckInterval <= 0 {
		c.TaskCheckInterval = 600 * time.Millisecond
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = tasks.DefaultLeaseTTL
	}
	if c.LeaseTTL < tasks.MinLeaseTTL {
		return fmt.Errorf("worker: lease TTL %s is shorter than the minimum %s", c.LeaseTTL, tasks.MinLeaseTTL)
	}
	if c.ReapInterval == 0 {
		c.ReapInterval = tasks.DefaultReapInterval
	}
	if c.TransferRetryFor <= 0 {
		c.TransferRetryFor = time.Hour
	}
	if c.TransferBackoff <= 0 {
		c.TransferBackoff = 30 * time.Second
	}
	if c.TransferBackoffMax <= 0 {
		c.TransferBackoffMax = 10 * time.Minute
	}
	if c.HandBackDelay <= 0 {
		c.HandBackDelay = 10 * time.Second
	}
	if c.PauseCheckInterval <= 0 {
		c.PauseCheckInterval = time.Second
	}
	if c.MinFree < 0 {
		return fmt.Errorf("worker: min_free %d is negative", c.MinFree)
	}
	if c.SpaceCheckInterval <= 0 {
		c.SpaceCheckInterval = 5 * time.Second
	}
	if c.SpaceHandBacks <= 0 {
		c.SpaceHandBacks = 3
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Queues returns the queue names the config serves.
func (c *Config) Queues() []string {
	var qs []string
	for _, r := range c.Releases {
		qs = append(qs, tasks.QueueName(c.Arch, r))
	}
	return qs
}

// Server runs builds from the queues of one arch and its releases.
type Server struct {
	cfg    Config
	rdb    redis.UniversalClient
	store  *builds.Store
	pipe   *pipeline.Pipeline
	queue  *asynq.Client
	reaper *reaper.Reaper
	beat   *heartbeat
	pause  *pauseWatch
	space  *spaceWatch
	log    *slog.Logger
	// metrics records how long each stage took, which the monitor's
	// build page estimates running stages from.
	metrics *metrics.Recorder
	mux     *asynq.ServeMux

	mu sync.Mutex
	// srv is the asynq server that takes tasks: of the build queues and
	// this host's transfer retries, or of the transfer retries alone while
	// the worker is paused. A pause or resume stops its fetching and moves
	// it to idle, where it finishes the tasks it runs, and starts the
	// other kind. Idle servers whose tasks are done are shut down at the
	// next switch (retireIdle); Shutdown ends the rest.
	srv *taker
	// srvPaused is whether srv serves a paused worker's queues.
	srvPaused bool
	// opPaused is the host's pause (fbs worker pause) as last seen, and
	// lowSpace why the worker paused itself for space ("" when it did
	// not): it serves the build queues when neither holds.
	opPaused bool
	lowSpace string
	idle     []*taker
	// retireAfter is how long an idle server is kept at least.
	retireAfter time.Duration
	// retiring are the shutdowns of idle servers under way.
	retiring sync.WaitGroup
	active   map[string]context.CancelCauseFunc
	stopping chan struct{} // closed when Shutdown begins
	now      chan struct{} // closed by HandBack: the drain ends at once
	nowOnce  sync.Once
	once     sync.Once
	started  bool
	// stopLoops ends the reaper's context.
	stopLoops context.CancelFunc
}

// New returns a worker server; Start runs it.
func New(rdb redis.UniversalClient, pipe *pipeline.Pipeline, cfg Config) (*Server, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, rdb: rdb, store: builds.NewStore(rdb), pipe: pipe, log: cfg.Logger, metrics: metrics.NewRecorder(rdb),
		active: map[string]context.CancelCauseFunc{}, stopping: make(chan struct{}),
		now: make(chan struct{}), retireAfter: retireAfter,
	}
	s.queue = asynq.NewClientFromRedisClient(rdb)
	r, err := reaper.New(rdb, reaper.Config{
		Interval: cfg.ReapInterval, LostBuilds: cfg.LostBuilds,
		BuildTimeout: cfg.BuildTimeout, Logger: cfg.Logger, LeaseTTL: cfg.LeaseTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	s.reaper = r
	s.mux = asynq.NewServeMux()
	s.mux.HandleFunc(tasks.TypeBuild, s.processBuild)
	s.mux.HandleFunc(tasks.TypeTransfer, s.processTransfer)
	// The heartbeat says so at once, not at its next beat.
	changed := func(ctx context.Context) { s.beat.beat(ctx) }
	s.pause = newPauseWatch(pauseWatchParams{store: s.store, host: cfg.Host, interval: cfg.PauseCheckInterval,
		serve: s.setOperatorPause, logger: cfg.Logger, changed: changed})
	s.space = newSpaceWatch(spaceWatchParams{dir: pipe.DataDir(), min: cfg.MinFree, interval: cfg.SpaceCheckInterval,
		serve: s.setLowSpace, logger: cfg.Logger, changed: changed})
	return s, nil
}

// queues returns the asynq queues with their priorities: the build
// queues unless the worker is paused (by an operator or for space), and
// always this host's transfer retries (only it has those images, and their
// builds are running).
func (s *Server) queues(paused bool) map[string]int {
	queues := map[string]int{tasks.TransferQueue(s.cfg.Host): 2}
	if !paused {
		for _, q := range s.cfg.Queues() {
			queues[q] = 1
		}
	}
	return queues
}

// newAsynq returns an asynq server for queues.
func (s *Server) newAsynq(queues map[string]int) *asynq.Server {
	cfg := s.cfg
	return asynq.NewServerFromRedisClient(s.rdb, asynq.Config{
		Concurrency:       cfg.Concurrency,
		Queues:            queues,
		TaskCheckInterval: cfg.TaskCheckInterval,
		// Shutdown drains on its own (DrainTimeout) and stops the builds
		// still running, which hand themselves back (a new task each)
		// and return; this bounds asynq's wait for them, and a handler
		// still running then has its task put back by asynq.
		ShutdownTimeout: handBackGrace,
		Logger:          asynqlog.New(cfg.Logger),
		LogLevel:        asynq.WarnLevel,
		// Builds are never retried by asynq (MaxRetry 0); transfers back
		// off exponentially.
		RetryDelayFunc: func(n int, err error, t *asynq.Task) time.Duration {
			if t.Type() != tasks.TypeTransfer {
				return time.Second
			}
			if errors.Is(err, errDrain) {
				return drainRetryDelay
			}
			return transferBackoff(cfg.TransferBackoff, cfg.TransferBackoffMax, n)
		},
	})
}

// setOperatorPause makes the worker follow its host's pause (fbs worker
// pause) as the pause watch sees it.
func (s *Server) setOperatorPause(paused bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opPaused = paused
	return s.serve()
}

// setLowSpace pauses the worker for space, low saying why, or ends that
// pause when low is "". An operator's pause stays as it is.
func (s *Server) setLowSpace(low string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lowSpace = low
	return s.serve()
}

// serve makes the worker take tasks of the queues of a paused or a
// running worker, as opPaused and lowSpace say, unless it does already:
// the server taking tasks so far stops fetching and finishes what it runs
// (no build is handed back), and a new one starts. It does nothing once
// Shutdown began. s.mu is held.
func (s *Server) serve() error {
	if s.isStopping() {
		return nil
	}
	paused := s.opPaused || s.lowSpace != ""
	if s.srv != nil && s.srvPaused == paused {
		return nil
	}
	if s.srv != nil {
		s.srv.srv.Stop()
		s.srv.stopped = time.Now()
		s.idle = append(s.idle, s.srv)
		s.srv = nil
	}
	s.retireIdle()
	t := &taker{srv: s.newAsynq(s.queues(paused))}
	err := t.srv.Start(asynq.HandlerFunc(func(ctx context.Context, task *asynq.Task) error {
		t.running.Add(1)
		defer t.running.Add(-1)
		return s.mux.ProcessTask(ctx, task)
	}))
	if err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	s.srv, s.srvPaused = t, paused
	return nil
}

// taker is an asynq server taking tasks, with the count of its handlers
// under way.
type taker struct {
	srv     *asynq.Server
	running atomic.Int64
	// stopped is when it stopped fetching; zero while it fetches.
	stopped time.Time
}

// retireAfter is how long an idle server is kept at least: by then a task
// it dequeued as it was stopped has long reached its handler.
const retireAfter = 10 * time.Second

// retireIdle shuts down the idle servers whose handlers all returned.
// Each keeps goroutines that poll Redis and a connection of its own until
// it is shut down, and a worker that pauses itself for space may switch
// servers many times in its life. s.mu is held.
func (s *Server) retireIdle() {
	kept := s.idle[:0]
	for _, t := range s.idle {
		if t.running.Load() == 0 && time.Since(t.stopped) >= s.retireAfter {
			s.retiring.Go(t.srv.Shutdown)
			continue
		}
		kept = append(kept, t)
	}
	clear(s.idle[len(kept):])
	s.idle = kept
}

// isStopping reports whether Shutdown began.
func (s *Server) isStopping() bool {
	select {
	case <-s.stopping:
		return true
	default:
		return false
	}
}

// Start begins taking builds; it returns once the server runs.
func (s *Server) Start(ctx context.Context) error {
	// A host paused before the worker started takes nothing from the
	// start.
	paused, err := s.store.Paused(ctx, builds.PauseWorker, s.cfg.Host)
	if err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	// What this host can build is found once, before the first beat;
	// each build is checked again when it is taken. The heartbeat is
	// there before the first task, which may pause the worker for space.
	s.beat = newHeartbeat(heartbeatParams{store: s.store, cfg: &s.cfg, current: s.current, paused: s.pause.Paused,
		lowSpace: s.space.Low, capabilities: s.pipe.Capabilities(ctx)})
	s.mu.Lock()
	s.opPaused = paused != nil
	s.mu.Unlock()
	// A worker low on space from the start takes nothing either.
	s.space.Start(ctx)
	s.mu.Lock()
	s.lowSpace = s.space.Low()
	err = s.serve()
	s.mu.Unlock()
	if err != nil {
		s.space.Stop()
		return err
	}
	if paused != nil {
		s.log.Info("worker paused: taking no builds until resumed", "host", s.cfg.Host, "by", paused.By, "message", paused.Message)
	}
	// The reaper's look under way ends with the drain, whatever Redis
	// is up to, so the exit is not held up by it.
	loops, cancel := context.WithCancel(ctx)
	s.stopLoops = cancel
	s.reaper.Start(loops)
	s.pause.Start(ctx, paused != nil)
	s.beat.Start(ctx)
	s.started = true
	s.log.Info("worker started", "host", s.cfg.Host, "queues", s.cfg.Queues(), "concurrency", s.cfg.Concurrency)
	return nil
}

// Shutdown drains the worker: it takes no new builds, lets running builds
// finish for up to DrainTimeout, then stops them and hands them back to
// their queue for another worker. It is safe to call more than once.
func (s *Server) Shutdown() {
	s.once.Do(func() {
		close(s.stopping)
		if !s.started {
			return
		}
		s.log.Info("worker draining", "timeout", s.cfg.DrainTimeout)
		// No pause or resume from here on: a resume would start taking
		// tasks again.
		s.pause.Stop()
		s.space.Stop()
		s.mu.Lock()
		var srvs []*asynq.Server
		for _, t := range s.idle {
			srvs = append(srvs, t.srv)
		}
		if s.srv != nil {
			srvs = append(srvs, s.srv.srv)
		}
		s.srv, s.idle = nil, nil
		s.mu.Unlock()
		for _, srv := range srvs {
			srv.Stop() // no new tasks; the running ones go on
		}
		s.drain()
		for _, id := range s.HandBack() {
			s.log.Info("drain over: build handed back", "build", id)
		}
		var wg sync.WaitGroup
		for _, srv := range srvs {
			wg.Go(srv.Shutdown)
		}
		wg.Wait()
		s.retiring.Wait()
		s.stopLoops()
		s.reaper.Stop()
		s.beat.Stop()
		s.queue.Close()
		s.log.Info("worker stopped")
	})
}

// Running returns the IDs of the builds running here now, sorted.
func (s *Server) Running() []string {
	ids, _ := s.current()
	slices.Sort(ids)
	return ids
}

// handBackGrace is how long builds stopped by a drain have to record
// that they were handed back (queuing their new tasks) before asynq stops
// waiting for their handlers.
const handBackGrace = 5 * time.Second

// drainRetryDelay is when a transfer retry a drain stopped is tried again:
// at once for a worker that restarts, not after a step of backoff.
const drainRetryDelay = time.Second

// drain waits until no build runs, DrainTimeout has passed or HandBack
// was called.
func (s *Server) drain() {
	timeout := time.NewTimer(s.cfg.DrainTimeout)
	defer timeout.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		n := len(s.active)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-timeout.C:
			return
		case <-s.now:
			return
		case <-tick.C:
		}
	}
}

// HandBack stops every running build at once and hands it back to its
// queue, as the end of DrainTimeout does, and ends a drain under way, so
// that Shutdown returns without waiting for the builds (a second Ctrl-C
// on fbs serve). It returns the IDs handed back.
func (s *Server) HandBack() []string {
	s.nowOnce.Do(func() { close(s.now) })
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.active))
	for id, cancel := range s.active {
		cancel(errDrain)
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// transferBackoff is the wait before transfer retry n+1: base doubling,
// at most 10 minutes.
func transferBackoff(base, most time.Duration, n int) time.Duration {
	d := base
	for i := 0; i < n && d < most; i++ {
		d *= 2
	}
	return min(d, most)
}

// current returns the builds running here and whether the worker drains.
func (s *Server) current() ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.active))
	for id := range s.active {
		ids = append(ids, id)
	}
	select {
	case <-s.stopping:
		return ids, true
	default:
		return ids, false
	}
}

var (
	errDrain     = errors.New("worker is shutting down: build handed back to the queue")
	errTimeout   = errors.New("build timed out")
	errLeaseLost = errors.New("worker lost its lease on the build (Redis unreachable)")
	errCancelled = errors.New("build cancelled")
	// errNotOurs ends an update of a build record that is not this
	// worker's to change: taken by another task, over, or moved on to
	// another attempt.
	errNotOurs = errors.New("build record is not this worker's to change")
)
