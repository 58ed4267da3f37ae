package kickstarts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/testing/ftptest"
	"github.com/fedora-fbs/fbs/testing/netnstest"
)

// writeTree writes files (relative names) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIncludeConfinement(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	secret := filepath.Join(base, "secret.ks")
	writeTree(t, base, map[string]string{
		"secret.ks":        "rootpw --plaintext hunter2\n",
		"outside/x.ks":     "rootpw --plaintext hunter2\n",
		"ks/ok.ks":         "%include sub/inc.ks\n",
		"ks/sub/inc.ks":    "%include ../common.ks\n",
		"ks/common.ks":     "lang C\n",
		"ks/abs.ks":        "%include " + secret + "\n",
		"ks/dotdot.ks":     "lang C\n%include ../secret.ks\n",
		"ks/sub/deep.ks":   "%include ../../secret.ks\n",
		"ks/symlink.ks":    "%include link.ks\n",
		"ks/symlinkdir.ks": "%include linkdir/x.ks\n",
		"ks/innerlink.ks":  "%include inner.ks\n",
		"ks/url.ks":        "%include file:///etc/passwd\n",
	})
	ks := filepath.Join(base, "ks")
	for link, target := range map[string]string{"link.ks": secret, "linkdir": filepath.Join(base, "outside"), "inner.ks": "common.ks"} {
		if err := os.Symlink(target, filepath.Join(ks, link)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		file     string
		confined string // error substring when confined; "" means success
		plain    string // error substring for the CLI; "" means success
	}{
		{"ok.ks", "", ""},
		{"innerlink.ks", "", ""},
		{"abs.ks", "abs.ks:1: include " + secret + ": absolute paths are not allowed here", ""},
		{"dotdot.ks", "dotdot.ks:2: include ../secret.ks: leaves the kickstart's directory tree", ""},
		{"sub/deep.ks", "deep.ks:1: include ../../secret.ks: leaves the kickstart's directory tree", ""},
		{"symlink.ks", "symlink.ks:1: include link.ks: refused: a symbolic link leads out of the kickstart's directory tree", ""},
		{"symlinkdir.ks", "symlinkdir.ks:1: include linkdir/x.ks: refused: a symbolic link leads out", ""},
		{"url.ks", `scheme "file" is not allowed`, `scheme "file" is not allowed`},
	}
	for _, tt := range tests {
		for _, confined := range []bool{true, false} {
			want := tt.plain
			if confined {
				want = tt.confined
			}
			r, err := Flatten(context.Background(), filepath.Join(ks, tt.file), Options{Confined: confined})
			switch {
			case want == "" && err != nil:
				t.Errorf("%s (confined %v): %v", tt.file, confined, err)
			case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
				t.Errorf("%s (confined %v): error = %v, want %q", tt.file, confined, err, want)
			case want != "" && !errors.Is(err, ErrRefused):
				t.Errorf("%s (confined %v): error %v does not wrap ErrRefused", tt.file, confined, err)
			case err == nil && strings.Contains(r.Text, "hunter2") && confined:
				t.Errorf("%s: confined flatten read the secret", tt.file)
			}
		}
	}
}

