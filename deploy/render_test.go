package deploy

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// copyFile copies src to dst (mode 0755), making dst's directory.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// verifyRoot is a directory systemd-analyze verify --root can check units
// in: the system's unit directory (for the targets the units name) and
// executables where the units' ExecStart looks. It skips the test when
// systemd-analyze is not installed.
func verifyRoot(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed (apt-get install systemd)")
	}
	root := t.TempDir()
	units := "/usr/lib/systemd/system"
	if _, err := os.Stat(units); err != nil {
		t.Skipf("no %s to find targets in: %v", units, err)
	}
	if err := os.MkdirAll(filepath.Join(root, "usr/lib/systemd"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-r", units, filepath.Join(root, "usr/lib/systemd")+"/").CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v\n%s", units, err, out)
	}
	// Any executable will do: verify checks that ExecStart's exists.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, self, filepath.Join(root, BinaryPath))
	copyFile(t, self, filepath.Join(root, "usr/bin/redis-server"))
	return root
}

// verify runs systemd-analyze verify on unit (a path under root) and
// returns what it reports: nothing for a good unit (it warns about
// unknown keys and bad values on stderr but exits 0).
func verify(t *testing.T, root, unit string) string {
	t.Helper()
	cmd := exec.Command("systemd-analyze", "verify", "--root="+root, unit)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	s := strings.TrimSpace(out.String())
	if err != nil && s == "" {
		s = err.Error()
	}
	return s
}

