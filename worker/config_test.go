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
