package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/google/go-cmp/cmp"
)

// TestFirstError runs each log format's scanner on lines laid out as the
// real tools write them (pylorax's logging formats, dnf's, anaconda's and
// the classic pungi's).
func TestFirstError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		format logFormat
		log    string
		line   int
		want   []string
	}{
		{"lorax.log error record", formatPython, `2024-05-01 10:00:00,100 INFO pylorax: Using 4 CPUs
2024-05-01 10:00:01,200 DEBUG pylorax: dnf: setting up
2024-05-01 10:00:02,300 ERROR pylorax: Problem 1: conflicting requests
  - nothing provides python3-foo needed by anaconda-core-41.1
2024-05-01 10:00:02,400 INFO pylorax: cleaning up
`, 3, []string{"2024-05-01 10:00:02,300 ERROR pylorax: Problem 1: conflicting requests", "  - nothing provides python3-foo needed by anaconda-core-41.1"}},
		{"lorax.log exception with traceback", formatPython, `2024-05-01 10:00:00,100 INFO pylorax: starting
2024-05-01 10:00:03,000 CRITICAL pylorax: template command error in runtime-install.tmpl:
Traceback (most recent call last):
  File "/usr/lib/python3.13/site-packages/pylorax/ltmpl.py", line 236, in run
    f(*args)
RuntimeError: installpkg failed
2024-05-01 10:00:03,100 INFO pylorax: done
`, 2, []string{"2024-05-01 10:00:03,000 CRITICAL pylorax: template command error in runtime-install.tmpl:",
			"Traceback (most recent call last):",
			`  File "/usr/lib/python3.13/site-packages/pylorax/ltmpl.py", line 236, in run`,
			"    f(*args)", "RuntimeError: installpkg failed"}},
		{"program.log traceback of a program", formatPython, `2024-05-01 10:00:00,000 INFO: Running... mksquashfs
2024-05-01 10:00:01,000 INFO: Traceback (most recent call last):
2024-05-01 10:00:01,001 INFO:   File "/usr/bin/tool", line 3, in <module>
2024-05-01 10:00:01,002 INFO:     main()
2024-05-01 10:00:01,003 INFO: OSError: [Errno 28] No space left on device
2024-05-01 10:00:01,004 INFO: after
`, 2, []string{"2024-05-01 10:00:01,000 INFO: Traceback (most recent call last):",
			`2024-05-01 10:00:01,001 INFO:   File "/usr/bin/tool", line 3, in <module>`,
			"2024-05-01 10:00:01,002 INFO:     main()",
			"2024-05-01 10:00:01,003 INFO: OSError: [Errno 28] No space left on device"}},
		{"dnf.log", formatDNF, `2024-05-01T10:00:00+0000 DDEBUG Command: dnf install
2024-05-01T10:00:01+0000 INFO Last metadata expiration check
2024-05-01T10:00:02+0000 ERROR Error: Unable to find a match: nosuchpkg
2024-05-01T10:00:02+0000 DDEBUG Cleaning up.
`, 3, []string{"2024-05-01T10:00:02+0000 ERROR Error: Unable to find a match: nosuchpkg"}},
		{"anaconda packaging.log", formatAnaconda, `10:00:00,100 INF packaging: setting up repos
10:00:01,200 DBG packaging: repo fedora: enabled
10:00:02,300 ERR packaging: Failed to set up the payload: no package matched: nosuchpkg
10:00:02,400 INF packaging: done
`, 3, []string{"10:00:02,300 ERR packaging: Failed to set up the payload: no package matched: nosuchpkg"}},
		{"anaconda traceback file", formatAnaconda, `anaconda 41.35-1 exception report
Traceback (most recent call last):
  File "/usr/lib64/python3.13/site-packages/pyanaconda/payload/dnf.py", line 12, in install
    raise PayloadInstallError(msg)
pyanaconda.modules.common.errors.installation.PayloadInstallError: failed to install

Local variables in innermost frame:
`, 2, []string{"Traceback (most recent call last):",
			`  File "/usr/lib64/python3.13/site-packages/pyanaconda/payload/dnf.py", line 12, in install`,
			"    raise PayloadInstallError(msg)",
			"pyanaconda.modules.common.errors.installation.PayloadInstallError: failed to install"}},
		{"dnf5.log", formatDNF, `2024-05-01T10:00:00+0000 [4242] INFO --- DNF5 launched with arguments: "download" ---
2024-05-01T10:00:02+0000 [4242] ERROR No package "nosuchpkg" available.
`, 2, []string{`2024-05-01T10:00:02+0000 [4242] ERROR No package "nosuchpkg" available.`}},
		{"no error", formatPython, "2024-05-01 10:00:00,100 INFO pylorax: all good\n2024-05-01 10:00:00,200 WARNING pylorax: a warning is no error\n", 0, nil},
		{"error level of another format is not one", formatPython, "10:00:02,300 ERR packaging: not this format\n", 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			line, lines := firstError(strings.NewReader(tc.log), tc.format)
			if line != tc.line {
				t.Errorf("line %d, want %d", line, tc.line)
			}
			if d := cmp.Diff(tc.want, lines); d != "" {
				t.Errorf("lines (-want +got):\n%s", d)
			}
		})
	}
}

