package notify

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain line", "plain line"},
		{"\x1b[1;31merror\x1b[0m: x", "error: x"},
		{"\x1b]0;title\x07after", "after"},
		{"tab\tkept\r", "tab\tkept"},
		{"bell\x07 nul\x00 del\x7f c1\u0085", "bell nul del c1"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{strings.Repeat("é", 600), strings.Repeat("é", 500) + "…"},
	}
	for _, tc := range tests {
		if got := clean(tc.in); got != tc.want {
			t.Errorf("clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "\x1b[31mred", "a\x00b", strings.Repeat("€", 400), "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := clean(s)
		if !utf8.ValidString(got) {
			t.Fatalf("clean(%q) = %q: invalid UTF-8", s, got)
		}
		if len(got) > maxLineLen+len("…") {
			t.Fatalf("clean(%q) is %d bytes long", s, len(got))
		}
		for _, r := range got {
			if r != '\t' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)) {
				t.Fatalf("clean(%q) = %q keeps control character %U", s, got, r)
			}
		}
	})
}
