package builds_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/rediskey"
)

// TestHoldLease checks the one lease script from both of its callers, on
// redis-server and on the embedded broker.
func TestHoldLease(t *testing.T) {
	t.Parallel()
	for name, rdb := range logBackends(t) {
		st := builds.NewStore(rdb)
		t.Run(name+"/service-wide", func(t *testing.T) { holdNamedLease(t, rdb, st) })
		t.Run(name+"/build", func(t *testing.T) { holdLeaseOfTakesOver(t, st) })
	}
}

// holdNamedLease: a service-wide lease is taken when free, renewed by its
// holder, and left alone when another holder has it.
func holdNamedLease(t *testing.T, rdb redis.UniversalClient, st *builds.Store) {
	ctx := context.Background()
	steps := []struct {
		holder string
		ttl    time.Duration
		want   bool   // held by holder afterwards
		owner  string // who holds it afterwards
	}{
		{"a", time.Second, true, "a"},    // free: taken
		{"b", time.Minute, false, "a"},   // a's: refused
		{"a", time.Hour, true, "a"},      // a's own: renewed
		{"b", 2 * time.Hour, false, "a"}, // still a's
	}
	for i, s := range steps {
		held, err := st.HoldNamedLease(ctx, "retention", s.holder, s.ttl)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if held != s.want {
			t.Errorf("step %d: %s holds = %v, want %v", i, s.holder, held, s.want)
		}
		if got := rdb.Get(ctx, rediskey.NamedLease("retention")).Val(); got != s.owner {
			t.Errorf("step %d: lease held by %q, want %q", i, got, s.owner)
		}
	}
	// The renewal gave the lease a's new TTL (an hour), not b's.
	if ttl := rdb.PTTL(ctx, rediskey.NamedLease("retention")).Val(); ttl <= time.Minute || ttl > time.Hour {
		t.Errorf("TTL after the renewal = %v, want about an hour", ttl)
	}
	if err := st.DropNamedLease(ctx, "retention", "b"); err != nil {
		t.Fatal(err)
	}
	if held, err := st.HoldNamedLease(ctx, "retention", "b", time.Minute); err != nil || held {
		t.Errorf("b took a's lease after dropping what it did not hold: %v, %v", held, err)
	}
	if err := st.DropNamedLease(ctx, "retention", "a"); err != nil {
		t.Fatal(err)
	}
	if held, err := st.HoldNamedLease(ctx, "retention", "b", time.Minute); err != nil || !held {
		t.Errorf("b could not take the lease a let go: %v, %v", held, err)
	}
}

// holdLeaseOfTakesOver: a build's lease belongs to the attempt the record
// says runs, whoever held it before (a worker that handed the build back,
// say); only the fence refuses.
func holdLeaseOfTakesOver(t *testing.T, st *builds.Store) {
	ctx := context.Background()
	b := newBuild(time.Now(), tasks.StateRunning)
	b.Attempt = 2
	if err := st.Create(ctx, b, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := st.HoldLease(ctx, b.ID, "w1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := st.HoldLeaseOf(ctx, b.ID, "w2", 2, time.Minute); err != nil {
		t.Fatalf("lease of the running attempt: %v", err)
	}
	if h, _ := st.LeaseHolder(ctx, b.ID); h != "w2" {
		t.Errorf("lease held by %q, want w2", h)
	}
	if err := st.HoldLeaseOf(ctx, b.ID, "w1", 1, time.Minute); !errors.Is(err, builds.ErrAttemptOver) {
		t.Errorf("lease of attempt 1 while 2 runs: %v, want ErrAttemptOver", err)
	}
	if h, _ := st.LeaseHolder(ctx, b.ID); h != "w2" {
		t.Errorf("after the refused renewal the lease is held by %q, want w2", h)
	}
}
