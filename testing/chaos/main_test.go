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
	soakDuration = flag.Duration("chaos.duration", 0, "how long the soak submits builds and injects faults (default: the short CI run, 100s)")
	// soakSeed seeds the random schedule (0: from the clock; printed).
	soakSeed = flag.Int64("chaos.seed", 0, "seed of the random fault and load schedule (0: from the clock)")
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