// TestUnitsVerify checks every unit fbs deploy renders with systemd's own
// checker, and that the checker catches a broken unit.
func TestUnitsVerify(t *testing.T) {
	t.Parallel()
	root := verifyRoot(t)
	f, err := Load(filepath.Join(exampleDir(t), "deploy.conf"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, h := range f.Hosts {
		files, err := f.Render(h)
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			if !strings.HasSuffix(file.Path, ".service") || seen[file.Path] {
				continue
			}
			seen[file.Path] = true
			p := filepath.Join(root, file.Path)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, file.Content, 0o644); err != nil {
				t.Fatal(err)
			}
			if out := verify(t, root, file.Path); out != "" {
				t.Errorf("systemd-analyze verify %s:\n%s", file.Path, out)
			}
		}
	}
	if diff := cmp.Diff(4, len(seen)); diff != "" {
		t.Errorf("units checked (-want +got):\n%s", diff)
	}
	// The same check on a unit with a typo must complain.
	bad := filepath.Join(root, UnitDir, "fbs-bad.service")
	if err := os.WriteFile(bad, []byte(strings.Replace(workerUnit(0), "ProtectSystem=full", "ProtectSytem=full", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := verify(t, root, filepath.Join(UnitDir, "fbs-bad.service")); !strings.Contains(out, "ProtectSytem") {
		t.Errorf("systemd-analyze verify of a unit with a typo said %q", out)
	}
}

// TestWorkerStopTimeout checks that systemd waits longer than the drain.
func TestWorkerStopTimeout(t *testing.T) {
	t.Parallel()
	f, _ := loadText(t, "[host w]\naddress = 198.18.0.5\nroles = worker, redis\n[conf]\nworker.drain_timeout = 45m\n", nil)
	if f == nil {
		t.Fatal("load failed")
	}
	files, err := f.Render(f.Hosts[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		if file.Path == UnitDir+"/fbs-worker.service" {
			if !bytes.Contains(file.Content, []byte("\nTimeoutStopSec=2760s\n")) || !bytes.Contains(file.Content, []byte("\nKillMode=mixed\n")) {
				t.Errorf("worker unit lacks TimeoutStopSec=2760s (45m + 1m) or KillMode=mixed:\n%s", file.Content)
			}
			return
		}
	}
	t.Fatal("no worker unit rendered")
}

// TestSecretsStaySecret renders every host of both forms and checks that
// no secret's content is in any file but its own, nor in a warning, a
// Secret's description or a Change's diff.
func TestSecretsStaySecret(t *testing.T) {
	t.Parallel()
	ex, err := Load(filepath.Join(exampleDir(t), "deploy.conf"))
	if err != nil {
		t.Fatal(err)
	}
	files := []*File{ex}
	if _, err := os.Stat(originalDeployConf); err == nil {
		files = append(files, loadOriginal(t))
	}
	for _, f := range files {
		for _, h := range f.Hosts {
			rendered, err := f.Render(h)
			if err != nil {
				t.Fatal(err)
			}
			var secrets [][]byte
			for _, file := range rendered {
				if file.Secret {
					if file.Mode != 0o600 || file.Owner != h.Owner() {
						t.Errorf("%s %s: mode %v owner %s, want 0600 %s", h.Name, file.Path, file.Mode, file.Owner, h.Owner())
					}
					secrets = append(secrets, bytes.TrimSpace(file.Content))
				}
			}
			var public bytes.Buffer
			for _, file := range rendered {
				if !file.Secret {
					public.Write(file.Content)
				}
				public.WriteString(file.String())
			}
			for _, w := range f.Warnings {
				public.WriteString(w.String())
			}
			for _, s := range h.Secrets {
				public.WriteString(s.String())
			}
			for _, c := range Compare(rendered, map[string][]byte{}) {
				public.WriteString(c.Diff)
			}
			changed := map[string][]byte{}
			for _, file := range rendered {
				changed[file.Path] = []byte("old\n")
			}
			for _, c := range Compare(rendered, changed) {
				public.WriteString(c.Diff)
			}
			for _, s := range secrets {
				if bytes.Contains(public.Bytes(), s) {
					t.Errorf("%s: host %s: a secret shows outside its file", f.Path, h.Name)
				}
			}
		}
	}
}

func TestPackages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		roles []Role
		os    OSFamily
		want  []string
	}{
		{[]Role{RoleWeb, RoleMonitor}, Debian, nil},
		{[]Role{RoleWeb, RoleMonitor}, Fedora, nil},
		{[]Role{RoleRedis}, Debian, []string{"redis-server"}},
		{[]Role{RoleRedis}, Fedora, []string{"redis"}},
		{[]Role{RoleWorker}, Fedora, []string{"createrepo_c", "dnf", "isomd5sum", "livecd-tools", "lorax", "lorax-lmc-novirt", "mtools", "xorriso"}},
		// Debian has no lorax: kickstart ISOs are what a Debian worker
		// builds (xorriso, mtools; fbs implants the media MD5 itself),
		// with side repositories of extra packages (createrepo-c).
		{[]Role{RoleWorker, RoleRedis}, Debian, []string{"createrepo-c", "mtools", "redis-server", "xorriso"}},
	}
	for _, tt := range tests {
		h := &Host{Roles: tt.roles}
		if diff := cmp.Diff(tt.want, Packages(h, tt.os)); diff != "" {
			t.Errorf("Packages(%v, %s) mismatch (-want +got):\n%s", tt.roles, tt.os, diff)
		}
	}
}

func TestParseOSRelease(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want OSFamily
		err  string
	}{
		{text: "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n", want: Debian},
		{text: "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\n", want: Debian},
		{text: "NAME=\"Fedora Linux\"\nID=fedora\n", want: Fedora},
		{text: "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n", want: Fedora},
		{text: "ID='almalinux'\nID_LIKE='rhel centos fedora'\n", want: Fedora},
		{text: "ID=arch\n", err: `unsupported OS (ID="arch" ID_LIKE=""): fbs deploys to Debian and Fedora families`},
		{text: "", err: `unsupported OS (ID="" ID_LIKE=""): fbs deploys to Debian and Fedora families`},
	}
	for _, tt := range tests {
		got, err := ParseOSRelease([]byte(tt.text))
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.err {
			t.Errorf("ParseOSRelease(%q) = %q, %q; want %q, %q", tt.text, got, gotErr, tt.want, tt.err)
		}
	}
}
