package notify_test

import (
	"context"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
)

// TestFlush stops as `fbs serve` does: Flush returns nil once no mail is
// due, also when no mail was ever queued (asynq then has no notify queue
// at all, which is nothing to flush, not an error).
func TestFlush(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		mails int // submission mails queued before the stop
	}{
		{"idle", 0},
		{"mails due", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{})
			for range tc.mails {
				b.enqueue(t, b.newBuild(t, nil).ID, tasks.MailSubmitted)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			if err := b.srv.Flush(ctx); err != nil {
				t.Fatalf("Flush: %v\nlog:\n%s", err, b.logs)
			}
			if got := len(b.smtp.Messages()); got != tc.mails {
				t.Errorf("%d mails sent by the end of Flush, want %d", got, tc.mails)
			}
		})
	}
}
