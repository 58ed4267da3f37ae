package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/cli"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/testing/oidctest"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// TestListenersHideBuilds runs `fbs web`, `fbs monitor` and `fbs serve` as the
// commands build them (configuration file, real Redis, an OIDC issuer) and
// checks their build routes: an anonymous caller gets a 404 for a build
// that exists, a mailed link opens it, and `fbs monitor` on loopback
// without OIDC serves the local user, who sees everything. `fbs serve` with
// OIDC answers the same, and keeps its outbox to admins.
func TestListenersHideBuilds(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client()
	idp := oidctest.Start(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "client-secret")
	if err := os.WriteFile(secret, []byte(idp.ClientSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	oidc := fmt.Sprintf("[oidc]\nissuer = %s\nclient_id = %s\nclient_secret_file = %s\n", idp.Issuer, idp.ClientID, secret)
	ctx := context.Background()
	id := tasks.NewBuildID()
	b := &tasks.Build{ID: id, Owner: "alice", TaskID: id, State: tasks.StateQueued, Queue: tasks.QueueName("x86_64", "41"),
		Spec: tasks.Spec{Type: tasks.TypeLive, Arch: "x86_64", Release: "41", Staging: "file:///srv/x", Email: "alice@example.org"}}
	if err := builds.NewStore(rdb).Create(ctx, b, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	key, err := auth.NewLinks(rdb, time.Hour, nil).Mint(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, cmd, extra string
		anonymous        int
	}{
		{"fbs web with OIDC", "web", oidc, http.StatusNotFound},
		{"fbs monitor with OIDC", "monitor", oidc, http.StatusNotFound},
		{"fbs monitor public", "monitor", oidc + "[web]\nvisibility = public\n", http.StatusOK},
		{"fbs monitor local mode", "monitor", "", http.StatusOK},
		{"fbs serve with OIDC", "serve", oidc, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := freeAddr(t)
			cfg := filepath.Join(t.TempDir(), "fbs.conf")
			text := fmt.Sprintf("[redis]\nurl = redis://%s/0\n[worker]\ndata_dir = %s\n%s", srv.Addr, t.TempDir(), tc.extra)
			if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			base := serveCmd(t, tc.cmd, "--config", cfg, "--listen", addr)
			paths := map[string]int{
				"/builds/" + id:        tc.anonymous,
				"/api/v1/builds/" + id: tc.anonymous,
				"/builds/" + id + "/log?key=" + url.QueryEscape(key):             http.StatusOK,
				"/builds/" + id + "?key=" + url.QueryEscape(key):                 http.StatusOK,
				"/builds/" + tasks.NewBuildID() + "?key=" + url.QueryEscape(key): http.StatusNotFound,
			}
			if tc.cmd == "serve" {
				// The outbox holds every build's mails and their links.
				paths["/outbox"] = http.StatusNotFound
			}
			for path, want := range paths {
				res, err := http.Get(base + path)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != want {
					t.Errorf("GET %s: %d, want %d: %.200s", path, res.StatusCode, want, body)
				}
				if want == http.StatusOK && tc.name == "fbs monitor public" && bytes.Contains(body, []byte("alice@example.org")) {
					t.Errorf("GET %s public: shows the email address to an anonymous caller", path)
				}
			}
			if tc.name == "fbs monitor local mode" {
				// DNS rebinding: a page of another site reaching the
				// loopback monitor is not the local user.
				req, _ := http.NewRequest("GET", base+"/builds/"+id, nil)
				req.Host = "evil.example"
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusNotFound {
					t.Errorf("local mode, Host evil.example: %d, want 404", res.StatusCode)
				}
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveCmd runs a serving command until the test ends and returns its
// base URL once it answers.
func serveCmd(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// The output is read only once the command has ended.
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, args, cli.Env{Stdout: &out, Stderr: &errb, LookupEnv: func(string) (string, bool) { return "", false }})
	}()
	ended := false
	stop := func() {
		if !ended {
			cancel()
			<-done
			ended = true
		}
	}
	t.Cleanup(stop)
	var addr string
	for i, a := range args {
		if a == "--listen" {
			addr = args[i+1]
		}
	}
	base := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; {
		select {
		case code := <-done:
			ended = true
			t.Fatalf("%v exited %d: %s", args, code, errb.String())
		default:
		}
		if res, err := http.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 || strings.HasPrefix(args[0], "web") {
				return base
			}
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("%v does not answer: %s", args, errb.String())
		}
		time.Sleep(20 * time.Millisecond) // polling for the listener: no readiness signal
	}
}
