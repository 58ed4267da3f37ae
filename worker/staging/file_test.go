package staging

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
)

func TestFileSuite(t *testing.T) {
	t.Parallel()
	runSuite(t, func(t *testing.T) env {
		dir := filepath.Join(t.TempDir(), "staging")
		return env{url: "file://" + dir, dir: dir, base: "file://" + dir}
	})
}

func TestFileRemoteRoot(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "root")
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "users"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A symlink inside the root that leads out of it.
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	f, b := writeRandom(t, src, "x.iso", 10)
	opts := Options{Remote: true, FileRoot: root}

	for _, tc := range []struct {
		url  string
		want string // error substring; "" for success
	}{
		{"file://" + root + "/users/alice", ""},
		{"file://" + root + "/users/../../etc", "outside the staging root"},
		{"file://" + outside, "outside the staging root"},
		{"file://" + root + "/escape/sub", "outside the staging root"},
	} {
		s, err := Open(context.Background(), tc.url, opts)
		if err == nil {
			_, err = s.Put(context.Background(), tasks.NewBuildID(), []string{f})
			s.Close()
		}
		if tc.want == "" && err != nil {
			t.Errorf("stage to %s: %v", tc.url, err)
		}
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("stage to %s: error %v, want one containing %q", tc.url, err, tc.want)
		}
	}
	ents, _ := os.ReadDir(outside)
	if len(ents) != 0 {
		t.Errorf("files were written outside the root: %v", ents)
	}

	// A symlink planted after Open, as the build directory itself.
	s, err := Open(context.Background(), "file://"+root+"/users/bob", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := tasks.NewBuildID()
	if err := os.MkdirAll(filepath.Join(root, "users", "bob"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "users", "bob", id)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(context.Background(), id, []string{f}); err == nil || !strings.Contains(err.Error(), "outside the staging root") {
		t.Errorf("Put through a symlinked build directory: %v, want refusal", err)
	}
	// Without Remote the same URL is the local user's business.
	ls, err := Open(context.Background(), "file://"+outside, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	if _, err := ls.Put(context.Background(), "", []string{f}); err != nil {
		t.Fatalf("local Put: %v", err)
	}
	checkStaged(t, outside, map[string][]byte{"x.iso": b})
}

func TestFilePartIsNotFollowed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, ".a.iso.part")); err != nil {
		t.Fatal(err)
	}
	f, _ := writeRandom(t, t.TempDir(), "a.iso", 10)
	s, err := Open(context.Background(), "file://"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Put(context.Background(), "", []string{f})
	if err == nil {
		t.Error("Put wrote through a symlink at the part name")
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("victim file changed to %q", b)
	}
}

// TestFileLinkOrCopy stages into a directory on the build's filesystem,
// where the image is hard-linked (same inode, nothing copied, verified
// without a second read), and into one on another filesystem (/dev/shm, a
// tmpfs), where it is copied.
func TestFileLinkOrCopy(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	f, b := writeRandom(t, src, "x.iso", 1<<20)
	other, err := os.MkdirTemp("/dev/shm", "fbs-staging-")
	if err != nil {
		t.Skipf("no tmpfs at /dev/shm for another filesystem: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(other) })
	for _, tc := range []struct {
		name     string
		dir      string
		wantLink bool
	}{
		{"same filesystem", filepath.Join(t.TempDir(), "staging"), true},
		{"other filesystem", other, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			s, err := Open(context.Background(), "file://"+tc.dir, Options{Logf: func(format string, args ...any) {
				log.WriteString(fmt.Sprintf(format, args...) + "\n")
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			id := tasks.NewBuildID()
			arts, err := s.Put(context.Background(), id, []string{f})
			if err != nil {
				t.Fatal(err)
			}
			staged := filepath.Join(tc.dir, id, "x.iso")
			got, err := os.ReadFile(staged)
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("staged copy differs from the image (err %v)", err)
			}
			if want := fmt.Sprintf("%x", sha256.Sum256(b)); arts[0].SHA256 != want {
				t.Errorf("artifact sha256 %s, want %s", arts[0].SHA256, want)
			}
			si, _ := os.Stat(staged)
			li, _ := os.Stat(f)
			if linked := os.SameFile(si, li); linked != tc.wantLink {
				t.Errorf("staged file is the image's inode: %v, want %v\nlog:\n%s", linked, tc.wantLink, log.String())
			}
			if strings.Contains(log.String(), "hard link") != tc.wantLink {
				t.Errorf("log does not say how the file was staged:\n%s", log.String())
			}
			if ents, _ := os.ReadDir(filepath.Join(tc.dir, id)); len(ents) != 2 {
				t.Errorf("staging dir holds %d entries, want the image and the marker", len(ents))
			}
		})
	}
}