// writeLogs lays files out under dir: name -> content.
func writeLogs(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCollectLogs moves each tool's logs, from where the tool writes them
// given fbs's command line, into the logs folder, most telling first, and
// finds the error in the first log that has one.
func TestCollectLogs(t *testing.T) {
	t.Parallel()
	const (
		pyErr   = "2024-05-01 10:00:02,300 ERROR pylorax: boom\n"
		pyInfo  = "2024-05-01 10:00:02,300 INFO pylorax: fine\n"
		anaErr  = "10:00:02,300 ERR packaging: no package matched: nosuchpkg\n"
		dnfInfo = "2024-05-01T10:00:00+0000 INFO fine\n"
		dnfErr  = "2024-05-01T10:00:01+0000 ERROR Error: Unable to find a match: nosuchpkg\n"
	)
	tests := []struct {
		name    string
		builder Builder
		work    map[string]string
		want    []string
		err     *tasks.LogExcerpt
	}{
		{"lorax", &lorax{}, map[string]string{
			"lorax.log": pyErr, "program.log": pyInfo, "dnf.log": dnfInfo, "dnf.librepo.log": dnfInfo,
			"lorax-result/images/x.log": "not a tool log\n", "tmp.txt": "no\n",
		}, []string{"lorax.log", "program.log", "dnf.librepo.log", "dnf.log"},
			&tasks.LogExcerpt{Log: "lorax.log", Line: 1, Lines: []string{strings.TrimSpace(pyErr)}}},
		{"livemedia-creator", &liveMedia{}, map[string]string{
			"livemedia.log": pyErr, "program.log": pyInfo,
			"anaconda/packaging.log": "10:00:00,000 INF packaging: start\n" + anaErr, "anaconda/program.log": "10:00:00,000 INF program: x\n",
			"anaconda/dnf.librepo.log": dnfInfo, "anaconda/storage.log": "", "anaconda/ks-script-abc.log": "",
		}, []string{"anaconda/packaging.log", "anaconda/program.log", "anaconda/storage.log", "anaconda/dnf.librepo.log",
			"anaconda/ks-script-abc.log", "livemedia.log", "program.log"},
			&tasks.LogExcerpt{Log: "anaconda/packaging.log", Line: 2, Lines: []string{strings.TrimSpace(anaErr)}}},
		{"livecd-creator", &liveCD{}, map[string]string{"livecd-creator.log": pyInfo},
			[]string{"livecd-creator.log"}, nil},
		{"dvd", &dvd{}, map[string]string{"lorax.log": pyInfo, "dnf-root/var/log/dnf.log": dnfInfo + dnfErr, "dnf-root/var/log/hawkey.log": dnfInfo},
			[]string{"lorax.log", "dnf/dnf.log", "dnf/hawkey.log"},
			&tasks.LogExcerpt{Log: "dnf/dnf.log", Line: 2, Lines: []string{strings.TrimSpace(dnfErr)}}},
		{"ksiso writes none", &ksiso{}, map[string]string{"x.log": pyErr}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			work, dst := t.TempDir(), filepath.Join(t.TempDir(), "logs")
			writeLogs(t, work, tc.work)
			logs, err := CollectLogs(tc.builder, work, dst)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, l := range logs {
				names = append(names, l.Name)
				want, ok := tc.work[l.Name]
				if !ok {
					want = tc.work["dnf-root/var/log/"+strings.TrimPrefix(l.Name, "dnf/")]
				}
				if got, err := os.ReadFile(filepath.Join(dst, filepath.FromSlash(l.Name))); err != nil || string(got) != want {
					t.Errorf("%s in logs/: %q, %v; want %q", l.Name, got, err, want)
				}
			}
			if d := cmp.Diff(tc.want, names); d != "" {
				t.Errorf("collected logs (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.err, FindError(logs)); d != "" {
				t.Errorf("FindError (-want +got):\n%s", d)
			}
		})
	}
}
