// Package proctest runs a command for a test — the fbs binary or any other
// — in a process group of its own with its output (stdout and stderr) in a
// file; it waits for what the process prints, signals, stops and waits for
// it, and kills its group when the test ends, copying its output into the
// test's log if the test failed.
//
// Nothing in it stops the test (no Fatal): Start and the waits return
// errors, so that a test may start and stop processes from goroutines of
// its own, as the chaos soak's fault injector does.
package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Options change how Start runs a command; the zero value will do.
type Options struct {
	// Name names the process in messages and its output file; default
	// the base name of the command.
	Name string
	// Env is added to the test's own environment (KEY=value each).
	Env []string
	// Dir is the working directory; default the test's.
	Dir string
	// OutputDir is the directory of the output file, which is named
	// <Name>.<start time in ns>.log; default a temporary directory of the
	// test (removed when the test ends).
	OutputDir string
	// Quiet leaves the output out of the test's log when the test fails,
	// for processes whose output the test keeps itself.
	Quiet bool
}

// Proc is a process started by Start, running or ended.
type Proc struct {
	name    string
	cmd     *exec.Cmd
	path    string
	started time.Time
	done    chan struct{}
	err     error // how it ended; written before done is closed
}

// Start runs name with args in the background, in a process group of its
// own, stdout and stderr to one file. When the test ends, a process still
// running is killed with its group (SIGKILL), and, unless opts.Quiet, its
// output goes to the test's log if the test failed. It returns an error
// if the command cannot start.
func Start(tb testing.TB, opts Options, name string, args ...string) (*Proc, error) {
	tb.Helper()
	if opts.Name == "" {
		opts.Name = filepath.Base(name)
	}
	if opts.OutputDir == "" {
		opts.OutputDir = tb.TempDir()
	}
	started := time.Now()
	path := filepath.Join(opts.OutputDir, fmt.Sprintf("%s.%d.log", opts.Name, started.UnixNano()))
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("start %s: output file: %w", opts.Name, err)
	}
	// The child has its own copy of the descriptor.
	defer f.Close()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = opts.Dir
	if len(opts.Env) > 0 {
		cmd.Env = append(os.Environ(), opts.Env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", opts.Name, strings.Join(cmd.Args, " "), err)
	}
	p := &Proc{name: opts.Name, cmd: cmd, path: path, started: started, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		if !p.Exited() {
			p.Kill()
		}
		if tb.Failed() && !opts.Quiet {
			tb.Logf("output of %s (%s, started %s):\n%s", p.name, strings.Join(cmd.Args, " "),
				started.Format("15:04:05.000"), p.Output())
		}
	})
	return p, nil
}

// Name is the process's name in messages.
func (p *Proc) Name() string { return p.name }

// Pid is the process's ID, which is also its process group's.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Started is when the process was started.
func (p *Proc) Started() time.Time { return p.started }

// OutputPath is the file holding the process's output.
func (p *Proc) OutputPath() string { return p.path }

// Output is what the process has printed so far, stdout and stderr as they
// came.
func (p *Proc) Output() string {
	data, err := os.ReadFile(p.path)
	if err != nil {
		return fmt.Sprintf("(output of %s unreadable: %v)", p.name, err)
	}
	return string(data)
}

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the process ended: nil for exit status 0, else an
// *exec.ExitError; nil while it runs.
func (p *Proc) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// status says how an ended process ended.
func (p *Proc) status() string {
	if p.err == nil {
		return "exit status 0"
	}
	return p.err.Error()
}

// Wait waits for the process to end and returns Err.
func (p *Proc) Wait() error {
	<-p.done
	return p.err
}

// Signal sends sig to the process alone (not its children): what a
// service manager's stop does to a service.
func (p *Proc) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("signal %s: %s has exited", sig, p.name)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s to %s: %w", sig, p.name, err)
	}
	return nil
}

// SignalGroup sends sig to the process's whole group: the process and the
// children it did not move to groups of their own. An ended process's
// group is not signalled, since its ID may belong to another by now.
func (p *Proc) SignalGroup(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("signal %s: %s has exited", sig, p.name)
	}
	if err := syscall.Kill(-p.Pid(), sig); err != nil {
		return fmt.Errorf("signal %s to the group of %s: %w", sig, p.name, err)
	}
	return nil
}

// Kill kills the process's group with SIGKILL, as `kill -9` of a
// machine's service would, and waits for the process to end.
func (p *Proc) Kill() {
	_ = p.SignalGroup(syscall.SIGKILL)
	<-p.done
}

// Stop sends sig to the process's group and waits up to limit for the
// process to end; past limit it kills the group and says so. It returns
// nil if the process ended within limit, whatever its exit status (Err).
func (p *Proc) Stop(sig syscall.Signal, limit time.Duration) error {
	_ = p.SignalGroup(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(limit):
		p.Kill()
		return fmt.Errorf("%s still ran %s after %s: killed", p.name, limit, sig)
	}
}

// WaitExit waits up to limit for the process to end and returns nil if it
// did, whatever its exit status (Err). A process still running then gets
// SIGQUIT, on which a Go program prints its goroutines and exits, and the
// error carries the output.
func (p *Proc) WaitExit(limit time.Duration) error {
	select {
	case <-p.done:
		return nil
	case <-time.After(limit):
	}
	_ = p.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
	return fmt.Errorf("%s still ran %s later (sent SIGQUIT); its output:\n%s", p.name, limit, p.Output())
}

// WaitOutput waits up to timeout until the process's output contains s;
// it fails at once if the process ends first. The error carries the
// output.
func (p *Proc) WaitOutput(s string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		// Exited before Output: a process that printed s and then ended
		// is found here.
		exited := p.Exited()
		out := p.Output()
		switch {
		case strings.Contains(out, s):
			return nil
		case exited:
			return fmt.Errorf("%s exited (%s) without printing %q; its output:\n%s", p.name, p.status(), s, out)
		case time.Now().After(deadline):
			return fmt.Errorf("%s did not print %q within %s; its output:\n%s", p.name, s, timeout, out)
		}
		select {
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Alive reports whether process pid exists and is not a zombie: for the
// processes a test's process starts, which it does not wait for.
func Alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and
	// may hold spaces.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}
