package cli_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/worker/staging"
)

// TestGC runs `fbs gc --dry-run`, which lists an expired build, its group and its
// staged directory and removes nothing, then `fbs gc`, which removes them
// and leaves a recent build alone.
func TestGC(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rs := redistest.Start(t)
	store := builds.NewStore(rs.Client())
	dir := t.TempDir()
	root := filepath.Join(dir, "staging")
	cfg := filepath.Join(dir, "fbs.conf")
	conf := "[redis]\nurl = redis://" + rs.Addr + "/0\n[worker]\ndata_dir = " + dir + "\n[staging]\nfile_root = " + root + "\n[retention]\nsucceeded_days = 10\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	mk := func(age time.Duration) *tasks.Build {
		at := time.Now().Add(-age)
		b := &tasks.Build{ID: ulid.MustNew(ulid.Timestamp(at), rand.Reader).String(), Owner: "alice", State: tasks.StateSucceeded,
			Created: at, Finished: at, Spec: tasks.Spec{Staging: "file://" + root}}
		f := filepath.Join(t.TempDir(), "boot.iso")
		if err := os.WriteFile(f, []byte("iso"), 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := staging.Open(ctx, b.Spec.Staging, staging.Options{FileRoot: root})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.Put(ctx, b.ID, []string{f}); err != nil {
			t.Fatal(err)
		}
		b.Staged = b.Spec.Staging + "/" + b.ID
		if err := store.Create(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
		return b
	}
	old, recent := mk(20*24*time.Hour), mk(time.Hour)
	// The old build is the only build of a multi-arch group: the group's
	// record goes with it.
	groupAt := time.Now().Add(-20 * 24 * time.Hour)
	group := &tasks.Group{ID: ulid.MustNew(ulid.Timestamp(groupAt), rand.Reader).String(), Owner: "alice", Builds: []string{old.ID}, Created: groupAt}
	if err := store.CreateGroup(ctx, group); err != nil {
		t.Fatal(err)
	}

	out, errs, code := run(t, nil, "gc", "--config", cfg, "--dry-run")
	if code != 0 || !strings.Contains(out, old.ID) || !strings.Contains(out, old.Staged) || strings.Contains(out, recent.ID) ||
		!regexp.MustCompile(`(?m)^group +`+group.ID+` +its last builds go with this run$`).MatchString(out) ||
		!strings.Contains(out, "would remove 1 builds, 1 groups and 0 mails") {
		t.Fatalf("fbs gc --dry-run: exit %d\n%s%s", code, out, errs)
	}
	if _, err := store.Get(ctx, old.ID); err != nil {
		t.Fatalf("dry run removed the build: %v", err)
	}
	out, errs, code = run(t, nil, "gc", "--config", cfg)
	if code != 0 || !strings.Contains(out, "removed: 1 build 1 group 1 staged") {
		t.Fatalf("fbs gc: exit %d\n%s%s", code, out, errs)
	}
	if _, err := store.Get(ctx, old.ID); err == nil {
		t.Error("expired build still there after fbs gc")
	}
	if _, err := store.Group(ctx, group.ID); !errors.Is(err, builds.ErrGroupNotFound) {
		t.Errorf("group of the expired build after fbs gc: %v, want not found", err)
	}
	if _, err := os.Stat(filepath.Join(root, old.ID)); !os.IsNotExist(err) {
		t.Errorf("expired build's staged directory: %v", err)
	}
	if _, err := store.Get(ctx, recent.ID); err != nil {
		t.Errorf("recent build removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, recent.ID, "boot.iso")); err != nil {
		t.Errorf("recent build's staged file: %v", err)
	}
}
