package builder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// recorder is a Job.Output that checks the one-line-per-Write contract and
// signals when a given line arrives.
type recorder struct {
	t      testing.TB
	mu     sync.Mutex
	lines  []string
	waitOn string
	seen   chan struct{}
}

func newRecorder(t testing.TB, waitOn string) *recorder {
	return &recorder{t: t, waitOn: waitOn, seen: make(chan struct{})}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := string(p)
	if !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
		r.t.Errorf("Write(%.80q): want exactly one line ending in \\n", s)
	}
	r.lines = append(r.lines, s)
	if r.waitOn != "" && s == r.waitOn+"\n" {
		close(r.seen)
		r.waitOn = ""
	}
	return len(p), nil
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

func testJob(t testing.TB, out *recorder) *Job {
	return &Job{ID: "test", WorkDir: t.TempDir(), OutDir: t.TempDir(), Output: out, Logf: t.Logf}
}

func sh(script string) command {
	return command{tool: "sh", args: []string{"-c", script}}
}

func TestRunStreamsLines(t *testing.T) {
	t.Parallel()
	out := newRecorder(t, "")
	job := testJob(t, out)
	r := newRunner(nil)
	err := r.runTool(context.Background(), job, sh(`echo one; echo two >&2; printf 'three\nno newline'`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"one\n", "two\n", "three\n", "no newline\n"}
	if diff := cmp.Diff(want, out.got()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestRunSplitsLongLines(t *testing.T) {
	t.Parallel()
	out := newRecorder(t, "")
	job := testJob(t, out)
	const n = 3*maxLine + 100
	err := newRunner(nil).runTool(context.Background(), job, sh(`head -c `+strconv.Itoa(n)+` /dev/zero | tr '\0' x; echo; echo after`))
	if err != nil {
		t.Fatal(err)
	}
	got := out.got()
	if len(got) != 5 {
		t.Fatalf("got %d writes, want 4 pieces of the long line and one more", len(got))
	}
	joined := ""
	for _, piece := range got[:4] {
		if len(piece) > maxLine+1 {
			t.Errorf("piece of %d bytes, want at most %d", len(piece), maxLine+1)
		}
		joined += strings.TrimSuffix(piece, "\n")
	}
	if joined != strings.Repeat("x", n) {
		t.Errorf("long line lost bytes: got %d, want %d", len(joined), n)
	}
	if got[4] != "after\n" {
		t.Errorf("last line = %q, want after", got[4])
	}
}

func TestRunExitError(t *testing.T) {
	t.Parallel()
	out := newRecorder(t, "")
	err := newRunner(nil).runTool(context.Background(), testJob(t, out), sh(`seq 1 30; echo fatal: no space >&2; exit 3`))
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v, want *ExitError", err)
	}
	var tail []string
	for i := 12; i <= 30; i++ {
		tail = append(tail, strconv.Itoa(i))
	}
	tail = append(tail, "fatal: no space")
	want := &ExitError{Tool: "sh", Code: 3, Tail: tail}
	if diff := cmp.Diff(want, ee); diff != "" {
		t.Errorf("ExitError (-want +got):\n%s", diff)
	}
	if got, want := ee.Error(), "sh exited with status 3: fatal: no space"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestRunMissingTool(t *testing.T) {
	t.Parallel()
	job := testJob(t, newRecorder(t, ""))
	tests := []struct {
		tools Tools
		tool  string
		want  string
	}{
		{nil, "fbs-no-such-tool", `fbs-no-such-tool not found in PATH: install it with "dnf install fbs-no-such-tool" (Fedora) or "apt-get install fbs-no-such-tool" (Debian)`},
		{Tools{"xorriso": "/nonexistent/bin/xorriso"}, "xorriso", `xorriso not found at /nonexistent/bin/xorriso: install it with "dnf install xorriso" (Fedora) or "apt-get install xorriso" (Debian)`},
	}
	for _, tt := range tests {
		err := newRunner(tt.tools).runTool(context.Background(), job, command{tool: tt.tool})
		var te *ToolError
		if !errors.As(err, &te) {
			t.Errorf("run(%s) = %v, want *ToolError", tt.tool, err)
			continue
		}
		if got := err.Error(); got != tt.want || strings.Contains(got, "\n") {
			t.Errorf("Error() = %q\nwant      %q", got, tt.want)
		}
	}
}

// readPID reads a PID a test script wrote.
func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// pidfd opens a handle on a running process, so its exit can be awaited
// even though it is not our child.
func pidfd(t *testing.T, pid int) int {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open(%d): %v", pid, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// requireExited fails t unless the process behind fd has exited within d.
func requireExited(t *testing.T, what string, fd int, d time.Duration) {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(d.Milliseconds()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("%s still running %v after the build returned", what, d)
		}
		return
	}
}

func TestRunCancelKillsGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// trap makes the shell and its child ignore SIGTERM, so only
		// SIGKILL after the grace period stops them.
		trap  string
		grace time.Duration
	}{
		{"SIGTERM", "", 10 * time.Second},
		{"SIGKILL after grace", "trap '' TERM; ", 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := newRecorder(t, "ready")
			job := testJob(t, out)
			pids := filepath.Join(job.WorkDir, "pid")
			script := tt.trap + `sleep 1000 & echo $! > ` + pids + `.child; echo $$ > ` + pids + `.sh; echo ready; wait`
			r := newRunner(nil)
			r.grace = tt.grace
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- r.runTool(ctx, job, sh(script)) }()
			select {
			case <-out.seen:
			case err := <-errc:
				t.Fatalf("script ended before it was ready: %v", err)
			}
			shFD := pidfd(t, readPID(t, pids+".sh"))
			childFD := pidfd(t, readPID(t, pids+".child"))
			start := time.Now()
			cancel()
			err := <-errc
			took := time.Since(start)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want one wrapping context.Canceled", err)
			}
			if tt.trap != "" && took < tt.grace {
				t.Errorf("returned after %v, before the %v grace period", took, tt.grace)
			}
			if tt.trap == "" && took >= tt.grace {
				t.Errorf("returned after %v: SIGTERM did not reach the whole group", took)
			}
			if took > tt.grace+5*time.Second {
				t.Errorf("returned after %v", took)
			}
			requireExited(t, "sh", shFD, 5*time.Second)
			requireExited(t, "background sleep", childFD, 5*time.Second)
		})
	}
}

