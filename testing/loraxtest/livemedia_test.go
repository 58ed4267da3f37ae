package loraxtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLiveMediaCreatorChecksOptions: the stand-in takes livemedia-creator's
// documented options and refuses what the real one's parser refuses.
func TestLiveMediaCreatorChecksOptions(t *testing.T) {
	t.Parallel()
	lmc := LiveMediaCreator(t, Succeed)
	dir := t.TempDir()
	ks := filepath.Join(dir, "f.ks")
	if err := os.WriteFile(ks, []byte("lang en_US.UTF-8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"--make-iso", "--no-virt", "--iso-only", "--iso-name", "x.iso", "--ks", ks, "--project", "Fedora",
		"--releasever", "41", "--volid", "X", "--resultdir", filepath.Join(dir, "r"), "--tmp", dir, "--logfile", filepath.Join(dir, "livemedia.log")}
	if out, err := exec.Command(lmc, base...).CombinedOutput(); err != nil {
		t.Fatalf("documented options refused: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append(base, "--bogus"), "unrecognized arguments: --bogus"},
		{append(base, "--make-disk"), "not allowed with argument --make-iso"},
		{append(base, "--volid"), "argument --volid: expected one argument"},
		{[]string{"--make-iso", "--no-virt", "--logfile", filepath.Join(dir, "l.log")}, "--ks is required"},
	} {
		out, err := exec.Command(lmc, tc.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%q: %v, output %q, want an error %q", tc.args[len(tc.args)-1], err, out, tc.want)
		}
	}
}
