package builder

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// maxLine is the longest piece of output written as one line; longer
	// lines are split, never dropped.
	maxLine = 64 << 10
	// maxTailLine bounds each line an ExitError keeps.
	maxTailLine = 4 << 10
	// defaultGrace is how long a cancelled tool's process group has between
	// SIGTERM and SIGKILL.
	defaultGrace = 5 * time.Second
)

// runner runs tools as subprocesses, each in its own process group, streaming
// their output into the build log. All builders share it.
type runner struct {
	tools Tools
	// grace is the time between SIGTERM and SIGKILL on cancel.
	grace time.Duration
}

func newRunner(tools Tools) *runner {
	return &runner{tools: tools, grace: defaultGrace}
}

// command is one tool invocation.
type command struct {
	// tool is the name looked up in Tools, e.g. "xorriso".
	tool string
	args []string
	// env is added to the worker's environment.
	env []string
	// stdout, when set, receives the tool's standard output line by line
	// instead of Job.Output; standard error still goes to Job.Output.
	stdout func(line string)
	// quiet leaves the command line out of the build log (for probes).
	quiet bool
	// fd3, when set, receives everything the tool writes to its file
	// descriptor 3, a pipe: xorriso writes the image there
	// (-outdev stdio:/dev/fd/3), so the builder sees its bytes as they are
	// made instead of reading the file again afterwards.
	fd3 io.Writer
}

// fd3Path is how a tool names the pipe of command.fd3.
const fd3Path = "/dev/fd/3"

// pipeSize is the capacity asked for the fd3 pipe: fewer, larger reads.
const pipeSize = 1 << 20

// runTool runs c for job in job.WorkDir and waits for it and every process it
// left in its group. On ctx's end the whole group gets SIGTERM, then SIGKILL
// after the grace period, and runTool returns an error wrapping ctx.Err().
func (r *runner) runTool(ctx context.Context, job *Job, c command) error {
	path, err := r.tools.path(c.tool)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("run %s: %w", c.tool, err)
	}
	if !c.quiet {
		job.logf("running: %s", shellJoin(append([]string{path}, c.args...)))
	}
	cmd := exec.Command(path, c.args...)
	cmd.Dir = job.WorkDir
	cmd.Env = append(os.Environ(), c.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	sink := &lineSink{w: job.output()}
	var readers sync.WaitGroup
	var readEnds []*os.File
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("run %s: %w", c.tool, err)
	}
	readEnds = append(readEnds, outR)
	cmd.Stdout, cmd.Stderr = outW, outW
	writeEnds := []*os.File{outW}
	if c.stdout != nil {
		errR, errW, err := os.Pipe()
		if err != nil {
			outR.Close()
			outW.Close()
			return fmt.Errorf("run %s: %w", c.tool, err)
		}
		readEnds = append(readEnds, errR)
		writeEnds = append(writeEnds, errW)
		cmd.Stderr = errW
		readers.Add(2)
		go func() { defer readers.Done(); readLines(outR, c.stdout) }()
		go func() { defer readers.Done(); readLines(errR, sink.line) }()
	} else {
		readers.Add(1)
		go func() { defer readers.Done(); readLines(outR, sink.line) }()
	}
	var copyErr error
	if c.fd3 != nil {
		r3, w3, err := os.Pipe()
		if err != nil {
			for _, f := range append(readEnds, writeEnds...) {
				f.Close()
			}
			readers.Wait()
			return fmt.Errorf("run %s: %w", c.tool, err)
		}
		_, _ = unix.FcntlInt(w3.Fd(), unix.F_SETPIPE_SZ, pipeSize)
		cmd.ExtraFiles = []*os.File{w3}
		readEnds = append(readEnds, r3)
		writeEnds = append(writeEnds, w3)
		readers.Add(1)
		go func() {
			defer readers.Done()
			if _, err := io.CopyBuffer(c.fd3, struct{ io.Reader }{r3}, make([]byte, pipeSize)); err != nil {
				copyErr = err
				// The tool then fails on a broken pipe instead of
				// blocking on a full one.
				r3.Close()
			}
		}()
	}
	startErr := cmd.Start()
	for _, f := range writeEnds {
		f.Close()
	}
	if startErr != nil {
		for _, f := range readEnds {
			f.Close()
		}
		readers.Wait()
		return fmt.Errorf("start %s: %w", c.tool, startErr)
	}
	pgid := cmd.Process.Pid
	readersDone := make(chan struct{})
	go func() { readers.Wait(); close(readersDone) }()

	// The watcher signals the group while the leader is not yet reaped, so
	// the group ID cannot have been reused.
	stop := make(chan struct{})
	watcherDone := make(chan struct{})
	go func() {
		defer close(watcherDone)
		select {
		case <-ctx.Done():
		case <-stop:
			return
		}
		_ = unix.Kill(-pgid, unix.SIGTERM)
		t := time.NewTimer(r.grace)
		defer t.Stop()
		select {
		case <-t.C:
			_ = unix.Kill(-pgid, unix.SIGKILL)
		case <-readersDone:
		case <-stop:
		}
	}()

	waitExited(pgid)
	if ctx.Err() == nil {
		// A finished tool leaves nothing running behind it.
		_ = unix.Kill(-pgid, unix.SIGKILL)
	}
	// Normally the pipes close as soon as the group is gone; a process
	// that left the group could hold them open forever.
	select {
	case <-readersDone:
	case <-time.After(2*r.grace + time.Second):
		for _, f := range readEnds {
			f.Close()
		}
		<-readersDone
	}
	close(stop)
	<-watcherDone
	waitErr := cmd.Wait()
	for _, f := range readEnds {
		f.Close()
	}

	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s stopped: %w", c.tool, err)
	}
	if copyErr != nil {
		return fmt.Errorf("%s: store its output: %w", c.tool, copyErr)
	}
	if waitErr != nil {
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			return &ExitError{Tool: c.tool, Code: ee.ExitCode(), Tail: sink.tail()}
		}
		return fmt.Errorf("wait for %s: %w", c.tool, waitErr)
	}
	return nil
}

// waitExited blocks until process pid has exited, without reaping it.
func waitExited(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return
		}
	}
}

// readLines calls fn with each line read from r, "\n" included; a line
// longer than maxLine comes in pieces, each ending in "\n".
func readLines(r io.Reader, fn func(string)) {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		b, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			fn(string(b))
		case errors.Is(err, bufio.ErrBufferFull):
			fn(string(b) + "\n")
		default:
			if len(b) > 0 {
				fn(string(b) + "\n")
			}
			return
		}
	}
}

// lineSink writes lines to the build log and keeps the last ones for an
// ExitError.
type lineSink struct {
	w io.Writer
	// writeErr is the first error writing to w; later lines are dropped
	// from w but still kept in the tail.
	writeErr error

	mu   sync.Mutex
	last []string
	next int
}

func (s *lineSink) line(l string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writeErr == nil {
		_, s.writeErr = io.WriteString(s.w, l)
	}
	t := strings.TrimRight(l, "\n")
	if len(t) > maxTailLine {
		t = t[:maxTailLine]
	}
	if len(s.last) < maxTail {
		s.last = append(s.last, t)
		return
	}
	s.last[s.next] = t
	s.next = (s.next + 1) % maxTail
}

func (s *lineSink) tail() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.last))
	out = append(out, s.last[s.next:]...)
	return append(out, s.last[:s.next]...)
}

// shellJoin renders argv as a shell command line for the build log.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	if strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
