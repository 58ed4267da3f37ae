package inilines

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScan(t *testing.T) {
	t.Parallel()
	text := "top = 1\n" + // 1: before any header: DEFAULT
		"[DEFAULT]\n" + // 2
		"; comment\n" + // 3
		"  Type : boot\n" + // 4
		"[boot]\n" + // 5
		"v = \"\"\"multi\n" + // 6: a value running over lines 6-7
		"line\"\"\"\n" + // 7
		"w = `one`\n" + // 8: closed on its line
		"\"quoted key\" = x\n" + // 9
		"v = again\n" + // 10
		"[DEFAULT]\n" + // 11
		"top=2" // 12: no final newline
	x := Scan([]byte(text), true)
	if len(x.Errors) != 0 {
		t.Fatalf("errors: %+v", x.Errors)
	}
	keys := []struct {
		section, key string
		want         []int
	}{
		{"DEFAULT", "top", []int{1, 12}},
		{"DEFAULT", "type", []int{4}},
		{"boot", "v", []int{6, 10}},
		{"boot", "line\"\"\"", nil},
		{"boot", "w", []int{8}},
		{"boot", "quoted key", []int{9}},
	}
	for _, k := range keys {
		if diff := cmp.Diff(k.want, x.Key(k.section, k.key)); diff != "" {
			t.Errorf("Key(%s, %s) mismatch (-want +got):\n%s", k.section, k.key, diff)
		}
	}
	if got := x.SectionLine("boot"); got != 5 {
		t.Errorf("SectionLine(boot) = %d, want 5", got)
	}
	if got := x.KeyLine("boot", "nope"); got != 0 {
		t.Errorf("KeyLine of a missing key = %d, want 0", got)
	}
	want := []Duplicate{
		{Section: "boot", Key: "v", Lines: []int{6, 10}},
		{Section: "DEFAULT", Lines: []int{2, 11}},
		{Section: "DEFAULT", Key: "top", Lines: []int{1, 12}},
	}
	if diff := cmp.Diff(want, x.Duplicates()); diff != "" {
		t.Errorf("Duplicates mismatch (-want +got):\n%s", diff)
	}
}

func TestScanErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want []LineError
	}{
		{"[boot\n", []LineError{{1, "DEFAULT", "section header has no closing ]"}}},
		{"[]\n", []LineError{{1, "DEFAULT", "empty section name"}}},
		{"[a] b\n", []LineError{{1, "DEFAULT", `text after the section header: "b"`}}},
		{"[a] # fine\n", nil},
		{"[a]\nwords\n", []LineError{{2, "a", `not a section header, key = value or comment: "words"`}}},
		{"= v\n", []LineError{{1, "DEFAULT", "empty key name"}}},
		{"- = v\n", []LineError{{1, "DEFAULT", `key name "-" is not allowed`}}},
		{"\"k = v\n", []LineError{{1, "DEFAULT", "quoted key name is never closed"}}},
		{"\"k\" v\n", []LineError{{1, "DEFAULT", `no = after the key "k"`}}},
		{"k = `open\nmore\n", []LineError{{1, "DEFAULT", "quoted value is never closed"}}},
		{"\xef\xbb\xbf[a]\nk=v\n", nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, Scan([]byte(tt.text), false).Errors); diff != "" {
			t.Errorf("Scan(%q) errors mismatch (-want +got):\n%s", tt.text, diff)
		}
	}
}
