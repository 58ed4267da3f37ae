// Package isomd5test runs isomd5sum's real implantisomd5 and checkisomd5 for
// tests: the reference an implanted ISO is compared with byte for byte, and
// the media check Anaconda runs.
//
// It needs Debian's or Fedora's isomd5sum package. When it is missing the
// test is skipped, unless the CI environment variable is set: then it fails.
package isomd5test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// RequireTools skips (or, under CI, fails) t when implantisomd5 or
// checkisomd5 is missing.
func RequireTools(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"implantisomd5", "checkisomd5"} {
		if _, err := exec.LookPath(tool); err != nil {
			msg := tool + " is missing: apt-get install isomd5sum (dnf install isomd5sum)"
			if os.Getenv("CI") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}

// Implant runs implantisomd5 with flags (such as "--force") on iso in
// place, failing t if it fails.
func Implant(t testing.TB, iso string, flags ...string) {
	t.Helper()
	RequireTools(t)
	out, err := exec.Command("implantisomd5", append(flags, iso)...).CombinedOutput()
	if err != nil {
		t.Fatalf("implantisomd5 %s: %v\n%s", strings.Join(append(flags, iso), " "), err, out)
	}
}

// Check runs checkisomd5 on iso and reports whether the media check passed,
// with its output. It fails t when checkisomd5 cannot run or ends in an
// unexpected way (exit status other than 0 for pass, 1 for fail, 2 for no
// checksum), and reports a missing checksum as a fail.
func Check(t testing.TB, iso string) (bool, string) {
	t.Helper()
	RequireTools(t)
	cmd := exec.Command("checkisomd5", "--verbose", iso)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true, out.String()
	case errors.As(err, &ee) && (ee.ExitCode() == 1 || ee.ExitCode() == 2):
		return false, out.String()
	}
	t.Fatalf("checkisomd5 %s: %v\n%s", iso, err, out.String())
	return false, ""
}
