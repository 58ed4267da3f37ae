package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks/schedules"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

// TestScheduleAddGroup adds a schedule of a spec naming two arches with
// `fbs schedule add`: it is kept with both arches (each run builds a
// group), its local kickstart flattened beside it, and listed with the
// queues of both arches.
func TestScheduleAddGroup(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "staging")
	cfg := filepath.Join(dir, "fbs.conf")
	files := map[string]string{
		cfg:                             "[redis]\nurl = redis://" + rs.Addr + "/0\n[worker]\ndata_dir = " + dir + "\n[staging]\nfile_root = " + root + "\n",
		filepath.Join(dir, "main.ks"):   "text\nlang en_US.UTF-8\n%packages\n@core\n%end\n",
		filepath.Join(dir, "both.conf"): "[DEFAULT]\ntype=ksiso\narch=x86_64,aarch64\nrelease=41\nstaging=file://" + root + "\n[ksiso]\niso=boot.iso\nconfig=main.ks\n",
	}
	for name, text := range files {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, errs, code := run(t, nil, "schedule", "add", "--config", cfg, "--cron", "@daily", filepath.Join(dir, "both.conf"))
	if code != 0 {
		t.Fatalf("fbs schedule add: exit %d: %s", code, errs)
	}
	sc, err := schedules.NewStore(rs.Client()).Get(context.Background(), strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Spec.Arch != "x86_64,aarch64" || sc.Kickstarts["main.ks"] == "" {
		t.Errorf("schedule kept arch %q and kickstarts %v; want both arches and main.ks", sc.Spec.Arch, sc.Kickstarts)
	}
	out, errs, code = run(t, nil, "schedule", "list", "--config", cfg)
	if code != 0 || !strings.Contains(out, "build:x86_64:41,build:aarch64:41") {
		t.Errorf("fbs schedule list: exit %d, want both queues:\n%s%s", code, out, errs)
	}
}
