package rollout

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/deploy"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestParseVersion(t *testing.T) {
	for _, tt := range []struct {
		out, want string
		ok        bool
	}{
		{"fbs 1.2.3 4c3b65b1 (go1.26.8, linux/amd64)\n", "1.2.3 4c3b65b1", true},
		{"fbs 0.1.0-devel (go1.26.8, linux/amd64)\n", "0.1.0-devel", true},
		{"fbs 2.0.0-e2e (go, linux/amd64)\nmore\n", "2.0.0-e2e", true},
		{"bash: fbs: command not found\n", "", false},
		{"fbs  (go1.26, linux/amd64)", "", false},
		{"", "", false},
	} {
		got, ok := parseVersion(tt.out)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseVersion(%q) = %q, %v; want %q, %v", tt.out, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLocalAddr(t *testing.T) {
	for listen, want := range map[string]string{
		"127.0.0.1:5000":   "127.0.0.1:5000",
		"0.0.0.0:5100":     "127.0.0.1:5100",
		":5000":            "127.0.0.1:5000",
		"[::]:5000":        "[::1]:5000",
		"198.18.0.11:5000": "198.18.0.11:5000",
	} {
		if got := localAddr(listen); got != want {
			t.Errorf("localAddr(%q) = %q, want %q", listen, got, want)
		}
	}
}

// TestOrder checks the rollout order: Redis, monitor, web, then workers,
// in file order within each.
func TestOrder(t *testing.T) {
	host := func(name string, roles ...deploy.Role) *deploy.Host { return &deploy.Host{Name: name, Roles: roles} }
	f := &deploy.File{Hosts: []*deploy.Host{
		host("w1", deploy.RoleWorker), host("web1", deploy.RoleWeb), host("w2", deploy.RoleWorker),
		host("mon", deploy.RoleMonitor), host("web2", deploy.RoleWeb, deploy.RoleWorker), host("db", deploy.RoleRedis, deploy.RoleWeb),
	}}
	r, err := New(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"db", "mon", "web1", "web2", "w1", "w2"}, names(r.ordered())); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestNewRefuses(t *testing.T) {
	f := &deploy.File{Hosts: []*deploy.Host{{Name: "a", Roles: []deploy.Role{deploy.RoleWorker}}}}
	for _, tt := range []struct {
		name string
		f    *deploy.File
		opts Options
		want string
	}{
		{"no hosts", &deploy.File{}, Options{}, "a deploy file with hosts"},
		{"negative parallel", f, Options{Parallel: -1}, "--parallel -1"},
		{"short check", f, Options{CheckTimeout: time.Millisecond}, "at least 1s"},
	} {
		if _, err := New(tt.f, tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New: %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
}

// TestWrite checks the text of a plan, a report and a status against
// golden files (go test -update rewrites them).
func TestWrite(t *testing.T) {
	roles := []deploy.Role{deploy.RoleRedis, deploy.RoleWeb, deploy.RoleMonitor}
	plans := []*HostPlan{
		{Host: "h1", Roles: roles, OS: deploy.Debian, New: "2.0.0", Installed: "1.0.0", BinaryChanged: true,
			MissingPackages: []string{"curl"}, MissingUsers: []string{"fbs"},
			Files: []deploy.Change{
				{Path: "/etc/fbs/fbs.conf", Kind: deploy.ChangeUpdate, Diff: "--- /etc/fbs/fbs.conf\n+++ /etc/fbs/fbs.conf\n@@ -1 +1 @@\n-a = 1\n+a = 2\n"},
				{Path: "/etc/fbs/secrets/smtp", Kind: deploy.ChangeUpdate, Diff: "(secret changed)\n"},
				{Path: "/etc/systemd/system/fbs-web.service", Kind: deploy.ChangeUnchanged},
			},
			Units: []UnitState{{"fbs-redis.service", "active", "enabled"}, {"fbs-web.service", "failed", "enabled"}}},
		{Host: "h2", Roles: []deploy.Role{deploy.RoleWorker}, New: "2.0.0", Installed: "2.0.0",
			Units: []UnitState{{"fbs-worker.service", "active", "enabled"}}},
		{Host: "h3", Roles: []deploy.Role{deploy.RoleWorker}, Err: errors.New("connect to h3: ssh 198.18.0.13:22: connection refused")},
	}
	rep := &Report{Duration: 61 * time.Second, Skipped: []string{"h3"}, Hosts: []*HostResult{
		{Host: "h1", Changed: true, Duration: 20 * time.Second, Steps: []string{"installed /usr/local/bin/fbs 2.0.0 in 2s", "started fbs-web.service, checked in 1s"}},
		{Host: "h2", Changed: true, Duration: 40 * time.Second, Steps: []string{"stopped fbs-worker.service (drained) in 30s", "rolled back to 1.0.0 and the previous configuration in 5s"},
			Err: errors.New("h2: check fbs-worker.service: not within 1m0s: no heartbeat from worker h2/812"), RolledBack: true},
	}}
	beat := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	status := []*HostStatus{
		{Host: "h1", Roles: roles, Installed: "2.0.0", Units: []UnitState{{"fbs-web.service", "active", "enabled"}}, Health: map[string]string{"fbs-web.service": "ok"}},
		{Host: "h2", Roles: []deploy.Role{deploy.RoleWorker}, Installed: "2.0.0", Units: []UnitState{{"fbs-worker.service", "active", "enabled"}},
			Workers: []*builds.WorkerInfo{{ID: "h2/812", Version: "2.0.0", Arch: "x86_64", Releases: []string{"41", "42"}, Concurrency: 2,
				Builds: []string{"01JAAAAAAAAAAAAAAAAAAAAAAA"}, Draining: true, Heartbeat: beat,
				Capabilities: []tasks.Capability{{Kind: "ksiso"}, {Kind: "boot", Missing: "lorax"}}}}},
		{Host: "h3", Roles: []deploy.Role{deploy.RoleWorker}, Units: []UnitState{{"fbs-worker.service", "inactive", "missing"}}},
	}
	for _, tt := range []struct {
		golden string
		write  func(*strings.Builder) error
	}{
		{"plan.golden", func(b *strings.Builder) error { return WritePlan(b, plans) }},
		{"report.golden", func(b *strings.Builder) error { return WriteReport(b, rep) }},
		{"status.golden", func(b *strings.Builder) error { return WriteStatus(b, status) }},
	} {
		var b strings.Builder
		if err := tt.write(&b); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", tt.golden)
		if *update {
			if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), b.String()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.golden, diff)
		}
	}
}
