package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/webapp"
)

// TestSubmitServerWaitProgress submits through a real fbs web app and
// monitor with
// `fbs submit --server --wait` while the test moves the build's transfer
// on, as a worker does (the record's Progress): the command prints the
// progress lines the local path follows in the log, one line rewritten in
// place on a terminal, plain lines into a pipe, and exits 0 once the build
// succeeded.
func TestSubmitServerWaitProgress(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.TestMode)
	rs := redistest.Start(t)
	c := client.New(rs.Client(), client.Config{})
	t.Cleanup(func() { c.Close() })
	dir := t.TempDir()
	root := filepath.Join(dir, "staging")
	ts := httptest.NewUnstartedServer(nil)
	srv, err := webapp.New(c, webapp.Config{PublicURL: "http://" + ts.Listener.Addr().String(), Releases: []string{"41"},
		FileRoot: root, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// The monitor serves GET /api/v1/builds/{id}, as in `fbs serve`.
	mon, err := monitor.New(rs.Client(), monitor.Config{Visibility: tasks.VisibilityPublic, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Close() })
	e := gin.New()
	srv.Register(e)
	mon.Register(e)
	// polls counts the command's reads of the build, so the test moves
	// the build on only once the command has seen its last move.
	var polls atomic.Int64
	ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v1/builds/") {
			polls.Add(1)
		}
		e.ServeHTTP(w, r)
	})
	ts.Start()
	t.Cleanup(ts.Close)

	files := map[string]string{
		filepath.Join(dir, "fbs.conf"):   "[worker]\ndata_dir = " + dir + "\n",
		filepath.Join(dir, "main.ks"):    "text\nlang en_US.UTF-8\n%packages\n@core\n%end\n",
		filepath.Join(dir, "ksiso.conf"): "[DEFAULT]\ntype=ksiso\narch=x86_64\nrelease=41\nstaging=file://" + root + "\n[ksiso]\niso=boot.iso\nconfig=main.ks\n",
	}
	for name, text := range files {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	store := builds.NewStore(rs.Client())
	ctx := context.Background()
	var code chan int
	var stderr bytes.Buffer
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			select {
			case c := <-code:
				t.Fatalf("submit --server --wait ended (exit %d) before %s: %s", c, what, stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 30 s: no %s (%d reads)", what, polls.Load())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	at := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	for _, onTerminal := range []bool{true, false} {
		var stdout bytes.Buffer
		stderr.Reset()
		var out io.Writer = &stdout
		var term *terminal
		if onTerminal {
			term = newTerminal(t)
			out = term.tty
		}
		before, err := c.List(ctx, builds.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		code = make(chan int, 1)
		go func() {
			code <- runTo(out, &stderr, "submit", "--config", filepath.Join(dir, "fbs.conf"), "--server", ts.URL, "--wait",
				"--poll-interval", "100ms", filepath.Join(dir, "ksiso.conf"))
		}()
		var id string
		waitFor("build submitted", func() bool {
			bs, err := c.List(ctx, builds.ListOptions{})
			if err == nil && len(bs) > len(before) {
				id = bs[0].ID
			}
			return id != ""
		})
		for i := int64(1); i <= 4; i++ {
			seen := polls.Load()
			if _, err := store.Update(ctx, id, func(b *tasks.Build) error {
				b.State, b.Stage = tasks.StateRunning, tasks.StageTransfer
				b.Progress = &tasks.Progress{Stage: tasks.StageTransfer, Item: "a.iso", Done: i << 20, Total: 4 << 20, Rate: 2e6,
					Updated: at.Add(time.Duration(i) * time.Second)}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			// Two reads after the move: the second began after it.
			waitFor(fmt.Sprintf("read of move %d", i), func() bool { return polls.Load() >= seen+2 })
		}
		if _, err := store.Update(ctx, id, func(b *tasks.Build) error {
			b.State, b.Finished, b.Progress = tasks.StateSucceeded, time.Now(), nil
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-code:
			if c != 0 {
				t.Fatalf("submit --server --wait: exit %d: %s", c, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("submit --server --wait did not end 30 s after the build succeeded")
		}
		got := stdout.String()
		if onTerminal {
			got = term.Output()
		}
		if !strings.HasPrefix(got, id+"\n") {
			t.Errorf("output does not start with the build ID %s:\n%q", id, got)
		}
		checkProgressOutput(t, got, onTerminal, "progress transfer: ")
		if want := "progress transfer: 4194304/4194304 bytes (100%, 2.0 MB/s, 0s left) a.iso"; !strings.Contains(got, want) {
			t.Errorf("terminal %v: output lacks the last progress %q:\n%q", onTerminal, want, got)
		}
	}
}
