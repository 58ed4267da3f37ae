package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/cli"
	"github.com/fedora-fbs/fbs/tasks/version"
	"github.com/fedora-fbs/fbs/worker"
)

func run(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code = cli.Main(context.Background(), args, cli.Env{Stdout: &out, Stderr: &errb, LookupEnv: lookup})
	return out.String(), errb.String(), code
}

// configs writes two configurations into a temporary directory: cfg, good
// (its data dir is dir), and badCfg, with an unknown key
// ("concurency") on line 2.
func configs(t *testing.T) (dir, cfg, badCfg string) {
	t.Helper()
	dir = t.TempDir()
	cfg = filepath.Join(dir, "fbs.conf")
	if err := os.WriteFile(cfg, []byte("[worker]\ndata_dir = "+dir+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badCfg = filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(badCfg, []byte("[worker]\nconcurency = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, cfg, badCfg
}

func TestCommandErrors(t *testing.T) {
	t.Parallel()
	dir, cfg, badCfg := configs(t)
	// Specs the submission path refuses: the CLI names file, line and key.
	spec := func(name, iso, staging string) string {
		p := filepath.Join(dir, name)
		text := "[DEFAULT]\ntype=ksiso\narch=x86_64\nrelease=42\nstaging=" + staging + "\n[ksiso]\niso=" + iso + "\nconfig=nowhere.ks\n"
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	localISO := spec("local-iso.conf", "isos/boot.iso", "file://"+dir+"/out")
	outside := spec("outside.conf", "boot.iso", "file:///etc/fbs")
	noKS := spec("no-ks.conf", "boot.iso", "ftp://stage.example.org/pub")
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Release 17 and arch i686 are not offered ([releases] list and arches).
	oldRelease := write("f17.conf", strings.Replace(readFile(t, noKS), "release=42", "release=17", 1))
	i686 := write("i686.conf", strings.Replace(readFile(t, noKS), "arch=x86_64", "arch=i686", 1))
	// lorax, pungi and livemedia-creator build only for the arch they run on.
	foreign := "aarch64"
	if worker.HostArch() == foreign {
		foreign = "x86_64"
	}
	liveForeign := write("live-foreign.conf", "[DEFAULT]\ntype=live\narch="+foreign+"\nrelease=42\nstaging=file://"+dir+"/out\n[live]\nlabel=Test\nconfig=nowhere.ks\n")
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"submit a local ISO", []string{"submit", "--config", cfg, localISO}, 1, "local-iso.conf:7: [ksiso] iso: boot ISO \"isos/boot.iso\" is a path"},
		{"submit outside file_root", []string{"submit", "--config", cfg, outside}, 1, "outside.conf:5: [DEFAULT] staging: staging URL file:///etc/fbs: /etc/fbs is outside the staging root"},
		{"submit without the kickstart", []string{"submit", "--config", cfg, noKS}, 1, "no-ks.conf:8: [ksiso] config:"},
		{"submit release 17", []string{"submit", "--config", cfg, oldRelease}, 1, "f17.conf:4: [DEFAULT] release: release \"17\" is not offered: want one of 41, 42, rawhide"},
		{"submit arch i686", []string{"submit", "--config", cfg, i686}, 1, "i686.conf:3: [DEFAULT] arch: arch \"i686\" is not offered: want one of x86_64, aarch64, ppc64le, s390x"},
		{"build a live image for another arch", []string{"build", "--config", cfg, "--local", liveForeign}, 1,
			"live-foreign.conf:3: [DEFAULT] arch: a live image for " + foreign + " cannot be built on this " + worker.HostArch() + " machine"},
		{"status needs an ID", []string{"status", "--config", cfg, "../../etc/passwd"}, 1, "is not a build ID"},
		{"logs needs an ID", []string{"logs", "--config", cfg}, 1, "takes one build ID"},
		{"build without --local", []string{"build", "--config", cfg, "x.conf"}, 1, "give --local"},
		{"missing spec", []string{"build", "--config", cfg, "--local", filepath.Join(dir, "nope.conf")}, 1, "nope.conf"},
		{"config typo", []string{"list", "--config", badCfg}, 1, "concurency"},
		{"unknown command", []string{"frobnicate"}, 1, "unknown command"},
		{"ks sync needs a release", []string{"ks", "sync", "--config", cfg}, 1, "--release is required"},
		{"ks sync of a bad release", []string{"ks", "sync", "--config", cfg, "--release", "f41", "--from", dir}, 1, `release "f41": want a number`},
		{"ks flatten of a bad release", []string{"ks", "flatten", "--config", cfg, "--release", "f41", noKS}, 1, `release "f41": want a number`},
		{"redis down", []string{"list", "--config", cfg, "--redis", "redis://127.0.0.1:1/0"}, 1, "Redis"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := run(t, nil, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
}

// TestRedisCommandsErrors runs every command that loads the configuration,
// connects to Redis and acts there: a mistake in the configuration is
// reported with its file, line and key, an unreachable Redis with its URL,
// and nothing is printed on stdout.
func TestRedisCommandsErrors(t *testing.T) {
	t.Parallel()
	_, cfg, badCfg := configs(t)
	const id = "01M8ESHFSRX54WAFXDAZBKCMQ9"
	commands := [][]string{
		{"status", id}, {"logs", id}, {"cancel", id}, {"list"}, {"workers"}, {"gc"},
		{"queue", "pause", "build:x86_64:42"}, {"queue", "resume", "build:x86_64:42"}, {"queue", "paused"},
		{"worker", "pause", "host1"}, {"worker", "resume", "host1"},
		{"schedule", "list"}, {"schedule", "show", id}, {"schedule", "pause", id}, {"schedule", "resume", id}, {"schedule", "delete", id},
	}
	for _, c := range commands {
		for _, tc := range []struct {
			name  string
			flags []string
			want  string
		}{
			{"config typo", []string{"--config", badCfg}, "fbs: " + badCfg + ":2: [worker] concurency: unknown key"},
			{"redis down", []string{"--config", cfg, "--redis", "redis://127.0.0.1:1/0"}, "fbs: connect to Redis at redis://127.0.0.1:1/0: "},
		} {
			t.Run(strings.Join(c, " ")+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				stdout, stderr, code := run(t, nil, append(append([]string{}, c...), tc.flags...)...)
				if code != 1 || !strings.HasPrefix(stderr, tc.want) || stdout != "" {
					t.Errorf("exit %d, stdout %q, stderr %q; want exit 1, no stdout and stderr starting %q", code, stdout, stderr, tc.want)
				}
			})
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestVersion(t *testing.T) {
	t.Parallel()
	out, _, code := run(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "fbs "+version.Release()) {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestEnvOverridesRedis(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, stderr, code := run(t, map[string]string{"FBS_REDIS_URL": "redis://127.0.0.1:1/0", "FBS_WORKER_DATA_DIR": dir}, "list")
	if code == 0 || !strings.Contains(stderr, "127.0.0.1:1") {
		t.Errorf("FBS_REDIS_URL not used: %d %q", code, stderr)
	}
}
