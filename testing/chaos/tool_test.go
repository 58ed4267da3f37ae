package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// toolScript is the fake build tool, used as xorriso: the call that writes
// the image (its output goes to the fd 3 pipe) first runs for a random
// time (0.5 s plus up to CHAOS_MAX_SECS) writing a random number of numbered lines
// ("chaos-line TOKEN I/N", TOKEN unique to the run) at a random rate, then
// does the real work; every other call goes straight to the real xorriso.
// Each run appends "start TOKEN TIME DIR" and "end TOKEN TIME STATUS" to
// the runs file, so the soak can tell whether two runs of one build ever
// overlapped.
const toolScript = `#!/bin/sh
case "$*" in
*stdio:/dev/fd/3*) ;;
*) exec %[1]s "$@" ;;
esac
seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
tok="t$seed"
echo "start $tok $(date +%%s.%%N) $PWD" >> %[2]s
trap 'echo "end $tok $(date +%%s.%%N) signal" >> %[2]s; exit 143' TERM INT
awk -v tok="$tok" -v seed="$seed" -v maxsecs="${CHAOS_MAX_SECS:-%[3]g}" -v maxlines=%[4]d 'BEGIN {
	srand(seed)
	n = 5 + int(rand() * (maxlines - 4))
	secs = 0.5 + rand() * maxsecs
	burst = rand() < 0.2
	for (i = 1; i <= n; i++) {
		printf "chaos-line %%s %%d/%%d\n", tok, i, n
		fflush()
		if (!burst) system("sleep " secs / n)
	}
	if (burst) system("sleep " secs)
}'
rc=$?
echo "end $tok $(date +%%s.%%N) $rc" >> %[2]s
[ $rc -eq 0 ] || exit $rc
exec %[1]s "$@"
`

// writeTool writes the fake build tool into dir and returns its path: it
// runs 0.5 s plus up to maxSecs and writes 5 to maxLines lines.
func writeTool(t testing.TB, dir, runs string, maxSecs float64, maxLines int) string {
	t.Helper()
	real, err := exec.LookPath("xorriso")
	if err != nil {
		t.Skip("chaos: xorriso not installed (apt-get install xorriso)")
	}
	path := filepath.Join(dir, "fake-xorriso")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(toolScript, real, runs, maxSecs, maxLines)), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
