package deploy

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompare(t *testing.T) {
	t.Parallel()
	want := []InstallFile{
		{Path: "/etc/fbs/fbs.conf", Content: []byte("[worker]\nconcurrency = 2\ndata_dir = /var/lib/fbs\n")},
		{Path: "/etc/fbs/secrets/smtp-password", Content: []byte("new secret\n"), Secret: true},
		{Path: "/etc/fbs/secrets/staging-ssh-key", Content: []byte("a key\n"), Secret: true},
		{Path: "/etc/systemd/system/fbs-worker.service", Content: []byte("[Service]\n")},
		{Path: "/etc/systemd/system/fbs-web.service", Content: []byte("[Unit]\n")},
	}
	have := map[string][]byte{
		"/etc/fbs/fbs.conf":                       []byte("[worker]\nconcurrency = 1\ndata_dir = /var/lib/fbs\n"),
		"/etc/fbs/secrets/smtp-password":          []byte("old secret\n"),
		"/etc/fbs/secrets/oidc-client-secret":     []byte("gone secret\n"),
		"/etc/systemd/system/fbs-worker.service":  []byte("[Service]\n"),
		"/etc/systemd/system/fbs-monitor.service": []byte("[Unit]\nDescription=m\n"),
	}
	got := Compare(want, have)
	wantChanges := []Change{
		{Path: "/etc/fbs/fbs.conf", Kind: ChangeUpdate, Diff: "--- /etc/fbs/fbs.conf\n+++ /etc/fbs/fbs.conf\n@@ -1,3 +1,3 @@\n [worker]\n-concurrency = 1\n+concurrency = 2\n data_dir = /var/lib/fbs\n"},
		{Path: "/etc/fbs/secrets/oidc-client-secret", Kind: ChangeDelete, Diff: "(secret deleted)\n"},
		{Path: "/etc/fbs/secrets/smtp-password", Kind: ChangeUpdate, Diff: "(secret changed)\n"},
		{Path: "/etc/fbs/secrets/staging-ssh-key", Kind: ChangeCreate, Diff: "(secret created)\n"},
		{Path: "/etc/systemd/system/fbs-monitor.service", Kind: ChangeDelete, Diff: "--- /etc/systemd/system/fbs-monitor.service\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-[Unit]\n-Description=m\n"},
		{Path: "/etc/systemd/system/fbs-web.service", Kind: ChangeCreate, Diff: "--- /dev/null\n+++ /etc/systemd/system/fbs-web.service\n@@ -0,0 +1 @@\n+[Unit]\n"},
		{Path: "/etc/systemd/system/fbs-worker.service", Kind: ChangeUnchanged},
	}
	if diff := cmp.Diff(wantChanges, got); diff != "" {
		t.Errorf("Compare mismatch (-want +got):\n%s", diff)
	}
}

// TestUnifiedDiffMatchesDiff compares unifiedDiff with GNU diff -u on
// random edits of a configuration-like file.
func TestUnifiedDiffMatchesDiff(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("diff"); err != nil {
		t.Skip("diff not installed")
	}
	_, err := exec.LookPath("patch")
	hasPatch := err == nil
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"[worker]", "concurrency = 1", "concurrency = 2", "", "[web]", "listen = :5000", "# comment", "arch = x86_64"}
	randomFile := func(n int) []string {
		l := make([]string, n)
		for i := range l {
			l[i] = words[rng.IntN(len(words))]
		}
		return l
	}
	for i := range 120 {
		a := randomFile(rng.IntN(30))
		b := append([]string(nil), a...)
		for range rng.IntN(6) {
			switch op := rng.IntN(3); {
			case op == 0 && len(b) > 0:
				j := rng.IntN(len(b))
				b = append(b[:j], b[j+1:]...)
			case op == 1:
				j := rng.IntN(len(b) + 1)
				b = append(b[:j], append([]string{words[rng.IntN(len(words))]}, b[j:]...)...)
			case len(b) > 0:
				b[rng.IntN(len(b))] = words[rng.IntN(len(words))]
			}
		}
		join := func(l []string) []byte {
			if len(l) == 0 {
				return nil
			}
			s := strings.Join(l, "\n") + "\n"
			if rng.IntN(8) == 0 {
				s = strings.TrimSuffix(s, "\n") // no newline at the end
			}
			return []byte(s)
		}
		ab, bb := join(a), join(b)
		pa, pb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		if err := os.WriteFile(pa, ab, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pb, bb, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("diff", "-u", "--label", "a", "--label", "b", pa, pb).Output()
		var ee *exec.ExitError
		if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
			t.Fatalf("diff: %v", err)
		}
		got := unifiedDiff("a", "b", ab, bb)
		if got == string(out) {
			continue
		}
		// Where several shortest edit scripts exist the two may pick
		// different ones: then ours must be as short and must turn a into
		// b when patch applies it.
		if countLines(got) != countLines(string(out)) {
			t.Fatalf("case %d: edit script of another length\n--- diff -u\n%s--- unifiedDiff\n%s", i, out, got)
		}
		if hasPatch {
			patched := filepath.Join(dir, "patched")
			cmd := exec.Command("patch", "-s", "-o", patched, pa)
			cmd.Stdin = strings.NewReader(got)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("case %d: patch refuses unifiedDiff's output: %v\n%s--- unifiedDiff\n%s", i, err, out, got)
			}
			if p, err := os.ReadFile(patched); err != nil || !bytes.Equal(p, bb) {
				t.Fatalf("case %d: patched file differs from b (%v)\n--- unifiedDiff\n%s", i, err, got)
			}
		}
	}
}

func hunkLines(d string, kind byte) string {
	var b bytes.Buffer
	for _, l := range strings.Split(d, "\n") {
		if len(l) > 0 && l[0] == kind && !strings.HasPrefix(l, "---") && !strings.HasPrefix(l, "+++") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// countLines counts the removed and added lines of a diff.
func countLines(d string) [2]int {
	return [2]int{strings.Count(hunkLines(d, '-'), "\n"), strings.Count(hunkLines(d, '+'), "\n")}
}
