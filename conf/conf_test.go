package conf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fedora-fbs/fbs/tasks"
)

// env is a fake environment for lookupEnv.
type env map[string]string

func (e env) lookup(k string) (string, bool) { v, ok := e[k]; return v, ok }

// user is a non-root amd64 host with HOME set.
var (
	userHost = host{goarch: "amd64", euid: 1000}
	userEnv  = env{"HOME": "/home/u"}
)

var ignoreUnexported = cmpopts.IgnoreUnexported(SMTP{})

// defaults is the configuration of userHost with no file and userEnv.
func defaults() *Config {
	return &Config{
		Worker: Worker{
			Arch:         "x86_64",
			Releases:     []string{"41", "42", "rawhide"},
			Concurrency:  1,
			DataDir:      "/home/u/.local/share/fbs",
			ISODir:       "/home/u/.local/share/fbs/isos",
			BuildTimeout: 6 * time.Hour,
			DrainTimeout: 10 * time.Minute,
			LostBuilds:   tasks.LostRequeue,
			PollInterval: 600 * time.Millisecond,
			LeaseTTL:     30 * time.Second,
			ReapInterval: 10 * time.Second,
			MinFree:      2 << 30,
		},
		Web: Web{Listener: Listener{Listen: "127.0.0.1:5000", BodyTimeout: time.Minute, MaxConnsPerIP: 64}, TokenMaxDays: 365,
			Visibility: tasks.VisibilityPrivate, LinkTTL: 30 * 24 * time.Hour},
		Monitor:    Listener{Listen: "127.0.0.1:5100", BodyTimeout: time.Minute, MaxConnsPerIP: 64},
		SMTP:       SMTP{Port: 25, TLS: "starttls", From: "fbs@localhost", RetryBackoff: 30 * time.Second},
		Staging:    Staging{FileRoot: "/home/u/.local/share/fbs/staging", RetryFor: time.Hour, RetryBackoff: 30 * time.Second, RetryBackoffMax: 10 * time.Minute},
		Kickstarts: Kickstarts{SyncDir: "/home/u/.local/share/fbs/kickstarts"},
		DVD:        DVD{Repos: strings.Split(strings.ReplaceAll(DefaultDVDRepos, " ", ""), ","), RawhideRepos: []string{DefaultDVDRawhideRepos}},
		Koji:       Koji{HubURL: "https://koji.fedoraproject.org/kojihub", PackagesURL: "https://kojipkgs.fedoraproject.org/packages", Parallel: 4, CacheMaxGB: 20},
		Releases:   []string{"41", "42", "rawhide"},
		Arches:     []string{"x86_64", "aarch64", "ppc64le", "s390x"},
		Tools:      map[string]string{},
		Retention:  Retention{SucceededDays: 30, FailedDays: 30, CancelledDays: 7, OutboxDays: 30, Interval: time.Hour},
		Schedules:  Schedules{SyncInterval: 10 * time.Second},
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    host
		env  env
		want func(c *Config)
	}{
		{"user", userHost, userEnv, func(c *Config) {}},
		{"root", host{goarch: "amd64", euid: 0}, env{}, func(c *Config) {
			c.Worker.DataDir = "/var/lib/fbs"
			c.Worker.ISODir = "/var/lib/fbs/isos"
			c.Staging.FileRoot = "/var/lib/fbs/staging"
			c.Kickstarts.SyncDir = "/var/lib/fbs/kickstarts"
		}},
		{"spin-kickstarts installed", host{goarch: "amd64", euid: 1000, spinKickstarts: true}, userEnv, func(c *Config) {
			c.Kickstarts.Dir = SpinKickstartsDir
		}},
		{"XDG_DATA_HOME", userHost, env{"HOME": "/home/u", "XDG_DATA_HOME": "/xdg"}, func(c *Config) {
			c.Worker.DataDir = "/xdg/fbs"
			c.Worker.ISODir = "/xdg/fbs/isos"
			c.Staging.FileRoot = "/xdg/fbs/staging"
			c.Kickstarts.SyncDir = "/xdg/fbs/kickstarts"
		}},
		{"relative XDG_DATA_HOME is ignored", userHost, env{"HOME": "/home/u", "XDG_DATA_HOME": "xdg"}, func(c *Config) {}},
		{"arm64", host{goarch: "arm64", euid: 1000}, userEnv, func(c *Config) { c.Worker.Arch = "aarch64" }},
		{"386", host{goarch: "386", euid: 1000}, userEnv, func(c *Config) { c.Worker.Arch = "i686" }},
		{"ppc64le", host{goarch: "ppc64le", euid: 1000}, userEnv, func(c *Config) { c.Worker.Arch = "ppc64le" }},
		{"s390x", host{goarch: "s390x", euid: 1000}, userEnv, func(c *Config) { c.Worker.Arch = "s390x" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := load("", tt.env.lookup, tt.h)
			if err != nil {
				t.Fatal(err)
			}
			want := defaults()
			tt.want(want)
			if diff := cmp.Diff(want, got, ignoreUnexported); diff != "" {
				t.Errorf("config mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadDefaultsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    host
		env  env
		want string
	}{
		{"unknown host arch", host{goarch: "riscv64", euid: 1000}, userEnv,
			"[worker] arch: no default for host arch riscv64: set it"},
		{"no home", userHost, env{},
			"[worker] data_dir: no default when not root and neither XDG_DATA_HOME nor HOME is set: set it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := load("", tt.env.lookup, tt.h)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
	// The fallbacks can be replaced by setting the keys.
	c, err := load("", env{"FBS_WORKER_ARCH": "x86_64", "FBS_WORKER_DATA_DIR": "/d"}.lookup, host{goarch: "riscv64", euid: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if c.Worker.Arch != "x86_64" || c.Worker.ISODir != "/d/isos" {
		t.Errorf("got arch %q, iso dir %q", c.Worker.Arch, c.Worker.ISODir)
	}
}

func TestLoadFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want func(c *Config)
	}{
		{"testdata/good/full.conf", func(c *Config) {
			c.Redis.URL = "redis://10.0.0.5:6380/2"
			c.Worker = Worker{
				Arch:         "aarch64",
				Releases:     []string{"42", "rawhide"},
				Concurrency:  3,
				DataDir:      "/srv/fbs",
				ISODir:       "/srv/isos",
				BuildTimeout: 150 * time.Minute,
				DrainTimeout: 90 * time.Second,
				LostBuilds:   tasks.LostFail,
				PollInterval: 600 * time.Millisecond,
				LeaseTTL:     30 * time.Second,
				ReapInterval: 10 * time.Second,
				MinFree:      512 << 20,
			}
			c.Web.Listener = Listener{Listen: "0.0.0.0:8080", PublicURL: "https://fbs.example.org/", BodyTimeout: 30 * time.Second}
			c.Web.Visibility, c.Web.LinkTTL = tasks.VisibilityPublic, 7*24*time.Hour
			c.Monitor = Listener{Listen: "[::1]:9100", PublicURL: "https://fbs.example.org/monitor", BodyTimeout: 2 * time.Minute, MaxConnsPerIP: 200}
			c.SMTP = SMTP{Host: "smtp.example.org", Port: 465, TLS: "tls", Username: "fbs",
				PasswordFile: "/etc/fbs/smtp-password", From: "Fedora Build Service <fbs@example.org>", RetryBackoff: 30 * time.Second}
			c.Staging = Staging{FileRoot: "/srv/staging", SSHKey: "/etc/fbs/id_ed25519", KnownHosts: "/etc/fbs/known_hosts", RetryFor: time.Hour, RetryBackoff: 30 * time.Second, RetryBackoffMax: 10 * time.Minute}
			c.Kickstarts = Kickstarts{Dir: "/etc/fbs/kickstarts", SyncDir: "/srv/fbs-kickstarts"}
			c.Security = Security{AllowHosts: []string{"mirror.internal", "Staging.Internal"}, AllowNetworks: []string{"10.20.0.0/16", "192.168.7.5"}}
			c.Releases = []string{"40", "41", "42", "rawhide"}
			c.Tools = map[string]string{"lorax": "/opt/lorax/bin/lorax", "xorriso": "xorriso-1.5", "livemedia-creator": "/usr/local/bin/lmc"}
		}},
		{"testdata/good/partial.conf", func(c *Config) {
			c.Worker.DataDir = "/data/fbs"
			c.Worker.ISODir = "/data/fbs/isos"
			c.Staging.FileRoot = "/data/fbs/staging"
			c.Kickstarts.SyncDir = "/data/fbs/kickstarts"
			c.Releases = []string{"rawhide"}
			c.Worker.Releases = []string{"rawhide"}
		}},
		// The sample documents the defaults: reading it changes nothing.
		{"fbs.conf", func(c *Config) {}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			got, err := load(tt.file, userEnv.lookup, userHost)
			if err != nil {
				t.Fatal(err)
			}
			want := defaults()
			want.File = tt.file
			tt.want(want)
			if diff := cmp.Diff(want, got, ignoreUnexported); diff != "" {
				t.Errorf("config mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSampleHasEveryKey(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("fbs.conf")
	if err != nil {
		t.Fatal(err)
	}
	section := ""
	present := map[[2]string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		case line != "" && line[0] != '#':
			k, _, _ := strings.Cut(line, "=")
			present[[2]string{section, strings.TrimSpace(k)}] = true
		}
	}
	for _, f := range fields() {
		if !present[[2]string{f.section, f.key}] {
			t.Errorf("fbs.conf lacks [%s] %s", f.section, f.key)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		env  env
		want []string
	}{
		{"testdata/bad/values.conf", userEnv, []string{
			`testdata/bad/values.conf:2: [redis] url: http://redis.example.org: scheme "http" (want redis, rediss, unix or redis-sentinel)`,
			`testdata/bad/values.conf:5: [worker] arch: unknown arch "amd64" (want one of x86_64, aarch64, ppc64le, s390x, i686)`,
			`testdata/bad/values.conf:6: [worker] releases: release 43 is not in [releases] list (41,42,rawhide)`,
			`testdata/bad/values.conf:7: [worker] concurrency: "zero" is not a whole number`,
			`testdata/bad/values.conf:8: [worker] build_timeout: "6 hours" is not a duration (write e.g. 6h, 90m or 1h30m)`,
			`testdata/bad/values.conf:9: [worker] drain_timeout: duration -1m0s must be positive`,
			`testdata/bad/values.conf:10: [worker] lost_builds: "retry" is not one of requeue, fail`,
			`testdata/bad/values.conf:11: [worker] data_dir: "relative/dir" is not an absolute path`,
			`testdata/bad/values.conf:12: [worker] min_free: "2GB" is not a size (write e.g. 2GiB, 512MiB or 0: a whole number of B, KiB, MiB, GiB or TiB)`,
			`testdata/bad/values.conf:15: [web] listen: "5000" is not host:port: address 5000: missing port in address`,
			`testdata/bad/values.conf:16: [web] public_url: "ftp://fbs.example.org" is not an http(s) URL`,
			`testdata/bad/values.conf:19: [smtp] port: port 70000 is out of range 1-65535`,
			`testdata/bad/values.conf:20: [smtp] tls: "ssl" is not one of none, starttls, tls`,
			`testdata/bad/values.conf:21: [smtp] from: "not an address" is not a single mail address`,
			`testdata/bad/values.conf:22: [smtp] username: a user name needs a password: set password_file or FBS_SMTP_PASSWORD`,
			`testdata/bad/values.conf:25: [tools] lorax: "bin/lorax" is neither an absolute path nor a command name`,
		}},
		{"testdata/bad/names.conf", userEnv, []string{
			`testdata/bad/names.conf:1: stray: key stray is outside any section`,
			`testdata/bad/names.conf:3: [worker] concurency: unknown key (known keys in [worker]: arch, releases, concurrency, data_dir, iso_dir, build_timeout, drain_timeout, lost_builds, keep_builds, poll_interval, lease_ttl, reap_interval, min_free)`,
			`testdata/bad/names.conf:5: [worker] concurrency: set again (first on line 4)`,
			`testdata/bad/names.conf:6: [webapp]: unknown section (known sections: redis, worker, web, monitor, smtp, staging, kickstarts, dvd, security, koji, releases, oidc, retention, schedules, tools)`,
			`testdata/bad/names.conf:9: [tools] mkisofs: unknown key (known keys in [tools]: lorax, pungi, livemedia-creator, livecd-creator, xorriso, mkksiso, mcopy, implantisomd5, createrepo_c, koji, ksflatten, dnf)`,
		}},
		{"testdata/bad/syntax.conf", userEnv, []string{
			`testdata/bad/syntax.conf:1: [DEFAULT]: section header has no closing ]`,
			`testdata/bad/syntax.conf:2: [DEFAULT]: not a section header, key = value or comment: "concurrency 2"`,
		}},
		{"testdata/bad/security.conf", userEnv, []string{
			`testdata/bad/security.conf:2: [security] allow_networks: network "10.0.0.0/33": want an address or address/bits`,
		}},
		{"testdata/bad/releases.conf", userEnv, []string{
			`testdata/bad/releases.conf:2: [releases] list: unknown release "f42" (want numbers such as 42, or rawhide, separated by commas)`,
			`testdata/bad/releases.conf:3: [releases] arches: unknown arch "sparc64" (want some of x86_64, aarch64, ppc64le, s390x, i686, separated by commas)`,
		}},
		{"testdata/good/partial.conf", env{"HOME": "/h", "FBS_WORKER_CONCURRENCY": "many", "FBS_SMTP_TLS": "yes", "FBS_WORKER_RELEASES": "41"}, []string{
			`$FBS_WORKER_CONCURRENCY: [worker] concurrency: "many" is not a whole number`,
			`$FBS_SMTP_TLS: [smtp] tls: "yes" is not one of none, starttls, tls`,
			`$FBS_WORKER_RELEASES: [worker] releases: release 41 is not in [releases] list (rawhide)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			c, err := load(tt.file, tt.env.lookup, userHost)
			if err == nil {
				t.Fatalf("Load(%s) = %v, want errors", tt.file, c)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			if diff := cmp.Diff(tt.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load("testdata/no-such.conf", nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want ErrNotExist", err)
	}
}

func TestEnvOverrides(t *testing.T) {
	t.Parallel()
	e := env{
		"HOME":                        "/home/u",
		"FBS_REDIS_URL":               "redis://:pw@127.0.0.1:6379/1",
		"FBS_WORKER_RELEASES":         "rawhide",
		"FBS_WORKER_CONCURRENCY":      "4",
		"FBS_SMTP_HOST":               "mail.example.org",
		"FBS_TOOLS_LIVEMEDIA_CREATOR": "/usr/bin/lmc",
		"FBS_WEB_LISTEN":              "", // empty: the file's value stays
		"FBS_RELEASES_LIST":           "42, rawhide",
		"FBS_WORKER_UNKNOWN":          "ignored: only known keys are looked up",
		"FBS_WORKER_LEASE_TTL":        "3s",
		"FBS_WORKER_REAP_INTERVAL":    "1s",
		"FBS_WORKER_LOST_BUILDS":      "requeue",
	}
	got, err := load("testdata/good/full.conf", e.lookup, userHost)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"redis url", got.Redis.URL, "redis://:pw@127.0.0.1:6379/1"},
		{"worker releases", got.Worker.Releases, []string{"rawhide"}},
		{"concurrency", got.Worker.Concurrency, 4},
		{"smtp host", got.SMTP.Host, "mail.example.org"},
		{"tool", got.Tools["livemedia-creator"], "/usr/bin/lmc"},
		{"tool from file", got.Tools["lorax"], "/opt/lorax/bin/lorax"},
		{"web listen from file", got.Web.Listen, "0.0.0.0:8080"},
		{"releases", got.Releases, []string{"42", "rawhide"}},
		{"lease ttl", got.Worker.LeaseTTL, 3 * time.Second},
		{"reap interval", got.Worker.ReapInterval, time.Second},
		{"lost builds", got.Worker.LostBuilds, tasks.LostRequeue},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s mismatch (-want +got):\n%s", c.name, diff)
		}
	}
}

// TestWorkerTimingMinimums checks the floors of the lease and reap
// durations, which tests and impatient admins set low, and the
// listeners' limits.
func TestWorkerTimingMinimums(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  env
		want string // the error, or "" for none
	}{
		{env{"FBS_WORKER_LEASE_TTL": "3s", "FBS_WORKER_REAP_INTERVAL": "1s"}, ""},
		{env{"FBS_WORKER_LEASE_TTL": "2s"}, "$FBS_WORKER_LEASE_TTL: [worker] lease_ttl: 2s is shorter than the minimum 3s"},
		{env{"FBS_WORKER_REAP_INTERVAL": "500ms"}, "$FBS_WORKER_REAP_INTERVAL: [worker] reap_interval: 500ms is shorter than the minimum 1s"},
		{env{"FBS_WORKER_LEASE_TTL": "0s"}, "$FBS_WORKER_LEASE_TTL: [worker] lease_ttl: 0s is shorter than the minimum 3s"},
		{env{"FBS_WEB_BODY_TIMEOUT": "1s", "FBS_MONITOR_MAX_CONNS_PER_IP": "0"}, ""},
		{env{"FBS_WEB_BODY_TIMEOUT": "0s"}, "$FBS_WEB_BODY_TIMEOUT: [web] body_timeout: 0s is shorter than the minimum 1s"},
		{env{"FBS_MONITOR_BODY_TIMEOUT": "500ms"}, "$FBS_MONITOR_BODY_TIMEOUT: [monitor] body_timeout: 500ms is shorter than the minimum 1s"},
		{env{"FBS_WEB_MAX_CONNS_PER_IP": "-1"}, "$FBS_WEB_MAX_CONNS_PER_IP: [web] max_conns_per_ip: -1 is less than 0"},
	}
	for _, tt := range tests {
		tt.env["HOME"] = "/home/u"
		_, err := load("", tt.env.lookup, userHost)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%v: error %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestPassword(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     env
		want    string
		wantErr string
	}{
		{"file wins over env", env{"HOME": "/h", "FBS_SMTP_PASSWORD_FILE": file, "FBS_SMTP_PASSWORD": "other"}, "s3cret", ""},
		{"env", env{"HOME": "/h", "FBS_SMTP_PASSWORD": "from-env"}, "from-env", ""},
		{"none", env{"HOME": "/h"}, "", ""},
		{"empty file", env{"HOME": "/h", "FBS_SMTP_PASSWORD_FILE": empty}, "", "read SMTP password: " + empty + " is empty"},
		{"missing file", env{"HOME": "/h", "FBS_SMTP_PASSWORD_FILE": filepath.Join(dir, "nope")}, "", "read SMTP password: open " + filepath.Join(dir, "nope") + ": no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := load("", tt.env.lookup, userHost)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.SMTP.Password()
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tt.want || gotErr != tt.wantErr {
				t.Errorf("Password() = %q, %q; want %q, %q", got, gotErr, tt.want, tt.wantErr)
			}
		})
	}
}

// TestDumpHidesSecrets checks that no secret reaches Dump, and that Dump is
// a configuration Load reads back to the same values.
func TestDumpHidesSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "smtp-password")
	if err := os.WriteFile(pwFile, []byte("file-secret-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := env{
		"HOME":                   "/home/u",
		"FBS_REDIS_URL":          "redis://default:redis-secret-2@10.0.0.5:6379/0",
		"FBS_SMTP_USERNAME":      "fbs",
		"FBS_SMTP_PASSWORD":      "env-secret-3",
		"FBS_SMTP_PASSWORD_FILE": pwFile,
		"FBS_WEB_PUBLIC_URL":     "https://user:web-secret-4@fbs.example.org/",
	}
	c, err := load("testdata/good/full.conf", e.lookup, userHost)
	if err != nil {
		t.Fatal(err)
	}
	dump := c.Dump()
	for _, secret := range []string{"file-secret-1", "redis-secret-2", "env-secret-3", "web-secret-4"} {
		if strings.Contains(dump, secret) {
			t.Errorf("Dump shows %q:\n%s", secret, dump)
		}
	}
	for _, want := range []string{
		"url = redis://default:" + masked + "@10.0.0.5:6379/0\n",
		"password_file = " + pwFile + "\n",
		"[tools]\nlorax = /opt/lorax/bin/lorax\n",
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("Dump lacks %q:\n%s", want, dump)
		}
	}
	if c.String() != dump {
		t.Errorf("String() differs from Dump()")
	}

	// Without secrets, the dump reads back to the same configuration.
	c.Redis.URL = "redis://10.0.0.5:6379/0"
	c.Web.PublicURL = "https://fbs.example.org/"
	path := filepath.Join(dir, "dump.conf")
	if err := os.WriteFile(path, []byte(c.Dump()), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := load(path, env{"HOME": "/elsewhere", "FBS_SMTP_PASSWORD": "x"}.lookup, host{goarch: "s390x", euid: 0})
	if err != nil {
		t.Fatalf("Load(Dump()): %v\n%s", err, c.Dump())
	}
	back.File = c.File
	if diff := cmp.Diff(c, back, ignoreUnexported); diff != "" {
		t.Errorf("Load(Dump()) mismatch (-want +got):\n%s", diff)
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	days := 365
	tests := []struct {
		f    field
		val  value
		v    string
		want string
	}{
		{field{key: "client_secret"}, nil, "abc", masked},
		{field{key: "token_max_days"}, integer{&days}, "365", "365"},
		{field{key: "password"}, nil, "abc", masked},
		{field{key: "api_token"}, nil, "abc", masked},
		{field{key: "password_file"}, nil, "/etc/pw", "/etc/pw"},
		{field{key: "hub_url", secret: true}, nil, "https://x", masked},
		{field{key: "url"}, nil, "redis://:pw@h:1/0", "redis://:" + masked + "@h:1/0"},
		{field{key: "url"}, nil, "redis://h:1/0", "redis://h:1/0"},
		{field{key: "url"}, nil, "redis://:pw@h:notaport/0", "redis://:" + masked + "@h:notaport/0"},
	}
	for _, tt := range tests {
		if got := mask(tt.f, tt.val, tt.v); got != tt.want {
			t.Errorf("mask(%s, %q) = %q, want %q", tt.f.key, tt.v, got, tt.want)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{File: "fbs.conf", Line: 3, Section: "worker", Key: "arch", Reason: "bad"}, "fbs.conf:3: [worker] arch: bad"},
		{&Error{Env: "FBS_WORKER_ARCH", Section: "worker", Key: "arch", Reason: "bad"}, "$FBS_WORKER_ARCH: [worker] arch: bad"},
		{&Error{Section: "worker", Key: "arch", Reason: "bad"}, "[worker] arch: bad"},
		{&Error{File: "fbs.conf", Line: 6, Section: "webapp", Reason: "unknown section"}, "fbs.conf:6: [webapp]: unknown section"},
		{&Error{File: "fbs.conf", Reason: "read INI: x"}, "fbs.conf: read INI: x"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	for in, want := range map[[2]string]string{
		{"redis", "url"}:               "FBS_REDIS_URL",
		{"tools", "livemedia-creator"}: "FBS_TOOLS_LIVEMEDIA_CREATOR",
		{"smtp", "password_file"}:      "FBS_SMTP_PASSWORD_FILE",
		{"worker", "releases"}:         "FBS_WORKER_RELEASES",
	} {
		if got := envName(in[0], in[1]); got != want {
			t.Errorf("envName(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}

// TestSecurityEgress checks the policy [security] gives: the allowed
// hosts and networks, nothing else private.
func TestSecurityEgress(t *testing.T) {
	t.Parallel()
	p := Security{AllowHosts: []string{"Mirror.Internal"}, AllowNetworks: []string{"10.20.0.0/16", "192.168.7.5"}}.Egress()
	for host, ok := range map[string]bool{"mirror.internal": true, "10.20.3.4": true, "192.168.7.5": true, "192.168.7.6": false, "10.21.0.1": false, "127.0.0.1": false} {
		if err := p.CheckLiteral(host); (err == nil) != ok {
			t.Errorf("CheckLiteral(%s) = %v, want allowed %v", host, err, ok)
		}
	}
}

// TestRedisSentinelURL checks that a redis-sentinel URL is taken from the
// file and from FBS_REDIS_URL, and that its password is masked in dumps.
func TestRedisSentinelURL(t *testing.T) {
	t.Parallel()
	const file = "redis-sentinel://:file-pw@10.2.0.1:26379,10.2.0.2:26379,10.2.0.3:26379/fbsmaster/2"
	const fromEnv = "redis-sentinel://:env-pw@127.0.0.1:26379,127.0.0.1:26380/m?sentinel_password=sp"
	for _, tt := range []struct {
		name string
		env  env
		want string
	}{
		{"file", env{"HOME": "/home/u"}, file},
		{"environment", env{"HOME": "/home/u", "FBS_REDIS_URL": fromEnv}, fromEnv},
	} {
		got, err := load("testdata/good/sentinel.conf", tt.env.lookup, userHost)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got.Redis.URL != tt.want {
			t.Errorf("%s: [redis] url = %q, want %q", tt.name, got.Redis.URL, tt.want)
		}
		dump := got.Dump()
		for _, secret := range []string{"file-pw", "env-pw", "=sp"} {
			if strings.Contains(dump, secret) {
				t.Errorf("%s: dump shows %q:\n%s", tt.name, secret, dump)
			}
		}
	}
}

// TestParse checks that Parse reads text as Load reads the same file, and
// names the given name in messages.
func TestParse(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"testdata/good/full.conf", "testdata/good/partial.conf"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Load(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(name, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, ignoreUnexported); diff != "" {
			t.Errorf("Parse(%s) mismatch (-want +got):\n%s", name, diff)
		}
	}
	_, err := Parse("/etc/fbs/fbs.conf", []byte("[worker]\nconcurrency = many\n"), nil)
	if got, want := errString(err), `/etc/fbs/fbs.conf:2: [worker] concurrency: "many" is not a whole number`; got != want {
		t.Errorf("Parse error = %q, want %q", got, want)
	}
	if _, err := Parse("empty", nil, nil); err != nil {
		t.Errorf("Parse of no text: %v", err)
	}
}

// TestSize reads and writes sizes such as [worker] min_free.
func TestSize(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want int64
		out  string // String of what was read; "" for an error
	}{
		{"0", 0, "0"},
		{"2GiB", 2 << 30, "2GiB"},
		{" 512 MiB ", 512 << 20, "512MiB"},
		{"1536MiB", 1536 << 20, "1536MiB"},
		{"1024KiB", 1 << 20, "1MiB"},
		{"3TiB", 3 << 40, "3TiB"},
		{"100", 100, "100B"},
		{"100B", 100, "100B"},
		{"2GB", 0, ""},
		{"1.5GiB", 0, ""},
		{"-1MiB", 0, ""},
		{"GiB", 0, ""},
		{"9000000TiB", 0, ""},
	} {
		var n int64
		err := size{&n}.set(tt.in)
		switch {
		case tt.out == "" && err == nil:
			t.Errorf("size %q: read as %d; want an error", tt.in, n)
		case tt.out == "":
		case err != nil:
			t.Errorf("size %q: %v", tt.in, err)
		case n != tt.want || size{&n}.String() != tt.out:
			t.Errorf("size %q = %d, written %q; want %d, %q", tt.in, n, size{&n}.String(), tt.want, tt.out)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
