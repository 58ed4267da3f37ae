package hosttest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// CacheDir holds the root file systems made by debootstrap, one directory
// per package list, shared by every test run on the machine.
const CacheDir = "/var/cache/fbs-hosttest"

// Suite is the Debian release the hosts run.
const Suite = "bookworm"

// Packages are installed in every host's root file system: a booting
// systemd with an OpenSSH server, and what fbs's roles need on a Debian
// host (Redis for the redis role; xorriso, mtools, isomd5sum and dosfstools
// for a worker's kickstart ISO builds, createrepo-c for its side
// repositories; curl for health checks). The hosts have no route to a
// package mirror, so a deploy must find these installed and install
// nothing: deploy.Packages for a Debian host must stay a subset.
var Packages = []string{
	"systemd", "systemd-sysv", "openssh-server", "dbus",
	"redis-server", "curl", "ca-certificates",
	"xorriso", "mtools", "isomd5sum", "dosfstools", "createrepo-c",
	"iproute2", "procps",
}

// mirror is where debootstrap fetches the packages from.
const mirror = "http://deb.debian.org/debian"

// Rootfs returns the cached root file system with Packages, building it
// with debootstrap first when the cache has none (7–9 minutes measured on a
// loaded two-core machine, mostly downloading; deploy/test.sh builds it at
// set-up so the tests find it cached; later calls return at once). Concurrent callers,
// in this process or others, wait for one build. It skips the test when
// debootstrap is not installed or the caller is not root.
func Rootfs(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("hosttest: booting hosts needs root")
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Skip("hosttest: debootstrap not installed (deploy/setup.sh installs it)")
	}
	dir, err := buildRootfs(Packages)
	if err != nil {
		t.Fatalf("hosttest: %v", err)
	}
	return dir
}

// rootfsKey names the cache entry of a package list.
func rootfsKey(pkgs []string) string {
	sum := sha256.Sum256([]byte(Suite + " minbase " + strings.Join(pkgs, ",")))
	return Suite + "-" + hex.EncodeToString(sum[:6])
}

// BuildRootfs makes the cached root file system with Packages unless the
// cache has it, and returns its directory. deploy/test.sh calls it (through
// testing/hosttest/mkrootfs) before the tests run, so that the download
// from the Debian mirror happens at set-up and the tests themselves reach
// only the hosts they boot.
func BuildRootfs() (string, error) { return buildRootfs(Packages) }

// buildRootfs makes the root file system for pkgs unless the cache has it,
// under a lock file so that one process builds it while the others wait.
func buildRootfs(pkgs []string) (string, error) {
	key := rootfsKey(pkgs)
	dir := filepath.Join(CacheDir, key)
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(CacheDir, 0o755); err != nil {
		return "", fmt.Errorf("make the root file system cache: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(CacheDir, key+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("lock the root file system cache: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock the root file system cache: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil // another process built it while we waited
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", fmt.Errorf("remove an unfinished root file system: %w", err)
	}
	start := time.Now()
	cmd := exec.Command("debootstrap", "--variant=minbase", "--include="+strings.Join(pkgs, ","), Suite, tmp, mirror)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("debootstrap %s into %s: %w\n%s", Suite, tmp, err, tail(out, 4000))
	}
	if err := prepareRootfs(tmp); err != nil {
		return "", err
	}
	stamp := fmt.Sprintf("debootstrap --variant=minbase --include=%s %s: %s\n", strings.Join(pkgs, ","), Suite, time.Since(start).Round(time.Second))
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), []byte(stamp), 0o644); err != nil {
		return "", fmt.Errorf("mark the root file system complete: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("replace %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("put the root file system in place: %w", err)
	}
	return dir, nil
}

// prepareRootfs makes the fresh tree a neutral host: no shared SSH host
// keys (each host gets its own), no Redis running unless a deploy enables
// it, and no services that wait for hardware a container lacks.
func prepareRootfs(root string) error {
	keys, err := filepath.Glob(filepath.Join(root, "etc/ssh/ssh_host_*"))
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := os.Remove(k); err != nil {
			return fmt.Errorf("remove the shared host key %s: %w", k, err)
		}
	}
	for _, unit := range []string{"redis-server.service", "getty@tty1.service", "e2scrub_reap.service"} {
		link := filepath.Join(root, "etc/systemd/system/multi-user.target.wants", unit)
		if unit == "getty@tty1.service" {
			link = filepath.Join(root, "etc/systemd/system/getty.target.wants", unit)
		}
		if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("disable %s: %w", unit, err)
		}
	}
	// An empty machine-id lets systemd make a transient one per boot, so
	// that hosts booted from one tree differ.
	if err := os.WriteFile(filepath.Join(root, "etc/machine-id"), nil, 0o444); err != nil {
		return fmt.Errorf("clear machine-id: %w", err)
	}
	return nil
}

// tail is the end of out, at most n bytes.
func tail(out []byte, n int) string {
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return string(out)
}
