package proctest

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sh starts a shell script as a Proc, failing the test if it cannot.
func sh(t *testing.T, opts Options, script string) *Proc {
	t.Helper()
	p, err := Start(t, opts, "sh", "-c", script)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitDead waits up to 10 s for pid to be gone.
func waitDead(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for Alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs", what, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// childPid waits for the line "child PID" a script prints and returns PID.
func childPid(t *testing.T, p *Proc) int {
	t.Helper()
	if err := p.WaitOutput("child ", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	var pid int
	deadline := time.Now().Add(10 * time.Second)
	for pid == 0 {
		_, rest, _ := strings.Cut(p.Output(), "child ")
		if line, ok := strings.CutSuffix(strings.SplitAfter(rest, "\n")[0], "\n"); ok {
			n, err := strconv.Atoi(line)
			if err != nil {
				t.Fatalf("child line %q: %v", line, err)
			}
			pid = n
		} else if time.Now().After(deadline) {
			t.Fatalf("no whole child line in %q", p.Output())
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return pid
}

func TestWaitOutput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		script  string
		timeout time.Duration
		want    []string // in the error; none: no error
	}{
		{"printed while running", "echo starting; sleep 0.2; echo ready; exec sleep 60", 10 * time.Second, nil},
		{"printed, then exited", "echo ready", 10 * time.Second, nil},
		{"on stderr", "echo ready >&2; exec sleep 60", 10 * time.Second, nil},
		{"exited without it", "echo bye; exit 3", 10 * time.Second, []string{`sh exited (exit status 3) without printing "ready"`, "bye"}},
		{"not within the timeout", "echo waiting; exec sleep 60", 300 * time.Millisecond, []string{`sh did not print "ready" within 300ms`, "waiting"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := sh(t, Options{}, tc.script)
			t0 := time.Now()
			err := p.WaitOutput("ready", tc.timeout)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; output %q", p.Output())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if took := time.Since(t0); took > tc.timeout+5*time.Second {
				t.Errorf("WaitOutput took %s with a timeout of %s", took, tc.timeout)
			}
		})
	}
}

func TestKillEndsTheGroup(t *testing.T) {
	t.Parallel()
	p := sh(t, Options{}, "sleep 60 & echo child $!; wait")
	child := childPid(t, p)
	p.Kill()
	if !p.Exited() {
		t.Fatal("Kill returned before the process ended")
	}
	var ee *exec.ExitError
	if err := p.Err(); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("Err after Kill = %v, want killed by SIGKILL", err)
	}
	waitDead(t, child, "the child of the killed process")
}

func TestSignalReachesOnlyTheProcess(t *testing.T) {
	t.Parallel()
	p := sh(t, Options{}, "trap 'echo got USR1; exit 0' USR1; sleep 60 & echo child $!; wait")
	child := childPid(t, p)
	if err := p.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("exit after its trap: %v\n%s", err, p.Output())
	}
	if !strings.Contains(p.Output(), "got USR1") {
		t.Errorf("the trap did not run:\n%s", p.Output())
	}
	if !Alive(child) {
		t.Error("Signal reached the child too")
	} else {
		_ = syscall.Kill(child, syscall.SIGKILL)
	}
	if err := p.Signal(syscall.SIGUSR1); err == nil || !strings.Contains(err.Error(), "sh has exited") {
		t.Errorf("Signal after exit = %v, want that it has exited", err)
	}
	if err := p.SignalGroup(syscall.SIGKILL); err == nil || !strings.Contains(err.Error(), "sh has exited") {
		t.Errorf("SignalGroup after exit = %v, want that it has exited", err)
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		script  string
		wantErr string // "": Stop returns nil
		signal  syscall.Signal
	}{
		{"ends on the signal", "echo ready; exec sleep 60", "", syscall.SIGTERM},
		// An ignored signal is ignored by the children too.
		{"killed past the limit", "trap '' TERM; echo ready; while :; do sleep 1; done", "sh still ran 500ms after terminated: killed", syscall.SIGKILL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := sh(t, Options{}, tc.script)
			if err := p.WaitOutput("ready", 10*time.Second); err != nil {
				t.Fatal(err)
			}
			err := p.Stop(syscall.SIGTERM, 500*time.Millisecond)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Errorf("Stop = %v, want %q", err, tc.wantErr)
			}
			var ee *exec.ExitError
			if !errors.As(p.Err(), &ee) || ee.Sys().(syscall.WaitStatus).Signal() != tc.signal {
				t.Errorf("Err = %v, want ended by %s", p.Err(), tc.signal)
			}
		})
	}
}

func TestWaitExit(t *testing.T) {
	t.Parallel()
	quick := sh(t, Options{}, "exit 2")
	if err := quick.WaitExit(10 * time.Second); err != nil {
		t.Errorf("WaitExit of a process that exits: %v", err)
	}
	if ee, ok := quick.Err().(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("Err = %v, want exit status 2", quick.Err())
	}
	stuck := sh(t, Options{}, "echo stuck; exec sleep 60")
	if err := stuck.WaitOutput("stuck", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	err := stuck.WaitExit(200 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "sh still ran 200ms later (sent SIGQUIT)") || !strings.Contains(err.Error(), "stuck") {
		t.Errorf("WaitExit of a stuck process = %v", err)
	}
	// sleep ends on SIGQUIT.
	select {
	case <-stuck.Done():
	case <-time.After(10 * time.Second):
		t.Error("the stuck process did not get SIGQUIT")
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	dir, outDir := t.TempDir(), t.TempDir()
	p := sh(t, Options{Name: "printer", Env: []string{"PROCTEST_WORD=hello"}, Dir: dir, OutputDir: outDir},
		`echo "$PROCTEST_WORD from $(pwd)"`)
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if want := "hello from " + dir + "\n"; p.Output() != want {
		t.Errorf("output %q, want %q", p.Output(), want)
	}
	if filepath.Dir(p.OutputPath()) != outDir || !strings.HasPrefix(filepath.Base(p.OutputPath()), "printer.") {
		t.Errorf("output file %s, want printer.* in %s", p.OutputPath(), outDir)
	}
	if p.Name() != "printer" {
		t.Errorf("Name = %q, want printer", p.Name())
	}
}

func TestCleanupKillsTheGroup(t *testing.T) {
	t.Parallel()
	var pid, child int
	t.Run("start", func(t *testing.T) {
		p := sh(t, Options{}, "sleep 60 & echo child $!; wait")
		pid, child = p.Pid(), childPid(t, p)
	})
	waitDead(t, pid, "the process after its test")
	waitDead(t, child, "its child after its test")
}

func TestStartMissingCommand(t *testing.T) {
	t.Parallel()
	_, err := Start(t, Options{}, "/nonexistent/fbs", "worker")
	if err == nil || !strings.Contains(err.Error(), "start fbs (/nonexistent/fbs worker)") {
		t.Errorf("Start of a missing command = %v, want an error naming it", err)
	}
}
