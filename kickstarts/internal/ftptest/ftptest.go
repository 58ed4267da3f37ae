// Package ftptest runs a real anonymous, read-only FTP server (pyftpdlib,
// Debian package python3-pyftpdlib) on 127.0.0.1 for tests.
//
// It belongs with the other server helpers under testing/; it lives here
// until it is moved there.
package ftptest

import (
	"bufio"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// python is the interpreter the Debian package installs pyftpdlib for.
const python = "/usr/bin/python3"

var startedRE = regexp.MustCompile(`starting FTP server on (127\.0\.0\.1:\d+)`)

// Start serves dir read-only to anonymous users and returns the server's
// "ftp://127.0.0.1:PORT" URL. The server is stopped when the test ends.
// The test is skipped, saying what to install, if pyftpdlib is missing.
func Start(t testing.TB, dir string) string {
	t.Helper()
	if err := exec.Command(python, "-c", "import pyftpdlib").Run(); err != nil {
		t.Skipf("pyftpdlib is not installed (apt-get install python3-pyftpdlib): %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, python, "-m", "pyftpdlib", "-i", "127.0.0.1", "-p", "0", "-d", dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		cancel()
		t.Fatalf("ftptest: %v", err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("ftptest: start pyftpdlib: %v", err)
	}
	exited := make(chan struct{})
	addr := make(chan string, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		var log []string
		for sc.Scan() {
			log = append(log, sc.Text())
			if m := startedRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		_ = cmd.Wait()
		if len(log) > 0 && testing.Verbose() {
			t.Logf("ftptest: pyftpdlib log:\n%s", strings.Join(log, "\n"))
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	select {
	case a := <-addr:
		return "ftp://" + a
	case <-exited:
		t.Fatal("ftptest: pyftpdlib exited before serving")
	case <-time.After(30 * time.Second):
		t.Fatal("ftptest: pyftpdlib did not start within 30 s")
	}
	return ""
}