func TestRunDeadline(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := newRunner(nil).runTool(ctx, testJob(t, newRecorder(t, "")), sh(`exec sleep 1000`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want one wrapping context.DeadlineExceeded", err)
	}
}

func TestRunKillsLeftovers(t *testing.T) {
	t.Parallel()
	// A tool that exits leaving a child behind must not keep the build
	// waiting, nor leave the child running.
	out := newRecorder(t, "")
	job := testJob(t, out)
	pid := filepath.Join(job.WorkDir, "child")
	if err := newRunner(nil).runTool(context.Background(), job, sh(`sleep 1000 & echo $! > `+pid)); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.PidfdOpen(readPID(t, pid), 0)
	if err == unix.ESRCH {
		return // already gone and reaped
	}
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	requireExited(t, "leftover sleep", fd, 5*time.Second)
}

func TestRunEscapedProcess(t *testing.T) {
	t.Parallel()
	// A process that left the group (setsid) and holds the output pipe
	// must not keep the build waiting for ever.
	job := testJob(t, newRecorder(t, ""))
	pid := filepath.Join(job.WorkDir, "escaped")
	r := newRunner(nil)
	r.grace = 100 * time.Millisecond
	start := time.Now()
	err := r.runTool(context.Background(), job, sh(`setsid sh -c 'echo $$ > `+pid+`; exec sleep 1000' & while [ ! -s `+pid+` ]; do :; done`))
	t.Cleanup(func() { _ = unix.Kill(readPID(t, pid), unix.SIGKILL) })
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("run returned after %v", took)
	}
}

// failingWriter fails every write, as a full disk would.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestRunFD3 checks the pipe on file descriptor 3: what the tool writes
// there arrives whole in command.fd3, and a writer that fails ends the run
// with its error (the tool sees a broken pipe rather than blocking).
func TestRunFD3(t *testing.T) {
	t.Parallel()
	r := newRunner(nil)
	var got strings.Builder
	c := sh(`head -c 3000000 /dev/zero | tr '\0' x >&3 && echo done`)
	c.fd3 = &got
	if err := r.runTool(context.Background(), testJob(t, newRecorder(t, "")), c); err != nil {
		t.Fatal(err)
	}
	if got.Len() != 3000000 || strings.Trim(got.String(), "x") != "" {
		t.Fatalf("fd3 received %d bytes, want 3000000 x", got.Len())
	}

	c = sh(`head -c 3000000 /dev/zero >&3`)
	c.fd3 = failingWriter{}
	err := r.runTool(context.Background(), testJob(t, newRecorder(t, "")), c)
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("run with a failing fd3 writer: err = %v, want the writer's error", err)
	}
}
