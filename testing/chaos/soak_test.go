package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/webapp/apiclient"
)

// TestSoak runs the chaos soak; see the package doc.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos soak runs for minutes")
	}
	if os.Geteuid() != 0 {
		t.Skip("the chaos soak needs root: network namespaces, nftables and a tmpfs mount")
	}
	set, err := newSettings(*soakDuration)
	if err != nil {
		t.Fatal(err)
	}
	seed := *soakSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("chaos soak: %s of load and faults, seed %d (-chaos.seed=%d repeats the schedule); %d workers × %d builds, tool up to %gs and %d lines, %d builds kept queued",
		set.dur, seed, seed, set.workers, set.concurrency, set.toolSecs, set.lines, set.queued)
	began := time.Now()
	w := newWorld(t, set)
	s := newSoak(t, w, seed, set)
	s.phase("start-up (servers, fbs processes)", time.Since(began))
	s.run()
	s.check()
	t.Logf("chaos soak: %s wall in all", time.Since(began).Round(time.Second))
}

// settings are what a run's length and the flags make of the soak.
type settings struct {
	// long is a run of -chaos.duration: long outages, long settle.
	long bool
	// dur is how long builds are submitted and faults injected.
	dur time.Duration
	// settle bounds the wait for every build to end and its mails to
	// arrive, once every fault healed.
	settle time.Duration
	// workers and concurrency are the fbs workers and their build slots.
	workers, concurrency int
	// toolSecs and lines bound a fake tool run's time and output.
	toolSecs float64
	lines    int
	// queued is how many builds the submitter keeps waiting.
	queued int
	// transferBackoffMax is the workers' [staging] retry_backoff_max.
	transferBackoffMax time.Duration
	// submitLo and submitHi bound the pause between two submissions
	// (the API takes 30 a minute).
	submitLo, submitHi time.Duration
}

// shortLoad is the short run's time of load and faults.
const shortLoad = 50 * time.Second

// newSettings makes the settings of a run of d (0: the short run) from
// the flags.
func newSettings(d time.Duration) (settings, error) {
	set := settings{long: d != 0, dur: d, settle: 30 * time.Minute, workers: *soakWorkers, concurrency: *soakConcurrency,
		toolSecs: *soakToolSecs, lines: *soakLines, queued: *soakQueued, transferBackoffMax: 5 * time.Second,
		submitLo: 2050 * time.Millisecond, submitHi: 2500 * time.Millisecond}
	if !set.long {
		// The settle bound leaves room for asynq's recoverer (a task
		// whose worker lost Redis is taken back after its 30 s lease, on
		// a look every minute).
		set.dur, set.settle = shortLoad, 2*time.Minute
		set.submitLo, set.submitHi = 2100*time.Millisecond, 3*time.Second
	}
	switch {
	case set.workers < 3:
		return set, fmt.Errorf("-chaos.workers=%d: the soak needs at least 3 workers", set.workers)
	case set.concurrency < 1:
		return set, fmt.Errorf("-chaos.concurrency=%d: at least 1", set.concurrency)
	case set.toolSecs < 0:
		return set, fmt.Errorf("-chaos.toolsecs=%g: not negative", set.toolSecs)
	case set.lines < 5:
		return set, fmt.Errorf("-chaos.lines=%d: at least 5", set.lines)
	case set.queued < 0:
		return set, fmt.Errorf("-chaos.queued=%d: not negative", set.queued)
	}
	if set.queued == 0 {
		set.queued = max(4, 2*set.workers*set.concurrency)
	}
	return set, nil
}

// soak is one run: the world, the random schedule and what it saw.
type soak struct {
	t     *testing.T
	w     *world
	set   settings
	long  bool
	dur   time.Duration
	start time.Time
	api   *apiclient.Client
	// store reads records and log streams straight from Redis.
	store *builds.Store
	rdb   *redis.Client

	rmu sync.Mutex
	rng *rand.Rand

	mu sync.Mutex
	// ids are the builds the API accepted, in order.
	ids []string
	// calls are every API call made.
	calls []apiCall
	// faults are the faults injected.
	faults []fault
	// redisDown are the windows Redis was unreachable (end zero: still).
	redisDown []window
	// figures are the recovery times measured, by name.
	figures map[string][]time.Duration
	// cancels counts cancel requests by the answer's code.
	cancels map[string]int
	// samples are the resource samples of the long-running processes.
	samples []sample
	// redisMem is Redis's used_memory at the start and at the end.
	redisMemStart, redisMemEnd int64
	// redisMem are Redis's used_memory samples over the run.
	redisMem []int64
	// phases are how long each part of the run took, in order.
	phases []phase
	// stopping are the workers a fault is stopping and restarting now.
	stopping map[*slot]bool
}

// phase is one part of the run and how long it took.
type phase struct {
	name string
	took time.Duration
}

// phase records that the part name took d, and says so.
func (s *soak) phase(name string, d time.Duration) {
	s.mu.Lock()
	s.phases = append(s.phases, phase{name, d})
	s.mu.Unlock()
	s.t.Logf("chaos soak: phase %q took %s", name, d.Round(100*time.Millisecond))
}

type apiCall struct {
	// at and end are when the call was made and when it was answered.
	at, end time.Time
	what    string
	status  int // 0: no answer
	code    string
	err     string
}

type fault struct {
	kind   string
	at     time.Time
	took   time.Duration
	detail string
}

type window struct{ from, to time.Time }

func newSoak(t *testing.T, w *world, seed int64, set settings) *soak {
	api, err := apiclient.New("http://"+w.webAddr, "", &http.Client{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rdb := w.redis.Client()
	return &soak{t: t, w: w, set: set, long: set.long, dur: set.dur, api: api, store: builds.NewStore(rdb), rdb: rdb, rng: rand.New(rand.NewSource(seed)),
		figures: map[string][]time.Duration{}, cancels: map[string]int{}, stopping: map[*slot]bool{}}
}

// rand returns a random duration in [lo, hi).
func (s *soak) between(lo, hi time.Duration) time.Duration {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return lo + time.Duration(s.rng.Int63n(int64(hi-lo)+1))
}

func (s *soak) intn(n int) int {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return s.rng.Intn(n)
}

func (s *soak) figure(name string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.figures[name] = append(s.figures[name], d)
}

func (s *soak) record(c apiCall) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

// answer turns an API call's error into its record; it is called as the
// answer arrives.
func answer(what string, at time.Time, err error, ok int) apiCall {
	c := apiCall{at: at, end: time.Now(), what: what, status: ok}
	var ae *apiclient.Error
	switch {
	case err == nil:
	case errors.As(err, &ae):
		c.status, c.code, c.err = ae.Status, ae.Code, ae.Message
	default:
		c.status, c.err = 0, err.Error()
	}
	return c
}

// run submits builds, cancels some and injects faults for s.dur, then
// lets every fault heal.
func (s *soak) run() {
	ctx, cancel := context.WithTimeout(context.Background(), s.dur)
	defer cancel()
	s.start = time.Now()
	s.redisMemStart = s.redisMemory()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.submitLoop(ctx) }()
	go func() { defer wg.Done(); s.faultLoop(ctx) }()
	go func() { defer wg.Done(); s.sampleLoop(ctx) }()
	<-ctx.Done()
	s.phase("load and faults", time.Since(s.start))
	healing := time.Now()
	wg.Wait()
	s.phase("faults heal, last cancels", time.Since(healing))
	s.t.Logf("chaos soak: load and faults over after %s: %d builds accepted, %d faults", time.Since(s.start).Round(time.Second), len(s.ids), len(s.faults))
}
