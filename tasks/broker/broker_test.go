package broker_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks/broker"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

func TestStartClose(t *testing.T) {
	t.Parallel()
	b, err := broker.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: b.Addr()})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("ping %s: %v", b.URL(), err)
	}
	b.Close()
	b.Close() // safe twice
}

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:6380", true},
		{"127.0.0.2:6380", true},
		{"[::1]:6380", true},
		{"localhost:6380", true},
		{"127.0.0.1:0", true},
		{"0.0.0.0:6380", false},
		{"[::]:6380", false},
		{":6380", false},
		{"10.0.0.5:6380", false},
		{"[fe80::1]:6380", false},
		{"broker.example:6380", false},
		{"[::ffff:0.0.0.0]:6380", false},
		{"6380", false},
	}
	for _, tt := range tests {
		err := broker.CheckAddr(tt.addr)
		if (err == nil) != tt.ok {
			t.Errorf("CheckAddr(%q) = %v, want ok %v", tt.addr, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tt.addr) {
			t.Errorf("CheckAddr(%q): error %q does not name the address", tt.addr, err)
		}
	}
	// Start refuses before listening.
	if _, err := broker.Start("0.0.0.0:0"); err == nil || !strings.Contains(err.Error(), "not loopback-only") {
		t.Errorf("Start on 0.0.0.0: %v", err)
	}
}

// emptyPoll has the shape of the script an idle asynq worker runs per queue
// and poll: a paused check and a pop from an empty list.
var emptyPoll = redis.NewScript(`
if redis.call("EXISTS", KEYS[2]) == 0 then
	return redis.call("RPOPLPUSH", KEYS[1], KEYS[3])
end
return nil`)

// BenchmarkCall measures what one call costs the process that runs the
// embedded broker (client and broker share it, as in `fbs serve`), against
// the same client's share with a real redis-server. cpu-µs/op is the
// process's user+system CPU per call; an idle worker makes three such
// script calls per queue and poll, so with three releases and a transfer
// queue, four calls per poll_interval (doc/benchmarks.md, "Idle cost").
//
//	go test ./tasks/broker -run '^$' -bench Call
func BenchmarkCall(b *testing.B) {
	b.Run("embedded", func(b *testing.B) {
		e, err := broker.Start("127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		benchCalls(b, redis.NewClient(&redis.Options{Addr: e.Addr()}))
	})
	b.Run("redis-server", func(b *testing.B) {
		benchCalls(b, redistest.Start(b).Client())
	})
}

func benchCalls(b *testing.B, c *redis.Client) {
	defer c.Close()
	ctx := context.Background()
	calls := map[string]func() error{
		"ping": func() error { return c.Ping(ctx).Err() },
		"empty-poll-script": func() error {
			err := emptyPoll.Run(ctx, c, []string{"q:pending", "q:paused", "q:active"}).Err()
			if err == redis.Nil {
				return nil
			}
			return err
		},
	}
	for _, name := range []string{"ping", "empty-poll-script"} {
		call := calls[name]
		b.Run(name, func(b *testing.B) {
			if err := call(); err != nil { // loads the script
				b.Fatal(err)
			}
			cpu0 := cpuTime(b)
			b.ResetTimer()
			for b.Loop() {
				if err := call(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// cpuTime is the user+system CPU time of this process.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
