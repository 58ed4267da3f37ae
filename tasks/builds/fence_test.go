package builds_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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

// TestEndLogFencedByAttempt replays the chaos soak's build
// 01M8EQQN8J03XBF1PYY12YW6FT: its first attempt's worker lost Redis, the
// reaper re-queued the build, and the worker, back, ended the stream with
// its own verdict. The second attempt's lines then came after that end
// marker, where no reader looks. The lost attempt's end is refused; the
// attempt the record says ended ends the stream, once.
func TestEndLogFencedByAttempt(t *testing.T) {
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
			if _, err := st.AppendLogTextOf(ctx, b.ID, 1, 1, []byte("attempt 1 line 1\nattempt 1 line 2\n"), 0); err != nil {
				t.Fatal(err)
			}
			// The reaper re-queues; the next attempt takes the build.
			if _, err := st.Update(ctx, b.ID, func(b *tasks.Build) error { b.State = tasks.StateQueued; return nil }); err != nil {
				t.Fatal(err)
			}
			if err := st.EndLogOf(ctx, b.ID, 1, tasks.StateSucceeded); !errors.Is(err, builds.ErrAttemptOver) {
				t.Errorf("end of the re-queued attempt: %v, want ErrAttemptOver", err)
			}
			if _, err := st.Update(ctx, b.ID, func(b *tasks.Build) error { b.State, b.Attempt = tasks.StateRunning, 2; return nil }); err != nil {
				t.Fatal(err)
			}
			for what, state := range map[string]tasks.State{"while attempt 2 runs": tasks.StateSucceeded, "in a state not the record's": tasks.StateRunning} {
				if err := st.EndLogOf(ctx, b.ID, 1, state); !errors.Is(err, builds.ErrAttemptOver) {
					t.Errorf("end of attempt 1 %s: %v, want ErrAttemptOver", what, err)
				}
			}
			if err := st.EndLogOf(ctx, b.ID, 2, tasks.StateSucceeded); !errors.Is(err, builds.ErrAttemptOver) {
				t.Errorf("end of attempt 2 as succeeded while the record says running: %v, want ErrAttemptOver", err)
			}
			if _, err := st.AppendLogTextOf(ctx, b.ID, 2, 3, []byte("attempt 2 line 3\n"), 0); err != nil {
				t.Fatalf("lines of attempt 2: %v", err)
			}
			if _, err := st.Update(ctx, b.ID, func(b *tasks.Build) error { b.State = tasks.StateFailed; return nil }); err != nil {
				t.Fatal(err)
			}
			for i := range 2 { // a repeated end adds nothing
				if err := st.EndLogOf(ctx, b.ID, 2, tasks.StateFailed); err != nil {
					t.Fatalf("end %d of attempt 2, which the record says failed: %v", i+1, err)
				}
			}
			lines, end, err := st.ReadLog(ctx, b.ID, 0, 100, 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range lines {
				got = append(got, l.Text)
			}
			want := []string{"attempt 1 line 1", "attempt 1 line 2", "attempt 2 line 3"}
			if diff := cmp.Diff(want, got); diff != "" || end != tasks.StateFailed {
				t.Errorf("stream: end %q, want failed; lines (-want +got):\n%s", end, diff)
			}
			if n, err := rdb.XLen(ctx, builds.LogKey(b.ID)).Result(); err != nil || n != 3 {
				t.Errorf("stream holds %d entries (%v), want 2 runs and 1 end marker", n, err)
			}
			// A record Redis lost does not fence.
			c := newBuild(time.Now(), tasks.StateRunning)
			if err := st.EndLogOf(ctx, c.ID, 1, tasks.StateSucceeded); err != nil {
				t.Errorf("end with the record lost: %v", err)
			}
			if _, end, err := st.ReadLog(ctx, c.ID, 0, 100, 0); err != nil || end != tasks.StateSucceeded {
				t.Errorf("stream with the record lost: end %q, %v", end, err)
			}
		})
	}
}
