package staging

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	local := Options{}
	remote := Options{Remote: true, FileRoot: "/srv/staging"}
	for _, tc := range []struct {
		url  string
		opts Options
		want string // error substring; "" for valid
	}{
		{"file:///srv/staging/alice", local, ""},
		{"file:///srv/staging/alice", remote, ""},
		{"file:///home/alice", remote, "/home/alice is outside the staging root /srv/staging"},
		{"file:///srv/staging/../etc", remote, "outside the staging root"},
		{"file:///srv/stagingx", remote, "outside the staging root"},
		{"file:///srv/x", Options{Remote: true}, "no [staging] file_root"},
		{"file:///home/alice", local, ""},
		{"file://relative/dir", local, "file:// takes no host"},
		{"file:", local, "neither a URL"},
		{"file:///", local, ""},
		{"file://", local, "absolute directory"},
		{"sftp://alice@stage.example.org/srv/images", remote, ""},
		{"sftp://alice@stage.example.org:2222/~/images", remote, ""},
		{"sftp://alice:hunter2@stage.example.org/srv", remote, "a password in the URL is refused for remote submissions"},
		{"sftp://alice:hunter2@stage.example.org/srv", local, ""},
		{"ftp://stage.example.org/pub/fbs", remote, ""},
		{"ftps://bob@[2001:db8::1]:990/pub", remote, ""},
		{"ftp://bob:pw@stage.example.org/pub", remote, "password in the URL is refused"},
		{"stage.example.org", remote, ""},
		{"stage.example.org:2121", remote, ""},
		{"http://stage.example.org/x", local, `unknown scheme "http"`},
		{"sftp:///dir", local, "no host"},
		{"sftp://h:99999/dir", local, `bad port "99999"`},
		{"sftp://h/~/../../etc", local, "leaves the login directory"},
		{"ftp://h/dir?x=1", local, "query and fragment are not allowed"},
		{"", local, "empty staging URL"},
		{"not a host/dir", local, "neither a URL"},
		{"sftp://al%ice:pa%ss@h/x", local, "malformed"},
	} {
		err := Check(tc.url, tc.opts)
		if tc.want == "" && err != nil {
			t.Errorf("Check(%q, remote=%v) = %v, want nil", tc.url, tc.opts.Remote, err)
		}
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Check(%q, remote=%v) = %v, want error containing %q", tc.url, tc.opts.Remote, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "pa%ss")) {
			t.Errorf("Check(%q) error shows the password: %v", tc.url, err)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		want target
		str  string // String(): the artifact base
	}{
		{"file:///srv/x/", target{scheme: "file", dir: "/srv/x"}, "file:///srv/x"},
		{"sftp://alice@h/srv/img", target{scheme: "sftp", user: "alice", host: "h", port: 22, dir: "/srv/img"}, "sftp://alice@h/srv/img"},
		{"sftp://alice@h:2222/~/img", target{scheme: "sftp", user: "alice", host: "h", port: 2222, dir: "img"}, "sftp://alice@h:2222/~/img"},
		{"sftp://alice:pw@h/", target{scheme: "sftp", user: "alice", password: "pw", hasPass: true, host: "h", port: 22, dir: "."}, "sftp://alice@h/~/"},
		{"ftp://h/pub/fbs", target{scheme: "ftp", host: "h", port: 21, dir: "/pub/fbs"}, "ftp://h/pub/fbs"},
		{"ftps://bob@[::1]:990/pub", target{scheme: "ftps", user: "bob", host: "::1", port: 990, dir: "/pub"}, "ftps://bob@[::1]:990/pub"},
		{"ftps://[::1]/pub", target{scheme: "ftps", host: "::1", port: 21, dir: "/pub"}, "ftps://[::1]/pub"},
		{"stage.example.org", target{scheme: "ftp", host: "stage.example.org", port: 21, dir: "/pub"}, "ftp://stage.example.org/pub"},
	} {
		got, err := parse(tc.url)
		if err != nil {
			t.Errorf("parse(%q): %v", tc.url, err)
			continue
		}
		if d := cmp.Diff(tc.want, *got, cmp.AllowUnexported(target{})); d != "" {
			t.Errorf("parse(%q) (-want +got):\n%s", tc.url, d)
		}
		if s := got.String(); s != tc.str {
			t.Errorf("parse(%q).String() = %q, want %q", tc.url, s, tc.str)
		}
	}
}

// FuzzCheck: Check never panics, and never repeats a URL's password.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"file:///srv/x", "sftp://a:secretpw@h:22/~/d", "ftp://h/pub", "host", "ftps://u:secretpw@[::1]:21/x?y#z", "sftp://a:secretpw@h%zz/"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, remote bool) {
		err := Check(raw, Options{Remote: remote, FileRoot: "/srv"})
		if err == nil {
			return
		}
		if strings.Contains(raw, ":secretpw@") && strings.Contains(err.Error(), "secretpw") {
			t.Errorf("Check(%q) error shows the password: %v", raw, err)
		}
	})
}
