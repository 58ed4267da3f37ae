package worker

import (
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
)

func TestConfigLeaseTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ttl     time.Duration
		want    time.Duration
		wantErr string
	}{
		{0, tasks.DefaultLeaseTTL, ""},
		{tasks.MinLeaseTTL, tasks.MinLeaseTTL, ""},
		{2 * time.Second, 0, "lease TTL 2s is shorter than the minimum 3s"},
		{-time.Second, 0, "lease TTL -1s is shorter than the minimum 3s"},
	}
	for _, tt := range tests {
		c := Config{Releases: []string{"41"}, Host: "h", LeaseTTL: tt.ttl}
		err := c.fill()
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("LeaseTTL %s: error %v, want %q", tt.ttl, err, tt.wantErr)
			}
			continue
		}
		if err != nil || c.LeaseTTL != tt.want || c.ReapInterval != tasks.DefaultReapInterval || c.LostBuilds != tasks.LostRequeue {
			t.Errorf("LeaseTTL %s: filled %s, reap %s, lost %s, %v", tt.ttl, c.LeaseTTL, c.ReapInterval, c.LostBuilds, err)
		}
	}
}

// TestTransferBackoff checks the waits between transfer retries: from
// [staging] retry_backoff, doubling, at most retry_backoff_max.
func TestTransferBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base, most time.Duration
		n          int
		want       time.Duration
	}{
		{30 * time.Second, 10 * time.Minute, 0, 30 * time.Second},
		{30 * time.Second, 10 * time.Minute, 2, 2 * time.Minute},
		{30 * time.Second, 10 * time.Minute, 20, 10 * time.Minute},
		{time.Second, 4 * time.Second, 1, 2 * time.Second},
		{time.Second, 4 * time.Second, 5, 4 * time.Second},
		{time.Second, 3 * time.Second, 2, 3 * time.Second},
	}
	for _, tt := range tests {
		if got := transferBackoff(tt.base, tt.most, tt.n); got != tt.want {
			t.Errorf("transferBackoff(%v, %v, %d) = %v, want %v", tt.base, tt.most, tt.n, got, tt.want)
		}
	}
}
