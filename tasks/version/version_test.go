package version_test

import (
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks/version"
)

// TestString checks that the version a heartbeat carries starts with the
// release and adds at most the revision.
func TestString(t *testing.T) {
	s, r := version.String(), version.Release()
	if r == "" || !strings.HasPrefix(s, r) {
		t.Fatalf("String() = %q, Release() = %q", s, r)
	}
	if rest := strings.TrimPrefix(s, r); rest != "" && (!strings.HasPrefix(rest, " ") || strings.Count(rest, " ") != 1) {
		t.Errorf("String() = %q: after the release, want one revision", s)
	}
}
