package chaos

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/redis/go-redis/v9"
)

// quiet is a go-redis logger that drops everything.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

var (
	// soakDuration is how long builds are submitted and faults injected;
	// the drain and the checks come after.
	soakDuration = flag.Duration("chaos.duration", 0, "how long the soak submits builds and injects faults (default: the short CI run, 75s, with short faults)")
	// soakSeed seeds the random schedule (0: from the clock; printed).
	soakSeed = flag.Int64("chaos.seed", 0, "seed of the random fault and load schedule (0: from the clock)")
	// soakWorkers is how many fbs workers run (at least 3: chaos-w2 has the
	// small data directory, chaos-w3 the lossy link; the others are plain).
	soakWorkers = flag.Int("chaos.workers", 3, "how many fbs workers run (at least 3)")
	// soakConcurrency is each worker's [worker] concurrency.
	soakConcurrency = flag.Int("chaos.concurrency", 1, "how many builds each worker runs at once ([worker] concurrency)")
	// soakToolSecs is the longest the fake build tool runs before the real
	// xorriso (it runs 0.5 s plus up to this).
	soakToolSecs = flag.Float64("chaos.toolsecs", 6, "the longest the fake build tool runs, in seconds, before the real work")
	// soakLines is the most numbered lines a tool run writes (at least 5).
	soakLines = flag.Int("chaos.lines", 44, "the most numbered log lines one tool run writes (at least 5)")
	// soakQueued is how many builds the submitter keeps waiting in the
	// queue (0: two per build slot, at least 4).
	soakQueued = flag.Int("chaos.queued", 0, "how many builds the submitter keeps waiting in the queue (0: two per build slot, at least 4)")
)

// fbsBin is the fbs binary built once for the package.
var fbsBin string

func TestMain(m *testing.M) {
	flag.Parse()
	// The soak's own Redis client would log every failed dial while
	// Redis is down on purpose.
	redis.SetLogger(quiet{})
	dir, err := os.MkdirTemp("", "fbs-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fbsBin = filepath.Join(dir, "fbs")
	if !testing.Short() {
		build := exec.Command("go", "build", "-o", fbsBin, "../..")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build fbs:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
