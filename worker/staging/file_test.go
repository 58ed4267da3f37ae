package staging

import (
	"context"
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
