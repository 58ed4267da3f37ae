package boottest

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitrd builds the stand-in installer's initrd and lists it with the
// real cpio: busybox, /init and the CD modules with their dependencies,
// which /init loads dependencies first.
func TestInitrd(t *testing.T) {
	t.Parallel()
	require(t)
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("TestInitrd needs cpio: apt-get install -y cpio")
	}
	_, modDir, _ := kernel()
	out := filepath.Join(t.TempDir(), "initrd.img")
	if err := makeInitrd(out, first(busyboxBins), modDir, cdModules); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	archive, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("cpio", "-id", "--quiet", "--no-absolute-filenames")
	cmd.Dir, cmd.Stdin = dir, bytes.NewReader(archive)
	if out, err := cmd.CombinedOutput(); err != nil {
		// cpio cannot make /dev/console outside a root namespace only;
		// everything else must unpack.
		if !strings.Contains(string(out), "dev/console") {
			t.Fatalf("cpio -id: %v\n%s", err, out)
		}
	}
	bb, err := os.ReadFile(first(busyboxBins))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "bin", "busybox")); err != nil || !bytes.Equal(got, bb) {
		t.Errorf("bin/busybox differs from %s (%v)", first(busyboxBins), err)
	}
	script, err := os.ReadFile(filepath.Join(dir, "init"))
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, line := range strings.Split(string(script), "\n") {
		if rest, ok := strings.CutPrefix(line, "for m in "); ok {
			order = strings.Fields(strings.TrimSuffix(rest, "; do insmod /lib/modules/$m.ko || fail \"insmod $m\"; done"))
		}
	}
	for _, m := range order {
		if _, err := os.Stat(filepath.Join(dir, "lib", "modules", m+".ko")); err != nil {
			t.Errorf("/init loads %s, which is not in the initrd: %v", m, err)
		}
	}
	pos := map[string]int{}
	for i, m := range order {
		pos[m] = i
	}
	for _, before := range [][2]string{{"scsi_common", "scsi_mod"}, {"scsi_mod", "libata"}, {"libata", "ata_piix"}, {"cdrom", "sr_mod"}, {"scsi_mod", "sr_mod"}, {"cdrom", "isofs"}} {
		a, okA := pos[before[0]]
		b, okB := pos[before[1]]
		if !okA || !okB || a > b {
			t.Errorf("module order %v: want %s loaded before %s", order, before[0], before[1])
		}
	}
	if len(order) != len(pos) {
		t.Errorf("modules loaded twice: %v", order)
	}
}
