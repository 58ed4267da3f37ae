package builder

import (
	"errors"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/google/go-cmp/cmp"
)

// commander is what every builder implements for these tests.
type commander interface {
	command(job *Job) ([]string, error)
}

func bootSpec() tasks.Spec {
	return tasks.Spec{
		Type: tasks.TypeBoot, Arch: "x86_64", Release: "41", Staging: "file:///srv/staging",
		Boot: &tasks.BootSpec{
			Product: "fedora", Release: "41", Version: "41",
			Repos: []tasks.Repo{
				{Name: "41", URL: "http://dl.example/releases/41/Everything/x86_64/os", Mirror: "https://mirrors.example/metalink?repo=fedora-41&arch=x86_64"},
				{Name: "41-updates", URL: "http://dl.example/updates/41/Everything/x86_64"},
				{Name: "41-updates-testing", Mirror: "https://mirrors.example/metalink?repo=updates-testing-f41&arch=x86_64"},
			},
		},
	}
}

func TestCommand(t *testing.T) {
	t.Parallel()
	withUpdates := bootSpec()
	withUpdates.Boot.Updates, withUpdates.Boot.UpdatesTesting = true, true
	withUpdates.Boot.Proxy = "http://proxy.example:3128"

	dvd := tasks.Spec{Type: tasks.TypeDVD, Arch: "x86_64", Release: "41", Staging: "file:///s",
		DVD: &tasks.DVDSpec{Name: "Fedora", Version: "41", Flavor: "Custom", Config: "f.ks"}}
	dvdAll := dvd
	dvdAll.DVD = &tasks.DVDSpec{Name: "Fedora", Version: "41", Flavor: "Custom", Config: "f.ks",
		BugURL: "https://bugz.example", NoSource: true, SourceISOs: true, Force: true, Stage: "-B"}

	live := tasks.Spec{Type: tasks.TypeLive, Arch: "x86_64", Release: "41", Staging: "file:///s",
		Live: &tasks.LiveSpec{Label: "Fedora-Live 41", Title: "Fedora Live", Product: "Fedora", ReleaseVer: "41",
			Config: "live.ks", Builder: tasks.BuilderLiveMedia}}
	liveCDSpec := live
	lc := *live.Live
	lc.Builder = tasks.BuilderLiveCD
	liveCDSpec.Live = &lc

	job := func(s tasks.Spec) *Job {
		return &Job{ID: "01J", Spec: s, Kickstart: "/w/ks/flat.ks", WorkDir: "/w/work", OutDir: "/w/out"}
	}
	dvdJob := func(s tasks.Spec) *Job {
		j := job(s)
		j.Repos = []tasks.Repo{{Name: "release1", URL: "https://dl.example/releases/41/Everything/x86_64/os/"}}
		return j
	}
	dvdSide := dvdJob(dvdAll)
	dvdSide.SideRepos = []string{"file:///w/side"}
	side := job(bootSpec())
	side.SideRepos = []string{"file:///w/side"}

	tests := []struct {
		name string
		job  *Job
		want []string
	}{
		{"lorax, release only", job(bootSpec()), []string{"lorax",
			"-p", "fedora", "-v", "41", "-r", "41",
			"-s", "http://dl.example/releases/41/Everything/x86_64/os",
			"--buildarch", "x86_64", "--tmp", "/w/work", "--logfile", "/w/work/lorax.log", "/w/work/lorax-result"}},
		{"lorax, updates, mirror, proxy", job(withUpdates), []string{"lorax",
			"-p", "fedora", "-v", "41", "-r", "41",
			"-s", "http://dl.example/releases/41/Everything/x86_64/os",
			"-s", "http://dl.example/updates/41/Everything/x86_64",
			"--mirrorlist", "https://mirrors.example/metalink?repo=updates-testing-f41&arch=x86_64",
			"--proxy", "http://proxy.example:3128",
			"--buildarch", "x86_64", "--tmp", "/w/work", "--logfile", "/w/work/lorax.log", "/w/work/lorax-result"}},
		{"lorax, side repo", side, []string{"lorax",
			"-p", "fedora", "-v", "41", "-r", "41",
			"-s", "http://dl.example/releases/41/Everything/x86_64/os",
			"-s", "file:///w/side",
			"--buildarch", "x86_64", "--tmp", "/w/work", "--logfile", "/w/work/lorax.log", "/w/work/lorax-result"}},
		{"dvd, defaults", dvdJob(dvd), []string{"lorax",
			"-p", "Fedora", "-v", "41", "-r", "41", "-t", "Custom",
			"-s", "https://dl.example/releases/41/Everything/x86_64/os/",
			"--buildarch", "x86_64", "--volid", "Fedora-Custom-41-x86_64", "--nomacboot",
			"--tmp", "/w/work", "--logfile", "/w/work/lorax.log", "/w/work/dvd-tree"}},
		{"dvd, every option, side repo", dvdSide, []string{"lorax",
			"-p", "Fedora", "-v", "41", "-r", "41", "-t", "Custom", "-b", "https://bugz.example",
			"-s", "https://dl.example/releases/41/Everything/x86_64/os/",
			"-s", "file:///w/side",
			"--buildarch", "x86_64", "--volid", "Fedora-Custom-41-x86_64", "--nomacboot",
			"--tmp", "/w/work", "--logfile", "/w/work/lorax.log", "/w/work/dvd-tree"}},
		{"livemedia-creator", job(live), []string{"livemedia-creator",
			"--make-iso", "--no-virt", "--iso-only", "--iso-name", "Fedora-Live-41.iso",
			"--ks", "/w/ks/flat.ks", "--project", "Fedora", "--releasever", "41",
			"--volid", "Fedora-Live 41", "--resultdir", "/w/work/lmc-result", "--tmp", "/w/work",
			"--logfile", "/w/work/livemedia.log"}},
		{"livecd-creator", job(liveCDSpec), []string{"livecd-creator",
			"--config", "/w/ks/flat.ks", "--fslabel", "Fedora-Live 41", "--title", "Fedora Live",
			"--product", "Fedora", "--releasever", "41",
			"--tmpdir", "/w/work/tmp", "--cache", "/w/work/cache", "--logfile", "/w/work/livecd-creator.log"}},
	}
	for _, tt := range tests {
		b, err := New(&tt.job.Spec, nil)
		if err != nil {
			t.Fatalf("%s: New: %v", tt.name, err)
		}
		if !strings.HasPrefix(b.Name(), tt.want[0]) {
			t.Errorf("%s: Name() = %q, want %q", tt.name, b.Name(), tt.want[0])
		}
		got, err := b.(commander).command(tt.job)
		if err != nil {
			t.Errorf("%s: command: %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: command (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestCommandErrors(t *testing.T) {
	t.Parallel()
	mirrorOnly := bootSpec()
	mirrorOnly.Boot.Repos = []tasks.Repo{{Name: "41", Mirror: "https://mirrors.example/metalink"}}
	noRepos := tasks.Spec{Type: tasks.TypeDVD, Arch: "x86_64", Release: "41", Staging: "file:///s",
		DVD: &tasks.DVDSpec{Name: "F", Version: "41", Flavor: "C", Config: "f.ks"}}
	longLabel := tasks.Spec{Type: tasks.TypeLive, Arch: "x86_64", Release: "41", Staging: "file:///s",
		Live: &tasks.LiveSpec{Label: strings.Repeat("L", 33), Config: "l.ks", Builder: tasks.BuilderLiveMedia}}
	slashLabel := tasks.Spec{Type: tasks.TypeLive, Arch: "x86_64", Release: "41", Staging: "file:///s",
		Live: &tasks.LiveSpec{Label: "a/b", Config: "l.ks", Builder: tasks.BuilderLiveCD}}
	tests := []struct {
		name string
		spec tasks.Spec
		want string
	}{
		{"lorax without base URL", mirrorOnly, "no repository base URL"},
		{"dvd without release repositories", noRepos, "see [dvd] repos"},
		{"label too long", longLabel, "longer than 32"},
		{"label with slash", slashLabel, `label "a/b" cannot name a file`},
	}
	for _, tt := range tests {
		b, err := New(&tt.spec, nil)
		if err != nil {
			t.Fatalf("%s: New: %v", tt.name, err)
		}
		_, err = b.(commander).command(&Job{Spec: tt.spec, Kickstart: "/k", WorkDir: "/w", OutDir: "/o"})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec tasks.Spec
		want string
	}{
		{"missing section", tasks.Spec{Type: tasks.TypeDVD}, "no [dvd] section"},
		{"unknown type", tasks.Spec{Type: "floppy"}, `unknown image type "floppy"`},
		{"unknown live builder", tasks.Spec{Type: tasks.TypeLive, Live: &tasks.LiveSpec{Builder: "kiwi"}}, `unknown live builder "kiwi"`},
	}
	for _, tt := range tests {
		_, err := New(&tt.spec, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestToolErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  ToolError
		want string
	}{
		{ToolError{Tool: "xorriso", Fedora: "xorriso", Debian: "xorriso"},
			`xorriso not found in PATH: install it with "dnf install xorriso" (Fedora) or "apt-get install xorriso" (Debian)`},
		{ToolError{Tool: "lorax", Fedora: "lorax"},
			`lorax not found in PATH: install it with "dnf install lorax" (Fedora); Debian has no package for it`},
		{ToolError{Tool: "mcopy", Fedora: "mtools", Debian: "mtools", Path: "/opt/bin/mcopy"},
			`mcopy not found at /opt/bin/mcopy: install it with "dnf install mtools" (Fedora) or "apt-get install mtools" (Debian)`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q\nwant      %q", got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	ks := tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "41", Staging: "file:///s",
		KSISO: &tasks.KSISOSpec{ISO: "boot.iso", Config: "k.ks"}}
	err := Check(&ks, Tools{"mcopy": "/nonexistent/bin/mcopy"})
	var te *ToolError
	if !errors.As(err, &te) {
		t.Fatalf("Check with a missing mcopy = %v, want a *ToolError", err)
	}
	want := ToolError{Tool: "mcopy", Fedora: "mtools", Debian: "mtools", Path: "/nonexistent/bin/mcopy"}
	if diff := cmp.Diff(want, *te); diff != "" {
		t.Errorf("ToolError (-want +got):\n%s", diff)
	}

	tools := Tools{"lorax": "/nonexistent/lorax",
		"livemedia-creator": "/nonexistent/lmc", "livecd-creator": "/nonexistent/lcc"}
	for _, s := range []tasks.Spec{bootSpec(),
		{Type: tasks.TypeDVD, DVD: &tasks.DVDSpec{}},
		{Type: tasks.TypeLive, Live: &tasks.LiveSpec{Builder: tasks.BuilderLiveMedia}},
		{Type: tasks.TypeLive, Live: &tasks.LiveSpec{Builder: tasks.BuilderLiveCD}},
	} {
		err := Check(&s, tools)
		if !errors.As(err, &te) || te.Debian != "" {
			t.Errorf("Check(%s) = %v, want a *ToolError with no Debian package", s.Type, err)
		}
	}
}
