package pipeline_test

import (
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/worker/builder"
	"github.com/fedora-fbs/fbs/worker/pipeline"
	"github.com/fedora-fbs/fbs/worker/staging"
)

// TestDVDReposChecked: dnf and lorax connect to a DVD's release
// repositories by themselves, so the worker checks their hosts against the
// policy just before they run. A loopback repository is refused by the
// default policy before any tool starts; a file:// mirror passes (and the
// build then goes on to lorax, missing here).
func TestDVDReposChecked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	repos := map[string][]string{
		"loopback": {"http://127.0.0.1:9/releases/$releasever/os/"},
		"mirror":   {"file:///srv/mirror/fedora/41/x86_64/os/"},
	}
	for name, urls := range repos {
		p, err := pipeline.New(pipeline.Config{
			DataDir: filepath.Join(dir, name), Staging: staging.Options{FileRoot: dir},
			Tools:    builder.Tools{"lorax": "/nonexistent/lorax"},
			DVDRepos: func(release, arch string) []string { return urls },
			Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		f := &fixture{pipe: p, dir: dir}
		res, _, err := f.run(t, &tasks.Payload{Owner: "t", KickstartName: "dvd.ks", Kickstart: "%packages\nkernel\n%end\n",
			Spec: tasks.Spec{Type: tasks.TypeDVD, Arch: "x86_64", Release: "41", Staging: "file://" + dir,
				DVD: &tasks.DVDSpec{Name: "Fedora", Version: "41", Flavor: "Server", Config: "dvd.ks"}}})
		if res.Failed != tasks.StageBuild {
			t.Fatalf("%s: failed in %q: %v, want the build stage", name, res.Failed, err)
		}
		var te *builder.ToolError
		switch name {
		case "loopback":
			if !errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), "[dvd] repos") {
				t.Errorf("loopback repository: %v, want it refused by the policy", err)
			}
		case "mirror":
			if !errors.As(err, &te) || te.Tool != "lorax" {
				t.Errorf("file:// mirror: %v, want the check passed and lorax missing", err)
			}
		}
	}
}
