package tasks

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestProgressLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    Progress
		want string
	}{
		{"half", Progress{Stage: StageTransfer, Item: "Fedora-Live.iso", Done: 50 << 20, Total: 100 << 20, Rate: 12.5e6},
			"progress transfer: 52428800/104857600 bytes (50%, 12.5 MB/s, 4s left) Fedora-Live.iso"},
		{"unknown total", Progress{Stage: StageFetch, Item: "https://example.org/boot.iso", Done: 3 << 20, Rate: 1e6},
			"progress fetch: 3145728/? bytes (3.0 MiB, 1.0 MB/s) https://example.org/boot.iso"},
		{"stalled", Progress{Stage: StageSideRepo, Item: "12 RPMs", Done: 1, Total: 10},
			"progress side repo: 1/10 bytes (10%, 0.0 MB/s) 12 RPMs"},
		{"spaces in the item", Progress{Stage: StageTransfer, Item: "my image (1).iso", Done: 10, Total: 10, Rate: 2e6},
			"progress transfer: 10/10 bytes (100%, 2.0 MB/s, 0s left) my image (1).iso"},
	}
	for _, tt := range tests {
		got := tt.p.Line()
		if got != tt.want {
			t.Errorf("%s: Line() = %q, want %q", tt.name, got, tt.want)
		}
		back, ok := ParseProgressLine(got)
		if !ok {
			t.Errorf("%s: ParseProgressLine(%q) refused its own line", tt.name, got)
			continue
		}
		if diff := cmp.Diff(tt.p, back); diff != "" {
			t.Errorf("%s: ParseProgressLine(Line()) (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestParseProgressLine(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 27, 13, 0, 1, 250e6, time.UTC)
	tests := []struct {
		line string
		want Progress
		ok   bool
	}{
		{"2026-11-27T13:00:01.250Z fbs | progress transfer: 5/10 bytes (50%, 0.1 MB/s, 1s left) a.iso",
			Progress{Stage: StageTransfer, Item: "a.iso", Done: 5, Total: 10, Rate: 1e5, Updated: at}, true},
		{"progress fetch: 7/? bytes (7 B, 0.0 MB/s) http://h/x.iso", Progress{Stage: StageFetch, Item: "http://h/x.iso", Done: 7}, true},
		// A tool's output is never taken for fbs's progress.
		{"2026-11-27T13:00:01.250Z out | progress transfer: 5/10 bytes (50%) a.iso", Progress{}, false},
		{"2026-11-27T13:00:01.250Z fbs | stage transfer: started", Progress{}, false},
		{"progress transfer: 99999999999999999999/10 bytes () a", Progress{}, false},
		{"progress Transfer: 1/10 bytes () a", Progress{}, false},
		{"progress transfer: 1/10 bytes (a (b) c) x", Progress{}, false},
		{"", Progress{}, false},
		{"a b fbs | progress transfer: 1/2 bytes () x", Progress{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseProgressLine(tt.line)
		if ok != tt.ok {
			t.Errorf("ParseProgressLine(%q) ok = %v, want %v", tt.line, ok, tt.ok)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseProgressLine(%q) (-want +got):\n%s", tt.line, diff)
		}
	}
}

func TestProgressRemaining(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    Progress
		want time.Duration
		ok   bool
	}{
		{Progress{Done: 0, Total: 100, Rate: 10}, 10 * time.Second, true},
		{Progress{Done: 100, Total: 100, Rate: 10}, 0, true},
		{Progress{Done: 150, Total: 100, Rate: 10}, 0, true},
		{Progress{Done: 1, Total: 100}, 0, false},
		{Progress{Done: 1, Rate: 5}, 0, false},
		{Progress{Done: 0, Total: 1 << 62, Rate: 1e-9}, 0, false},
	}
	for _, tt := range tests {
		got, ok := tt.p.Remaining()
		if got != tt.want || ok != tt.ok {
			t.Errorf("%+v.Remaining() = %v, %v; want %v, %v", tt.p, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseProgressLine(f *testing.F) {
	f.Add("2026-11-27T13:00:01.250Z fbs | progress transfer: 5/10 bytes (50%, 0.1 MB/s, 1s left) a.iso")
	f.Add("progress fetch: 7/? bytes (7 B, 0.0 MB/s) x")
	f.Add("progress side repo: 1/1 bytes () ")
	f.Fuzz(func(t *testing.T, line string) {
		p, ok := ParseProgressLine(line)
		if !ok {
			return
		}
		if p.Done < 0 || p.Total < 0 || p.Rate < 0 {
			t.Fatalf("ParseProgressLine(%q) = %+v: negative figures", line, p)
		}
		// What was read writes back to a line that reads the same.
		again, ok := ParseProgressLine(p.Line())
		if !ok {
			t.Fatalf("ParseProgressLine(%q) refused Line() of %+v", p.Line(), p)
		}
		if again.Done != p.Done || again.Total != p.Total || again.Stage != p.Stage || again.Item != p.Item {
			t.Fatalf("round trip of %q: %+v, then %+v", line, p, again)
		}
	})
}
