package client_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

// TestWaitRedis checks that a service starting while Redis is down comes
// up once it answers, that a malformed URL fails at once, and that the wait
// ends after its limit with the connection error.
func TestWaitRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := redistest.Start(t)
	url := "redis://" + srv.Addr + "/0"
	srv.Shutdown()

	type result struct {
		rdb redis.UniversalClient
		err error
	}
	done := make(chan result, 1)
	go func() {
		rdb, err := client.WaitRedis(ctx, url, 30*time.Second, quiet)
		done <- result{rdb, err}
	}()
	time.Sleep(time.Second) // Redis is down for a while before it comes back
	select {
	case r := <-done:
		t.Fatalf("WaitRedis returned while Redis was down: %v", r.err)
	default:
	}
	srv.Revive()
	r := <-done
	if r.err != nil {
		t.Fatalf("WaitRedis after Redis came back: %v", r.err)
	}
	if err := r.rdb.Ping(ctx).Err(); err != nil {
		t.Errorf("ping through the client WaitRedis returned: %v", err)
	}
	r.rdb.Close()

	start := time.Now()
	if _, err := client.WaitRedis(ctx, "mysql://x", time.Minute, quiet); err == nil || time.Since(start) > time.Second {
		t.Errorf("malformed URL: err %v after %s, want an error at once", err, time.Since(start))
	}

	srv.Shutdown()
	start = time.Now()
	_, err := client.WaitRedis(ctx, url, 2*time.Second, quiet)
	if err == nil || !strings.Contains(err.Error(), "waited 2s") {
		t.Errorf("Redis down past the limit: err %v, want one naming the wait", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Redis down past the limit: gave up after %s, want about 2s", took)
	}
}
