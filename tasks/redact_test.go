package tasks_test

import (
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
)

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"redis://:s3cret@127.0.0.1:6379/0", "redis://:xxxxx@127.0.0.1:6379/0"},
		{"redis://default:s3cret@h:6379/0?dial_timeout=3s", "redis://default:xxxxx@h:6379/0"},
		{"redis://h:6379/0", "redis://h:6379/0"},
		{"redis://:s3cret@127.0.0.1:notaport/0", "redis://:xxxxx@127.0.0.1:notaport/0"},
		{"redis://:s3%zz@h:1/0", "redis://:xxxxx@h:1/0"},
		{"redis://u:pa/s3cret@h:1/0", "redis://u:xxxxx@h:1/0"},
		{"redis://:a@b@s3cret@h:bad/0", "redis://:xxxxx@h:bad/0"},
		{"red is://:s3cret@h", "red is://:xxxxx@h"},
		{"sftp://u:s3cret@h/dir", "sftp://u:xxxxx@h/dir"},
		{"u:s3cret@h", "u:(opaque)"},
		{"1:s3cret@h", "(unparsable URL)"},
		{"redis:s3cret", "redis:(opaque)"},
		{"unix:///run/redis.sock", "unix:///run/redis.sock"},
		{"redis:/:s3cret@h:1/0", "redis:(no host)"},
		{"redis:///:s3cret@h:1/0", "redis:(no host)"},
		{"redis:/u:s3cret@h:1/0", "redis:(no host)"},
	}
	for _, tc := range tests {
		got := tasks.RedactURL(tc.in)
		if got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "s3cret") {
			t.Errorf("RedactURL(%q) = %q shows the password", tc.in, got)
		}
	}
}

func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"redis://:s3cret@h:1/0", "redis://:s3%zz@h:1/0", "u:s3cret@h", "x://a:s3cret@b@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		// A password between ':' and the last '@' never shows.
		const pw = "PW5ecret"
		for _, prefix := range []string{"redis://", "redis:/", "redis:///", "redis:"} {
			in := prefix + "user:" + pw + "@" + raw
			if got := tasks.RedactURL(in); strings.Contains(got, pw) && !strings.Contains(raw, pw) {
				t.Errorf("RedactURL(%q) = %q", in, got)
			}
		}
	})
}
