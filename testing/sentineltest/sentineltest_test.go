package sentineltest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/testing/sentineltest"
)

// TestFailover writes through the sentinels, kills the master and checks
// that the replica took over with the data and that the old master comes
// back as a replica.
func TestFailover(t *testing.T) {
	t.Parallel()
	c := sentineltest.Start(t)
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: sentineltest.MasterName, SentinelAddrs: c.SentinelAddrs})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// The write reached the replica before the master dies.
	if err := rdb.Do(ctx, "WAIT", 1, 5000).Err(); err != nil {
		t.Fatal(err)
	}
	old, killed := c.KillMaster()
	now := c.WaitFailover(old, 30*time.Second)
	if now == old {
		t.Fatalf("master still %s", old)
	}
	t.Logf("failover from %s to %s in %s", old, now, time.Since(killed))
	deadline := time.Now().Add(10 * time.Second)
	var got string
	var err error
	for time.Now().Before(deadline) {
		if got, err = rdb.Get(ctx, "k").Result(); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || got != "v" {
		t.Fatalf("after failover GET k = %q, %v; want \"v\"", got, err)
	}
	c.Restart(old)
	back := redis.NewClient(&redis.Options{Addr: old})
	defer back.Close()
	for {
		info, err := back.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "role:slave") {
			break
		}
		if time.Now().After(deadline.Add(20 * time.Second)) {
			t.Fatalf("old master %s did not become a replica: %q %v\n%s", old, info, err, c.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
