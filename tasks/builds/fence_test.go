package builds_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

// TestWritesFencedByAttempt plays a worker that could not reach Redis for
// longer than its lease: the reaper re-queued its build and wrote its
// verdict into the log. When the worker is back, its lease renewal and its
// unpublished log lines are refused, so the verdict is not followed by
// lines of the lost attempt (nor a tool line numbered as the verdict
// shadowed) and the lost worker does not run beside the next attempt.
func TestWritesFencedByAttempt(t *testing.T) {
	t.Parallel()
	for name, rdb := range logBackends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := builds.NewStore(rdb)
			b := newBuild(time.Now(), tasks.StateRunning)
			b.Attempt = 1
			if err := st.Create(ctx, b, []byte("{}")); err != nil {
				t.Fatal(err)
			}
			if err := st.HoldLeaseOf(ctx, b.ID, "w1", 1, time.Minute); err != nil {
				t.Fatalf("renew the lease of the running attempt: %v", err)
			}
			if top, err := st.AppendLogTextOf(ctx, b.ID, 1, 1, []byte("tool 1\ntool 2\n"), 0); err != nil || top != 0 {
				t.Fatalf("publish the running attempt's lines: top %d, %v", top, err)
			}
			// The reaper: lease gone, build re-queued, verdict as line 3.
			if err := st.DropLease(ctx, b.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Update(ctx, b.ID, func(b *tasks.Build) error { b.State = tasks.StateQueued; return nil }); err != nil {
				t.Fatal(err)
			}
			if _, err := st.AppendLog(ctx, b.ID, []builds.LogLine{{N: 3, Text: "fbs | worker lost"}}, 0); err != nil {
				t.Fatal(err)
			}
			for what, err := range map[string]error{
				"lease renewal": st.HoldLeaseOf(ctx, b.ID, "w1", 1, time.Minute),
				"log lines": func() error {
					_, err := st.AppendLogTextOf(ctx, b.ID, 1, 3, []byte("tool 3\ntool 4\n"), 0)
					return err
				}(),
			} {
				if !errors.Is(err, builds.ErrAttemptOver) {
					t.Errorf("%s of the reaped attempt: %v, want ErrAttemptOver", what, err)
				}
			}
			if h, _ := st.LeaseHolder(ctx, b.ID); h != "" {
				t.Errorf("the reaped attempt took the lease back: held by %q", h)
			}
			lines, _, err := st.ReadLog(ctx, b.ID, 0, 100, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(lines) != 3 || lines[2].Text != "fbs | worker lost" {
				t.Errorf("stream after the refused lines: %+v", lines)
			}
			// The next attempt writes on.
			if _, err := st.Update(ctx, b.ID, func(b *tasks.Build) error { b.State, b.Attempt = tasks.StateRunning, 2; return nil }); err != nil {
				t.Fatal(err)
			}
			if err := st.HoldLeaseOf(ctx, b.ID, "w2", 2, time.Minute); err != nil {
				t.Errorf("lease of the next attempt: %v", err)
			}
			if top, err := st.AppendLogTextOf(ctx, b.ID, 2, 4, []byte("attempt 2\n"), 0); err != nil || top != 3 {
				t.Errorf("lines of the next attempt: top %d, %v", top, err)
			}
			// A record Redis lost does not fence: the worker writes it again.
			if err := st.Delete(ctx, b.ID); err != nil {
				t.Fatal(err)
			}
			if err := st.HoldLeaseOf(ctx, b.ID, "w2", 2, time.Minute); err != nil {
				t.Errorf("lease with the record lost: %v", err)
			}
			if _, err := st.AppendLogTextOf(ctx, b.ID, 2, 1, []byte("refill\n"), 0); err != nil {
				t.Errorf("log lines with the record lost: %v", err)
			}
		})
	}
}
