package cli_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/fedora-fbs/fbs/cli"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/testing/ftptest"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

// terminal is a pseudo-terminal: tty is what a command writes to, and
// Output returns what a person would have been sent, once tty is closed.
type terminal struct {
	tty  *os.File
	out  bytes.Buffer
	done chan struct{}
}

func newTerminal(t *testing.T) *terminal {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	if err := pty.Setsize(tty, &pty.Winsize{Rows: 40, Cols: 200}); err != nil {
		t.Fatal(err)
	}
	term := &terminal{tty: tty, done: make(chan struct{})}
	go func() {
		defer close(term.done)
		// Reading ends with EIO once the tty side is closed.
		io.Copy(&term.out, ptmx)
	}()
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	return term
}

// Output closes the terminal and returns what was written to it, with the
// line discipline's CR LF turned back into LF.
func (term *terminal) Output() string {
	term.tty.Close()
	<-term.done
	return strings.ReplaceAll(term.out.String(), "\r\n", "\n")
}

// runTo runs fbs with stdout and stderr going to out and errw.
func runTo(out, errw io.Writer, args ...string) int {
	lookup := func(string) (string, bool) { return "", false }
	return cli.Main(context.Background(), args, cli.Env{Stdout: out, Stderr: errw, LookupEnv: lookup})
}

// checkProgressOutput checks what a command wrote of n progress lines or
// more: on a terminal, one line rewritten in place (a carriage return
// before each text, a clear to the end of the line after it); elsewhere,
// one plain line each.
func checkProgressOutput(t *testing.T, got string, onTerminal bool, prefix string) {
	t.Helper()
	var progress []string
	for _, l := range strings.Split(got, "\n") {
		if strings.Contains(l, prefix) {
			progress = append(progress, l)
		}
	}
	if onTerminal {
		if len(progress) != 1 {
			t.Fatalf("terminal: %d lines with progress, want one rewritten in place:\n%q", len(progress), got)
		}
		if n := strings.Count(progress[0], "\r"); n < 3 || strings.Count(progress[0], "\x1b[K") != n {
			t.Errorf("terminal: the progress line was written %d times, want several, each a carriage return, text and clear to end of line:\n%q", n, progress[0])
		}
		return
	}
	if len(progress) < 3 {
		t.Fatalf("not a terminal: %d progress lines, want several:\n%s", len(progress), got)
	}
	for _, l := range progress {
		if strings.ContainsAny(l, "\r\x1b") {
			t.Errorf("not a terminal: progress line %q holds terminal controls", l)
		}
	}
}

// TestStagePutProgress uploads to an FTP server that takes 8 MiB/s (24 MiB,
// of which the sockets buffer a few at once): on
// a terminal the progress is one line rewritten in place, into a pipe it
// is plain lines.
func TestStagePutProgress(t *testing.T) {
	t.Parallel()
	srv := ftptest.Start(t, ftptest.Options{MaxRate: 8 << 20})
	src := filepath.Join(t.TempDir(), "boot.iso")
	b := make([]byte, 24<<20)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, onTerminal := range []bool{true, false} {
		var stdout, stderr bytes.Buffer
		var errw io.Writer = &stderr
		var term *terminal
		if onTerminal {
			term = newTerminal(t)
			errw = term.tty
		}
		url := fmt.Sprintf("ftp://%s/pub/t%v", srv.Addr(), onTerminal)
		if code := runTo(&stdout, errw, "stage", "put", "--progress-interval", "200ms", src, url); code != 0 {
			t.Fatalf("stage put: exit %d: %s", code, stderr.String())
		}
		got := stderr.String()
		if onTerminal {
			got = term.Output()
		}
		checkProgressOutput(t, got, onTerminal, "progress transfer: ")
		if !strings.HasPrefix(stdout.String(), fmt.Sprintf("boot.iso %d ", len(b))) {
			t.Errorf("stdout %q, want the artifact line", stdout.String())
		}
	}
	if code := runTo(io.Discard, io.Discard, "stage", "put", "--progress-interval", "1ms", src, "ftp://"+srv.Addr()+"/pub"); code == 0 {
		t.Error("stage put --progress-interval 1ms: exit 0, want an error")
	}
}

// TestFollowProgress follows a build's log with `fbs logs -f` on a
// terminal and into a pipe.
func TestFollowProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	store := builds.NewStore(srv.Client())
	id := tasks.NewBuildID()
	b := &tasks.Build{ID: id, Owner: "alice", TaskID: id, State: tasks.StateQueued, Queue: tasks.QueueName("x86_64", "41"),
		Spec: tasks.Spec{Type: tasks.TypeLive, Arch: "x86_64", Release: "41", Staging: "file:///srv/x"}}
	if err := store.Create(ctx, b, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	text := []string{"stage transfer: started"}
	for i := 1; i <= 4; i++ {
		text = append(text, tasks.Progress{Stage: tasks.StageTransfer, Item: "a.iso", Done: int64(i) << 20, Total: 4 << 20, Rate: 2e6}.Line())
	}
	text = append(text, "stage transfer: done in 2s", "build succeeded")
	var lines []builds.LogLine
	for i, s := range text {
		lines = append(lines, builds.LogLine{N: i + 1, Text: at.Add(time.Duration(i)*time.Second).Format("2006-01-02T15:04:05.000Z") + " fbs | " + s})
	}
	if _, err := store.AppendLog(ctx, id, lines, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Update(ctx, id, func(b *tasks.Build) error { b.State = tasks.StateSucceeded; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := store.EndLog(ctx, id, tasks.StateSucceeded); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "fbs.conf")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("[redis]\nurl = redis://%s/0\n[worker]\ndata_dir = %s\n", srv.Addr, t.TempDir())), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, onTerminal := range []bool{true, false} {
		var stdout, stderr bytes.Buffer
		var out io.Writer = &stdout
		var term *terminal
		if onTerminal {
			term = newTerminal(t)
			out = term.tty
		}
		if code := runTo(out, &stderr, "logs", "-f", "--config", cfg, id); code != 0 {
			t.Fatalf("logs -f: exit %d: %s", code, stderr.String())
		}
		got := stdout.String()
		if onTerminal {
			got = term.Output()
		}
		checkProgressOutput(t, got, onTerminal, "fbs | progress transfer: ")
		// The other lines are whole lines, the last progress kept above
		// the line after it.
		for _, want := range []string{"fbs | stage transfer: started\n", "(100%, 2.0 MB/s, 0s left) a.iso" + map[bool]string{true: "\x1b[K\n", false: "\n"}[onTerminal],
			"fbs | stage transfer: done in 2s\n", "fbs | build succeeded\n"} {
			if !strings.Contains(got, want) {
				t.Errorf("terminal %v: output lacks %q:\n%q", onTerminal, want, got)
			}
		}
	}
}
