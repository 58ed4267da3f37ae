package kickstarts

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The expected words were checked against Python's shlex.split, which
// pykickstart uses.
func TestSplitArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		comments bool
		want     []string
		err      error
	}{
		{`a b  c`, true, []string{"a", "b", "c"}, nil},
		{`--name='a b'`, true, []string{"--name=a b"}, nil},
		{`--x="a \"q\" \$b"`, true, []string{`--x=a "q" \$b`}, nil},
		{`a#b c`, true, []string{"a"}, nil},
		{`a #b`, true, []string{"a"}, nil},
		{`"#x" y`, true, []string{"#x", "y"}, nil},
		{`'' x`, true, []string{"", "x"}, nil},
		{`a\ b`, true, []string{"a b"}, nil},
		{`"a\nb"`, true, []string{`a\nb`}, nil},
		{`a#b`, false, []string{"a#b"}, nil},
		{`%include "x y.ks" # c`, true, []string{"%include", "x y.ks"}, nil},
		{`it's`, true, nil, errNoClosingQuote},
		{`a "b`, true, nil, errNoClosingQuote},
		{`part / \`, true, nil, errTrailingBackslash},
	}
	for _, tt := range tests {
		got, err := splitArgs(tt.in, tt.comments)
		if !errors.Is(err, tt.err) {
			t.Errorf("splitArgs(%q) error = %v, want %v", tt.in, err, tt.err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("splitArgs(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestQuoteArgRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", "a b", "it's", `back\slash`, `"dq"`, "#hash", "x#y", "tab\there", "--opt=a b"} {
		got, err := splitArgs(quoteArg(s), true)
		if err != nil {
			t.Fatalf("splitArgs(quoteArg(%q)): %v", s, err)
		}
		if diff := cmp.Diff([]string{s}, got); diff != "" {
			t.Errorf("round trip of %q (-want +got):\n%s", s, diff)
		}
	}
}
