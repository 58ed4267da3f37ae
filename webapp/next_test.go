package webapp

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
)

func TestSafeNext(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, want string }{
		{"", "/"},
		{"/", "/"},
		{"/builds", "/builds"},
		{"/builds/01JABCDEFGHJKMNPQRSTVWXYZ0", "/builds/01JABCDEFGHJKMNPQRSTVWXYZ0"},
		{"/builds?owner=alice&limit=5", "/builds?owner=alice&limit=5"},
		{"/build?type=ksiso#form", "/build?type=ksiso#form"},
		{"/a/b/../c", "/a/b/../c"},
		{"/%2F%2Fevil.example", "/"}, // decodes to //evil.example
		{"/a%2Fb", "/a%2Fb"},
		// Other sites, however written.
		{"//evil.example", "/"},
		{"///evil.example", "/"},
		{"/\\evil.example", "/"},
		{"/\\/evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/\r/evil.example", "/"},
		{"/ /evil.example", "/"},
		{"/\x00/evil.example", "/"},
		{"/\u00a0/evil.example", "/"},
		{"/\u3000/evil.example", "/"},
		{"/a\\b", "/"},
		{"/%5C%5Cevil.example", "/"},
		{"https://evil.example/", "/"},
		{"http:evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"evil.example", "/"},
		{"./x", "/"},
		{"?next=//evil", "/"},
		{"#x", "/"},
		{"/" + strings.Repeat("a", maxNext), "/"},
	}
	for _, tt := range tests {
		if got := safeNext(tt.raw); got != tt.want {
			t.Errorf("safeNext(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

// FuzzSafeNext checks what safeNext promises for any input: "/" or the
// input itself, a path starting with a single "/" then neither "/" nor
// "\", printable ASCII, parsing with no scheme or host.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/builds", "//evil.example", "/\t/evil.example", "/\\evil", "/%2F%2Fx",
		"https://evil.example", "/a?b=//c#d", "/\u3000x", "/x\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := safeNext(raw)
		if got == "/" {
			return
		}
		if got != raw {
			t.Fatalf("safeNext(%q) = %q: neither the input nor /", raw, got)
		}
		if got[0] != '/' || len(got) > 1 && (got[1] == '/' || got[1] == '\\') {
			t.Fatalf("safeNext(%q) = %q: not a single leading slash", raw, got)
		}
		if strings.IndexFunc(got, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) || r > unicode.MaxASCII }) >= 0 {
			t.Fatalf("safeNext(%q) = %q: control, space or non-ASCII character", raw, got)
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" {
			t.Fatalf("safeNext(%q) = %q: parses as %#v (%v)", raw, got, u, err)
		}
		// What a browser resolves it to stays on the site.
		base, _ := url.Parse("http://127.0.0.1:5000/login")
		if r := base.ResolveReference(u); r.Host != base.Host || r.Scheme != base.Scheme {
			t.Fatalf("safeNext(%q) = %q resolves to %s", raw, got, r)
		}
	})
}
