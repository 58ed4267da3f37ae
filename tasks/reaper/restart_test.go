package reaper_test

import (
	"context"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/reaper"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

// TestReaperWaitsAfterRedisRestart checks that a Redis restart does not
// make a live worker's build lost: its lease ran out while Redis was down,
// and the reaper waits one lease time after the restart for the worker to
// renew it; a build whose lease nobody renews by then is lost. (The chaos
// soak's hour saw builds re-run or failed "worker lost" after every Redis
// restart longer than the lease.)
func TestReaperWaitsAfterRedisRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.StartWith(t, redistest.Options{AppendOnly: true})
	rdb := srv.Client()
	st := builds.NewStore(rdb)
	const ttl = 3 * time.Second
	r := newReaper(t, rdb, reaper.Config{LostBuilds: tasks.LostRequeue, BuildTimeout: time.Hour, LeaseTTL: ttl})

	live := runningBuild(t, st, 1)
	gone := runningBuild(t, st, 1)
	for _, id := range []string{live.ID, gone.ID} {
		if err := st.HoldLease(ctx, id, "w/1/"+id, ttl); err != nil {
			t.Fatal(err)
		}
	}
	// The reaper knows this Redis before the restart.
	if err := r.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	// Redis is down for longer than the lease, so both leases have run
	// out when it comes back from its append-only file.
	srv.Shutdown()
	time.Sleep(ttl + 500*time.Millisecond)
	srv.Revive()
	restarted := time.Now()
	for _, id := range []string{live.ID, gone.ID} {
		if h, err := st.LeaseHolder(ctx, id); err != nil || h != "" {
			t.Fatalf("lease of %s after the restart: holder %q, err %v (want run out)", id, h, err)
		}
	}
	if err := r.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	state := func(id string) tasks.State {
		t.Helper()
		b, err := st.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return b.State
	}
	if time.Since(restarted) < ttl {
		for _, id := range []string{live.ID, gone.ID} {
			if s := state(id); s != tasks.StateRunning {
				t.Fatalf("build %s is %s right after the Redis restart; want running until the lease time has passed", id, s)
			}
		}
	}
	// The live worker renews at once; the other never does.
	if err := st.HoldLease(ctx, live.ID, "w/1/"+live.ID, time.Minute); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(restarted.Add(ttl + 1100*time.Millisecond)))
	if err := r.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	if s := state(live.ID); s != tasks.StateRunning {
		t.Errorf("live build is %s; want running (its worker renewed the lease)", s)
	}
	if s := state(gone.ID); s != tasks.StateQueued {
		t.Errorf("build whose worker never renewed is %s; want queued again once Redis has been up for the lease time", s)
	}
}
