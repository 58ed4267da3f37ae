package builds_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

// TestWaitingAndQueued lists the builds the reaper looks after besides the
// running ones: those waiting for a transfer retry (running, but out of
// the running set) and the queued ones, on a real redis-server and the
// embedded broker.
func TestWaitingAndQueued(t *testing.T) {
	t.Parallel()
	for name, rdb := range logBackends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := builds.NewStore(rdb)
			now := time.Now()
			add := func(state tasks.State, waiting string) string {
				b := newBuild(now, state)
				now = now.Add(time.Millisecond)
				b.Waiting = waiting
				if err := st.Create(ctx, b, []byte("{}")); err != nil {
					t.Fatal(err)
				}
				// Update moves the running set as the record says.
				if _, err := st.Update(ctx, b.ID, func(*tasks.Build) error { return nil }); err != nil {
					t.Fatal(err)
				}
				return b.ID
			}
			q1 := add(tasks.StateQueued, "")
			add(tasks.StateRunning, "")
			w := add(tasks.StateRunning, "transfer failed; retrying from h")
			q2 := add(tasks.StateQueued, "")
			add(tasks.StateSucceeded, "")
			waiting, err := st.Waiting(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{w}, waiting); diff != "" {
				t.Errorf("Waiting (-want +got):\n%s", diff)
			}
			queued, err := st.Queued(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{q1, q2}
			slices.Sort(want)
			if diff := cmp.Diff(want, queued); diff != "" {
				t.Errorf("Queued (-want +got):\n%s", diff)
			}
		})
	}
}
