package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// loadText writes text as deploy.conf (and files beside it) in a
// temporary directory and loads it; errors are returned with the directory
// removed from paths.
func loadText(t *testing.T, text string, files map[string]string) (*File, string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "deploy.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(p)
	if err != nil {
		return nil, strings.ReplaceAll(err.Error(), dir+"/", "")
	}
	return f, ""
}

const okHosts = `[host h1]
address = 198.18.0.1
roles = redis, web, monitor
[host w1]
address = 198.18.0.2
roles = worker
arch = x86_64
`

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		files      map[string]string
		want       string
	}{
		{name: "not INI", text: "[deploy\n", want: "deploy.conf:1: section header has no closing ]"},
		{name: "host name", text: "[host ..]\nroles = worker\n", want: `deploy.conf:1: [host ..]: host name "..": want a letter or digit, then letters, digits, dots, dashes, underscores and colons`},
		{name: "no hosts", text: "[deploy]\nuser = root\n", want: "deploy.conf: no hosts: add a [host NAME] section per host"},
		{name: "unknown section", text: okHosts + "[hosts x]\n", want: "deploy.conf:8: [hosts x]: unknown section (known: [deploy], [host NAME], [conf], [conf NAME])"},
		{name: "unknown deploy key", text: "[deploy]\nusr = root\n" + okHosts,
			want: "deploy.conf:2: [deploy] usr: unknown key (known keys in [deploy]: binary, user, port, key, known_hosts, redis_url, redis_port)"},
		{name: "bad port", text: "[deploy]\nport = 70000\n" + okHosts, want: `deploy.conf:2: [deploy] port: "70000" is not a port (1-65535)`},
		{name: "key twice", text: "[host h1]\nroles = web\nroles = worker\n", want: "deploy.conf:3: [host h1] roles: set again (first on line 2)"},
		{name: "no roles", text: "[host h1]\naddress = 198.18.0.1\n", want: "deploy.conf:1: [host h1] roles: missing: say what the host runs (web, monitor, worker, redis, comma separated)"},
		{name: "unknown role", text: "[host h1]\nroles = web, builder\n", want: `deploy.conf:2: [host h1] roles: unknown role "builder" (want web, monitor, worker or redis)`},
		{name: "bad arch", text: "[host h1]\naddress = 198.18.0.1\nroles = worker, redis\narch = sparc\n", want: `deploy.conf:4: [host h1] arch: unknown arch "sparc" (want one of x86_64, aarch64, ppc64le, s390x, i686)`},
		{name: "arch on web", text: "[host h1]\naddress = 198.18.0.1\nroles = web, redis\narch = x86_64\n", want: "deploy.conf:4: [host h1] arch: only a worker has arch (roles: redis,web)"},
		{name: "same address", text: okHosts + "[host w2]\naddress = 198.18.0.2\nroles = worker\n",
			want: "deploy.conf:8: [host w2] address: host w2 has the address 198.18.0.2 of host w1 (line 4): one section per host"},
		{name: "two redis", text: okHosts + "[host r2]\naddress = 198.18.0.3\nroles = redis\n",
			want: "deploy.conf:8: [host r2] roles: host r2 has the redis role too (first: h1, line 1): one Redis serves the deployment"},
		{name: "no redis", text: "[host w1]\nroles = worker\n", want: "deploy.conf: no Redis: give one host the redis role, or set [deploy] redis_url"},
		{name: "redis url with password", text: "[deploy]\nredis_url = redis://:hunter2@198.18.0.9:6379/0\n[host w1]\nroles = worker\n",
			want: "deploy.conf:2: [deploy] redis_url: the URL holds a password: inline secrets are not accepted (give the Redis host a redis role, or use a Redis without a password)"},
		{name: "redis url and host", text: "[deploy]\nredis_url = redis://198.18.0.9:6379/0\n" + okHosts,
			want: "deploy.conf:2: [deploy] redis_url: host h1 has the redis role: its URL is the Redis URL (remove redis_url or the role)"},
		{name: "redis host by name", text: "[host db.example.org]\nroles = redis\n",
			want: "deploy.conf:1: [host db.example.org] redis_bind: address db.example.org is not an IP address: say which addresses Redis listens on"},
		{name: "inline secret", text: okHosts + "[conf]\nsmtp.password = hunter2\n",
			want: "deploy.conf:9: [conf] smtp.password: inline secrets are not accepted: write smtp.password_file = FILE, a local file holding the secret (installed as /etc/fbs/secrets/smtp-password)"},
		{name: "missing secret file", text: okHosts + "[conf]\nsmtp.password_file = nowhere\n",
			want: "deploy.conf:9: [conf] smtp.password_file: secret file nowhere does not exist"},
		{name: "empty secret file", text: okHosts + "[conf]\nsmtp.password_file = empty\n", files: map[string]string{"empty": "\n"},
			want: "deploy.conf:9: [conf] smtp.password_file: secret file empty is empty"},
		{name: "conf key not dotted", text: okHosts + "[conf]\nlisten = :80\n",
			want: "deploy.conf:9: [conf] listen: write fbs.conf keys as section.key, e.g. smtp.host"},
		{name: "conf redis url", text: okHosts + "[conf]\nredis.url = redis://x/0\n",
			want: "deploy.conf:9: [conf] redis.url: the Redis URL comes from the host with the redis role or from [deploy] redis_url"},
		{name: "conf worker arch", text: okHosts + "[conf w1]\nworker.arch = aarch64\n",
			want: "deploy.conf:9: [conf w1] worker.arch: set it in the worker's [host NAME] section as arch"},
		{name: "conf for unknown host", text: okHosts + "[conf w9]\nworker.keep_builds = 2\n", want: "deploy.conf:8: [conf w9]: no [host w9] section"},
		// Values are checked by conf's own loader, on each host's fbs.conf,
		// and reported at the line that set them.
		{name: "conf value", text: okHosts + "[conf]\nworker.drain_timeout = soon\n",
			want: "deploy.conf:9: [conf] worker.drain_timeout: hosts h1, w1: \"soon\" is not a duration (write e.g. 6h, 90m or 1h30m)"},
		{name: "conf unknown key", text: okHosts + "[conf w1]\nworker.concurency = 2\n",
			want: "deploy.conf:9: [conf w1] worker.concurency: host w1: unknown key (known keys in [worker]: arch, releases, concurrency, data_dir, iso_dir, build_timeout, drain_timeout, lost_builds, keep_builds, poll_interval, lease_ttl, reap_interval, min_free)"},
		{name: "worker release not offered", text: "[host h1]\naddress = 198.18.0.1\nroles = redis, worker\nreleases = 40\n[conf]\nreleases.list = 41\n",
			want: "deploy.conf:4: [host h1] releases: host h1: release 40 is not in [releases] list (41)"},
		{name: "username without password", text: okHosts + "[conf]\nsmtp.username = fbs\n",
			want: "deploy.conf:9: [conf] smtp.username: hosts h1, w1: a user name needs a password: set password_file or FBS_SMTP_PASSWORD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, got := loadText(t, tt.text, tt.files)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
