// Package disktest gives tests a real, small filesystem to fill: a tmpfs
// mounted on a temporary directory (which needs root; tests are skipped
// without it), and a way to fill it up and free it again.
package disktest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// Mount mounts a tmpfs of size bytes on a new temporary directory until
// the test ends and returns the directory. It skips the test when not run
// as root or when the mount fails.
func Mount(tb testing.TB, size int64) string {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("mounting a tmpfs needs root")
	}
	dir := tb.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "disktest", dir).CombinedOutput(); err != nil {
		tb.Skipf("mount a tmpfs on %s: %v: %s", dir, err, out)
	}
	// Lazily, so that a file a stray process still holds open does not
	// keep it mounted; registered after TempDir's cleanup, so it runs
	// first.
	tb.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// Fill writes zeros to path until its filesystem is full, leaving keep
// bytes or a little less free, and returns how many bytes it wrote.
// Removing path frees them again.
func Fill(tb testing.TB, path string, keep int64) int64 {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var n int64
	for chunk := int64(1 << 20); chunk > 0; chunk /= 2 {
		buf := make([]byte, chunk)
		for {
			var st syscall.Statfs_t
			if err := syscall.Statfs(path, &st); err != nil {
				tb.Fatal(err)
			}
			if int64(st.Bavail)*int64(st.Bsize)-chunk < keep {
				break
			}
			m, err := f.Write(buf)
			n += int64(m)
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			if err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		tb.Fatal(err)
	}
	return n
}