// ksServer serves kickstarts and redirects on 127.0.0.1 and counts the
// requests it got.
type ksServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newKSServer(t *testing.T) *ksServer {
	t.Helper()
	s := &ksServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/main.ks", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "lang C\n%include sub/inc.ks\n")
	})
	mux.HandleFunc("/sub/inc.ks", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "keyboard us\n%include ../leaf.ks\n")
	})
	mux.HandleFunc("/leaf.ks", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "timezone UTC\n")
	})
	mux.HandleFunc("/big.ks", func(w http.ResponseWriter, r *http.Request) {
		line := "# " + strings.Repeat("x", 1020) + "\n"
		for range 1100 {
			fmt.Fprint(w, line)
		}
	})
	mux.HandleFunc("/redirect/{n}", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		if n == 0 {
			http.Redirect(w, r, "/leaf.ks", http.StatusFound)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/redirect/%d", n-1), http.StatusFound)
	})
	mux.HandleFunc("/tofile", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	})
	mux.HandleFunc("/slow.ks", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	mux.HandleFunc("/broken.ks", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestFetch(t *testing.T) {
	t.Parallel()
	srv := newKSServer(t)
	ctx := context.Background()
	allow := Options{Egress: egress.Open()}

	r, err := Flatten(ctx, srv.URL+"/main.ks", allow)
	if err != nil {
		t.Fatalf("fetch with includes: %v", err)
	}
	if diff := cmp.Diff("lang C\nkeyboard us\ntimezone UTC\n", body(body(r.Text))); diff != "" {
		t.Errorf("URL kickstart with relative includes (-want +got):\n%s", diff)
	}
	if r.Name != srv.URL+"/main.ks" {
		t.Errorf("Name = %q", r.Name)
	}

	tests := []struct {
		name string
		ref  string
		opts Options
		want string
		is   error
	}{
		{"not found", srv.URL + "/nothing.ks", allow, "404", ErrNotFound},
		{"server error", srv.URL + "/broken.ks", allow, "HTTP 500", nil},
		{"too large", srv.URL + "/big.ks", allow, "larger than 1048576 bytes", ErrLimit},
		{"too many redirects", srv.URL + "/redirect/5", allow, "more than 5 redirects", nil},
		{"redirect to file", srv.URL + "/tofile", allow, `scheme "file"`, ErrRefused},
		{"scheme not allowed", "gopher://127.0.0.1/x.ks", allow, `scheme "gopher" is not allowed`, ErrRefused},
	}
	for _, tt := range tests {
		_, err := Flatten(ctx, tt.ref, tt.opts)
		var fe *FetchError
		switch {
		case err == nil:
			t.Errorf("%s: Flatten succeeded", tt.name)
		case !strings.Contains(err.Error(), tt.want):
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		case tt.is != nil && !errors.Is(err, tt.is):
			t.Errorf("%s: error %v does not wrap %v", tt.name, err, tt.is)
		case !errors.As(err, &fe):
			t.Errorf("%s: error %v is not a *FetchError", tt.name, err)
		}
	}

	if _, err := Flatten(ctx, srv.URL+"/redirect/4", allow); err != nil {
		t.Errorf("5 redirects: %v", err)
	}
}

// TestFetchRefused fetches kickstarts from a loopback server by address,
// by localhost, by a name that resolves to loopback only when dialled, by
// FTP, through a caller's client and from the metadata address: the
// outbound-address policy refuses each before the server is reached, and
// [security] lets the same server be reached. It runs in a loopback-only
// network namespace.
func TestFetchRefused(t *testing.T) {
	if !netnstest.Isolate(t) {
		return
	}
	srv := newKSServer(t)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	rebound := "http://" + netnstest.LoopbackName + ":" + port + "/main.ks"
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		ref  string
		opts Options
		want string
	}{
		{"loopback address", srv.URL + "/main.ks", Options{}, "loopback address 127.0.0.1"},
		{"loopback with a caller's client", srv.URL + "/main.ks", Options{Client: &http.Client{}}, "loopback address 127.0.0.1"},
		{"localhost", "http://localhost:" + port + "/main.ks", Options{}, "loopback address"},
		{"name resolving to loopback", rebound, Options{}, "loopback address 127.0.0.1"},
		{"name resolving to loopback, caller's client", rebound, Options{Client: &http.Client{}}, "loopback address 127.0.0.1"},
		{"ftp on loopback", "ftp://127.0.0.1:" + port + "/main.ks", Options{}, "loopback address 127.0.0.1"},
		{"metadata endpoint", "http://169.254.169.254/latest/user-data", Options{}, "link-local address 169.254.169.254"},
		{"allowed host, other name", rebound, Options{Egress: egress.New(egress.Config{AllowHosts: []string{"127.0.0.1"}})}, "loopback address 127.0.0.1"},
	} {
		_, err := Flatten(ctx, tt.ref, tt.opts)
		var fe *FetchError
		switch {
		case !errors.Is(err, ErrRefused) || !errors.Is(err, egress.ErrRefused):
			t.Errorf("%s: error = %v, want a refusal of the policy", tt.name, err)
		case !strings.Contains(err.Error(), tt.want):
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		case !errors.As(err, &fe):
			t.Errorf("%s: error %v is not a *FetchError", tt.name, err)
		}
	}
	if n := srv.hits.Load(); n != 0 {
		t.Fatalf("the refused server got %d requests", n)
	}
	allow := Options{Egress: egress.New(egress.Config{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})}
	if _, err := Flatten(ctx, rebound, allow); err != nil {
		t.Fatalf("fetch allowed by [security]: %v", err)
	}
}

func TestFetchTimeout(t *testing.T) {
	t.Parallel()
	if got := newFetcher(Options{}).client.Timeout; got != 30*time.Second {
		t.Errorf("default client timeout = %v, want 30s", got)
	}
	srv := newKSServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Flatten(ctx, srv.URL+"/slow.ks", Options{Egress: egress.Open()})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

// A site kickstart on the server may include by URL only what the fetch
// rules allow.
func TestConfinedURLInclude(t *testing.T) {
	t.Parallel()
	srv := newKSServer(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"main.ks": "%include " + srv.URL + "/leaf.ks\n"})
	before := srv.hits.Load()
	_, err := Flatten(context.Background(), filepath.Join(dir, "main.ks"), Options{Confined: true})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "main.ks:1: fetch "+srv.URL+"/leaf.ks") {
		t.Errorf("error = %v, want a refused fetch at main.ks:1", err)
	}
	if srv.hits.Load() != before {
		t.Error("the refused server got a request")
	}
	r, err := Flatten(context.Background(), filepath.Join(dir, "main.ks"), Options{Confined: true, Egress: egress.Open()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Text, "timezone UTC\n") {
		t.Errorf("included URL missing from:\n%s", r.Text)
	}
}

func TestFetchFTP(t *testing.T) {
	t.Parallel()
	srv := ftptest.Start(t, ftptest.Options{})
	writeTree(t, srv.Pub, map[string]string{
		"main.ks":    "lang C\n%include sub/inc.ks\n",
		"sub/inc.ks": "keyboard us\n",
		"big.ks":     strings.Repeat("# "+strings.Repeat("x", 1021)+"\n", 1100),
	})
	base := "ftp://" + srv.Addr() + "/pub"
	ctx := context.Background()
	r, err := Flatten(ctx, base+"/main.ks", Options{Egress: egress.Open()})
	if err != nil {
		t.Fatalf("FTP fetch: %v", err)
	}
	if diff := cmp.Diff("lang C\nkeyboard us\n", body(body(r.Text))); diff != "" {
		t.Errorf("FTP kickstart (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		ref  string
		opts Options
		is   error
	}{
		{base + "/main.ks", Options{}, ErrRefused},
		{base + "/missing.ks", Options{Egress: egress.Open()}, ErrNotFound},
		{base + "/big.ks", Options{Egress: egress.Open()}, ErrLimit},
	} {
		_, err := Flatten(ctx, tt.ref, tt.opts)
		var fe *FetchError
		if !errors.Is(err, tt.is) || !errors.As(err, &fe) {
			t.Errorf("%s: error = %v, want a *FetchError wrapping %v", tt.ref, err, tt.is)
		}
	}
}
