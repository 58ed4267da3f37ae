package monitor

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestANSISpans(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []span
	}{
		{"plain <b>", []span{{Text: "plain <b>"}}},
		{"a\x1b[31mred\x1b[0m b", []span{{Text: "a"}, {Text: "red", Class: "a1"}, {Text: " b"}}},
		{"\x1b[1;92mok\x1b[22m!\x1b[m", []span{{Text: "ok", Class: "ab a10"}, {Text: "!", Class: "a10"}}},
		{"\x1b]0;title\x07x\x1b[2K\x1b[1Ay", []span{{Text: "xy"}}},
		{"progress 10%\rprogress 100%", []span{{Text: "progress 100%"}}},
		{"cut \x1b[3", []span{{Text: "cut "}}},
		{"esc at end\x1b", []span{{Text: "esc at end"}}},
	} {
		if diff := cmp.Diff(tc.want, ansiSpans(tc.in)); diff != "" {
			t.Errorf("ansiSpans(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func FuzzANSISpans(f *testing.F) {
	f.Add("a\x1b[31mred\x1b[0m")
	f.Add("\x1b]0;t\x1b\\x")
	f.Fuzz(func(t *testing.T, s string) {
		var text strings.Builder
		for _, sp := range ansiSpans(s) {
			text.WriteString(sp.Text)
			for _, c := range strings.Fields(sp.Class) {
				if c != "ab" && !(len(c) >= 2 && c[0] == 'a' && strings.Trim(c[1:], "0123456789") == "") {
					t.Fatalf("ansiSpans(%q): class %q not from the fixed set", s, c)
				}
			}
		}
		if strings.ContainsAny(text.String(), "\x1b\r") {
			t.Fatalf("ansiSpans(%q) left an escape or CR: %q", s, text.String())
		}
	})
}

func TestParseRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		h           string
		total       int64
		first, last int64
		ok          bool
	}{
		{"bytes=0-9", 100, 0, 9, true},
		{"bytes=90-", 100, 90, 99, true},
		{"bytes=90-500", 100, 90, 99, true},
		{"bytes=-10", 100, 90, 99, true},
		{"bytes=-500", 100, 0, 99, true},
		{"bytes=100-", 100, 0, 0, false},
		{"bytes=-0", 100, 0, 0, false},
	} {
		r, ok := parseRange(tc.h)
		if !ok {
			t.Errorf("parseRange(%q) refused", tc.h)
			continue
		}
		first, last, ok := r.resolve(tc.total)
		if first != tc.first || last != tc.last || ok != tc.ok {
			t.Errorf("%q over %d = %d-%d %v, want %d-%d %v", tc.h, tc.total, first, last, ok, tc.first, tc.last, tc.ok)
		}
	}
	for _, h := range []string{"", "bytes=", "bytes=-", "bytes=0-1,5-6", "items=0-1", "bytes=5-2", "bytes=a-b", "bytes=--1"} {
		if _, ok := parseRange(h); ok {
			t.Errorf("parseRange(%q) accepted", h)
		}
	}
}
