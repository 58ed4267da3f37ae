package broker

import (
	"strings"
	"testing"
)

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:6380", true},
		{"127.0.0.2:6380", true},
		{"[::1]:6380", true},
		{"localhost:6380", true},
		{"127.0.0.1:0", true},
		{"0.0.0.0:6380", false},
		{"[::]:6380", false},
		{":6380", false},
		{"10.0.0.5:6380", false},
		{"[fe80::1]:6380", false},
		{"broker.example:6380", false},
		{"[::ffff:0.0.0.0]:6380", false},
		{"6380", false},
	}
	for _, tt := range tests {
		err := CheckAddr(tt.addr)
		if (err == nil) != tt.ok {
			t.Errorf("CheckAddr(%q) = %v, want ok %v", tt.addr, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tt.addr) {
			t.Errorf("CheckAddr(%q): error %q does not name the address", tt.addr, err)
		}
	}
	// Start refuses before listening.
	if _, err := Start("0.0.0.0:0"); err == nil || !strings.Contains(err.Error(), "not loopback-only") {
		t.Errorf("Start on 0.0.0.0: %v", err)
	}
}
