package deploy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestOriginalHosts checks the original deploy.conf's mapping onto fbs
// hosts: the master is the web, monitor and Redis host; each worker address
// is one worker, its releases merged over the [workers-RELEASE] sections;
// commented-out workers are not hosts.
func TestOriginalHosts(t *testing.T) {
	t.Parallel()
	f := loadOriginal(t)
	type host struct {
		Name, User, Arch string
		Roles            []Role
		Releases         []string
	}
	var got []host
	for _, h := range f.Hosts {
		got = append(got, host{h.Name, h.User, h.Arch, h.Roles, h.Releases})
	}
	want := []host{
		{Name: "localhost", User: "gene", Roles: []Role{RoleRedis, RoleWeb, RoleMonitor}},
		{Name: "10.0.0.43", User: "root", Arch: "i686", Roles: []Role{RoleWorker}, Releases: []string{"16"}},
		{Name: "10.0.0.9", User: "root", Arch: "i686", Roles: []Role{RoleWorker}, Releases: []string{"17"}},
		{Name: "10.0.0.30", User: "root", Arch: "i686", Roles: []Role{RoleWorker}, Releases: []string{"17"}},
		{Name: "10.0.0.27", User: "root", Arch: "x86_64", Roles: []Role{RoleWorker}, Releases: []string{"17"}},
		{Name: "10.0.0.37", User: "root", Arch: "i686", Roles: []Role{RoleWorker}, Releases: []string{"rawhide"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hosts mismatch (-want +got):\n%s", diff)
	}
	if !f.Original || f.RedisURL != "redis://localhost:6379/0" {
		t.Errorf("Original = %v, RedisURL = %q", f.Original, f.RedisURL)
	}
	master, err := f.Host("localhost")
	if err != nil {
		t.Fatal(err)
	}
	wantSMTP := map[string]string{"host": "smtp.gmail.com", "port": "587", "username": "buildservicebot@gmail.com",
		"from": "buildservicebot@gmail.com", "password_file": "/etc/fbs/secrets/smtp-password"}
	if diff := cmp.Diff(wantSMTP, master.Config["smtp"]); diff != "" {
		t.Errorf("[smtp] mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"list": "16,17,rawhide", "arches": "i686,x86_64"}, master.Config["releases"]); diff != "" {
		t.Errorf("[releases] mismatch (-want +got):\n%s", diff)
	}
	// Only the monitor, which sends the mail, gets the password.
	for _, h := range f.Hosts {
		if got, want := len(h.Secrets), map[bool]int{true: 1, false: 0}[h.Has(RoleMonitor)]; got != want {
			t.Errorf("host %s has %d secrets, want %d", h.Name, got, want)
		}
	}
}

// TestOriginalWarnings checks that everything the original file says that
// no longer applies is reported, with its line and key.
func TestOriginalWarnings(t *testing.T) {
	t.Parallel()
	f := loadOriginal(t)
	type warning struct {
		Line int
		Key  string
		Has  string
	}
	var got []warning
	for _, w := range f.Warnings {
		got = append(got, warning{w.Line, w.Key, ""})
	}
	want := []warning{
		{2, "[broker] i686", ""}, {3, "[broker] x86_64", ""},
		{9, "[master] host", ""}, {9, "", ""}, {10, "[master] workdir", ""},
		{15, "[workers-16] workdir", ""}, {20, "[workers-17] workdir", ""},
		{22, "[workers-rawhide]", ""}, {25, "[workers-rawhide] workdir", ""},
		{33, "[SMTP] password", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings mismatch (-want +got):\n%s", diff)
	}
	for _, w := range f.Warnings {
		if strings.Contains(w.String(), "f00bar") {
			t.Errorf("warning shows the password: %s", w)
		}
	}
}

func TestOriginalErrors(t *testing.T) {
	t.Parallel()
	const master = "[master]\nhost = root@198.18.0.1\n"
	tests := []struct{ name, text, want string }{
		{name: "no master", text: "[workers-42]\nx86_64 = root@198.18.0.2\n",
			want: "deploy.conf: no [master] section: the original deploy.conf names the web host there (host = user@host)"},
		{name: "master without host", text: "[master]\nworkdir = /tmp/x\n",
			want: "deploy.conf:1: [master] host: missing: the web host, as user@host"},
		{name: "bad user@host", text: "[master]\nhost = root@\n", want: `deploy.conf:2: [master] host: "root@" is not user@host`},
		{name: "unknown arch", text: master + "[workers-42]\nsparc = root@198.18.0.2\n",
			want: `deploy.conf:4: [workers-42] sparc: unknown arch "sparc" (want one of x86_64, aarch64, ppc64le, s390x, i686, or workdir)`},
		{name: "bad release", text: master + "[workers-beta]\nx86_64 = root@198.18.0.2\n",
			want: `deploy.conf:3: [workers-beta]: unknown release "beta" in the section name (want [workers-NUMBER] or [workers-rawhide])`},
		{name: "two arches", text: master + "[workers-41]\nx86_64 = root@198.18.0.2\n[workers-42]\naarch64 = root@198.18.0.2\n",
			want: "deploy.conf:6: [workers-42] aarch64: host 198.18.0.2 builds aarch64 here and x86_64 on line 4: a worker builds one arch"},
		{name: "two users", text: master + "[workers-41]\nx86_64 = root@198.18.0.2\n[workers-42]\nx86_64 = fbs@198.18.0.2\n",
			want: "deploy.conf:6: [workers-42] x86_64: host 198.18.0.2 is logged in to as fbs here and as root on line 4: one user per host"},
		{name: "unknown SMTP key", text: master + "[SMTP]\ntls = 'yes'\n",
			want: "deploy.conf:4: [SMTP] tls: unknown key (known keys in [SMTP]: server, port, login, password)"},
		{name: "unknown section", text: master + "[rabbit]\nx = 1\n",
			want: "deploy.conf:3: [rabbit]: unknown section of the original deploy.conf (known: [broker], [releases], [master], [workers-RELEASE], [SMTP])"},
		{name: "bad SMTP port, from conf's loader", text: master + "[SMTP]\nport = 'smtp'\n",
			want: `deploy.conf:4: [SMTP] port: host 198.18.0.1: "smtp" is not a whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, got := loadText(t, tt.text, nil)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
