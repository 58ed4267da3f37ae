package chaos

import (
	"context"
	"errors"
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
	if *soakDuration == 0 && os.Getenv("FBS_CHAOS") == "" {
		// Off in the default run while the soak still breaks an
		// invariant (doc/reliability.md, "Open": builds left waiting).
		t.Skip("the chaos soak is off by default until its open finding is fixed: FBS_CHAOS=1 go test ./testing/chaos -run Soak -v")
	}
	if os.Geteuid() != 0 {
		t.Skip("the chaos soak needs root: network namespaces, nftables and a tmpfs mount")
	}
	d, long := *soakDuration, true
	if d == 0 {
		d, long = 100*time.Second, false
	}
	seed := *soakSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("chaos soak: %s of load and faults, seed %d (-chaos.seed=%d repeats the schedule)", d, seed, seed)
	w := newWorld(t)
	s := newSoak(t, w, seed, d, long)
	s.run()
	s.check()
}

// soak is one run: the world, the random schedule and what it saw.
type soak struct {
	t     *testing.T
	w     *world
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
}

type apiCall struct {
	at     time.Time
	what   string
	status int // 0: no answer
	code   string
	err    string
}

type fault struct {
	kind   string
	at     time.Time
	took   time.Duration
	detail string
}

type window struct{ from, to time.Time }

func newSoak(t *testing.T, w *world, seed int64, d time.Duration, long bool) *soak {
	api, err := apiclient.New("http://"+w.webAddr, "", &http.Client{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rdb := w.redis.Client()
	return &soak{t: t, w: w, long: long, dur: d, api: api, store: builds.NewStore(rdb), rdb: rdb, rng: rand.New(rand.NewSource(seed)),
		figures: map[string][]time.Duration{}, cancels: map[string]int{}}
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

// answer turns an API call's error into its record.
func answer(what string, at time.Time, err error, ok int) apiCall {
	c := apiCall{at: at, what: what, status: ok}
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
	wg.Wait()
	s.t.Logf("chaos soak: load and faults over after %s: %d builds accepted, %d faults", time.Since(s.start).Round(time.Second), len(s.ids), len(s.faults))
}
