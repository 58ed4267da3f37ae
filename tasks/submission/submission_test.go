package submission_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/kickstarts"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/submission"
	"github.com/fedora-fbs/fbs/testing/kstest"
)

const ks = "lang en_US.UTF-8\nkeyboard us\ntimezone UTC\n"

func ksisoSpec(iso, config string) tasks.Spec {
	return tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "41", Staging: "file:///srv/fbs/out",
		KSISO: &tasks.KSISOSpec{ISO: iso, Config: config}}
}

// fields returns the field paths of Prepare's field errors.
func fields(t *testing.T, err error) []string {
	t.Helper()
	var fe tasks.Errors
	if !errors.As(err, &fe) {
		t.Fatalf("Prepare = %v, want field errors", err)
	}
	var out []string
	for _, e := range fe {
		out = append(out, e.Field+" "+e.Code)
	}
	return out
}

func TestPrepareRefuses(t *testing.T) {
	t.Parallel()
	web := submission.Config{Releases: []string{"41", "rawhide"}, Staging: &tasks.StagingPolicy{Remote: true, FileRoot: "/srv/fbs"},
		MaxFiles: 2, MaxKickstart: 100}
	upload := map[string][]byte{"a.ks": []byte(ks)}
	for _, tc := range []struct {
		name  string
		cfg   submission.Config
		spec  func(*tasks.Spec)
		files map[string][]byte
		want  []string // field path and code of each error, in order
	}{
		{"every field at once", web, func(s *tasks.Spec) { s.Email, s.Arch, s.Release = "nope", "sparc", "40" }, upload,
			[]string{"arch invalid", "release invalid", "email invalid"}},
		{"release and arch not offered", submission.Config{Releases: []string{"41", "42"}, Arches: []string{"x86_64", "aarch64"}},
			func(s *tasks.Spec) { s.Arch, s.Release = "i686", "17" }, upload, []string{"arch invalid", "release invalid"}},
		{"one of the arches not offered", submission.Config{Arches: []string{"x86_64", "aarch64"}},
			func(s *tasks.Spec) { s.Arch = "x86_64,ppc64le" }, upload, []string{"arch invalid"}},
		{"several arches built here", submission.Config{HostArch: "x86_64"},
			func(s *tasks.Spec) { s.Arch = "x86_64,i686" }, upload, []string{"arch invalid"}},
		{"foreign arch built here", submission.Config{HostArch: "x86_64"},
			func(s *tasks.Spec) {
				s.Type, s.Arch, s.KSISO = tasks.TypeLive, "aarch64", nil
				s.Live = &tasks.LiveSpec{Label: "L", Config: "a.ks", Builder: tasks.BuilderLiveMedia}
			}, upload, []string{"arch invalid"}},
		{"staging outside file_root", web, func(s *tasks.Spec) { s.Staging = "file:///etc" }, upload, []string{"staging invalid"}},
		{"staging password", web, func(s *tasks.Spec) { s.Staging = "ftp://u:pw@h/x" }, upload, []string{"staging invalid"}},
		{"ISO path on a worker", web, func(s *tasks.Spec) { s.KSISO.ISO = "/etc/shadow" }, upload, []string{"ksiso.iso invalid"}},
		{"mkksiso options", web, func(s *tasks.Spec) {
			s.KSISO.RmArgs, s.KSISO.VolID, s.KSISO.Updates = "console=tty0", "Test Only", "/srv/u.img"
			s.KSISO.Add, s.KSISO.Replace = []string{"../x"}, []tasks.Replace{{From: "quiet", To: "}"}}
		}, upload, []string{"ksiso.rm_args invalid", "ksiso.volid invalid", "ksiso.updates invalid", "ksiso.add invalid", "ksiso.replace invalid"}},
		{"add path from fbs build --local", submission.Config{LocalFiles: true}, func(s *tasks.Spec) { s.KSISO.Add = []string{"/srv/repo"} }, upload, []string{"ksiso.add invalid"}},
		{"ISO path from fbs submit", submission.Config{LocalKickstarts: true}, func(s *tasks.Spec) { s.KSISO.ISO = "isos/boot.iso" }, upload, []string{"ksiso.iso invalid"}},
		{"too many files", web, func(*tasks.Spec) {}, map[string][]byte{"a.ks": []byte(ks), "b.ks": nil, "c.ks": nil}, []string{"kickstart too_large"}},
		{"file too large", web, func(*tasks.Spec) {}, map[string][]byte{"a.ks": []byte(strings.Repeat("#", 101))}, []string{"kickstart too_large"}},
		{"file name", web, func(*tasks.Spec) {}, map[string][]byte{"a.ks": []byte(ks), "../b.ks": nil}, []string{"kickstart invalid"}},
		{"kickstart not uploaded", web, func(s *tasks.Spec) { s.KSISO.Config = "b.ks" }, upload, []string{"kickstart invalid"}},
		{"kickstart path on the server", web, func(s *tasks.Spec) { s.KSISO.Config = "/etc/passwd" }, nil, []string{"kickstart invalid"}},
		{"kickstart does not parse", web, func(*tasks.Spec) {}, map[string][]byte{"a.ks": []byte("%packages\n@core\n")}, []string{"kickstart invalid_kickstart"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := ksisoSpec("boot.iso", "a.ks")
			tc.spec(&s)
			_, err := submission.New(tc.cfg).Prepare(context.Background(), submission.Request{Spec: s, Owner: "alice"}, tc.files)
			if d := cmp.Diff(tc.want, fields(t, err)); d != "" {
				t.Errorf("errors (-want +got):\n%s\n%v", d, err)
			}
		})
	}
}

func TestPrepareLocal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "my.ks"), []byte(ks), 0o644); err != nil {
		t.Fatal(err)
	}
	// `fbs build --local`: the ISO and the kickstart are files beside the spec.
	p := submission.New(submission.Config{LocalFiles: true, LocalKickstarts: true})
	pr, err := p.Prepare(context.Background(), submission.Request{Spec: ksisoSpec("isos/boot.iso", "my.ks"), Owner: "alice", Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pl := pr.Payload
	// An x86_64 machine runs i686 programs: it builds i686 images.
	i686 := ksisoSpec("isos/boot.iso", "my.ks")
	i686.Type, i686.Arch, i686.KSISO = tasks.TypeLive, "i686", nil
	i686.Live = &tasks.LiveSpec{Label: "L", Config: "my.ks", Builder: tasks.BuilderLiveMedia}
	if _, err := submission.New(submission.Config{LocalFiles: true, LocalKickstarts: true, HostArch: "x86_64"}).Prepare(
		context.Background(), submission.Request{Spec: i686, Owner: "alice", Dir: dir}, nil); err != nil {
		t.Errorf("live image for i686 built on x86_64: %v", err)
	}
	// A ksiso remasters an ISO: it builds here for any arch.
	foreign := ksisoSpec("isos/boot.iso", "my.ks")
	foreign.Arch = "aarch64"
	if _, err := submission.New(submission.Config{LocalFiles: true, LocalKickstarts: true, HostArch: "x86_64"}).Prepare(
		context.Background(), submission.Request{Spec: foreign, Owner: "alice", Dir: dir}, nil); err != nil {
		t.Errorf("ksiso for aarch64 built on x86_64: %v", err)
	}
	if pl.Spec.KSISO.ISO != filepath.Join(dir, "isos/boot.iso") || !strings.Contains(pl.Kickstart, "keyboard us") ||
		pl.KickstartName != "my.ks" || pl.Owner != "alice" || !tasks.ValidBuildID(pl.ID) {
		t.Errorf("payload %+v", pl)
	}
	// The web app: the same kickstart uploaded.
	web := submission.New(submission.Config{Staging: &tasks.StagingPolicy{Remote: true, FileRoot: "/srv/fbs"}})
	pr, err = web.Prepare(context.Background(), submission.Request{Spec: ksisoSpec("boot.iso", "my.ks"), Owner: "bob"},
		map[string][]byte{"my.ks": []byte(ks)})
	if err != nil || !strings.Contains(pr.Payload.Kickstart, "keyboard us") {
		t.Fatalf("Prepare with an upload: %v", err)
	}
}

// A spin includes Fedora's kickstarts, found among the release's standard
// kickstarts, and is read with the release's syntax.
func TestPrepareRelease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := submission.New(submission.Config{Kickstarts: kickstarts.Library{SiteDir: kstest.FedoraDir(t)}})
	prepare := func(release, config string, files map[string][]byte) (*submission.Prepared, error) {
		s := ksisoSpec("boot.iso", config)
		s.Release = release
		return p.Prepare(ctx, submission.Request{Spec: s, Owner: "alice"}, files)
	}
	spin := map[string][]byte{"spin.ks": []byte("%include fedora-live-base.ks\nrootpw --lock\n")}
	pr, err := prepare("41", "spin.ks", spin)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pr.Payload.Kickstart, "\n#version=F41\n") || !strings.Contains(pr.Payload.Kickstart, "dracut-live") {
		t.Errorf("flattened spin:\n%s", pr.Payload.Kickstart)
	}
	pr, err = prepare("rawhide", "fedora-live-xfce", nil)
	if err != nil || !strings.Contains(pr.Payload.Kickstart, "\n#version=DEVEL\n") || !strings.Contains(pr.Payload.Kickstart, "@^xfce-desktop-environment") {
		t.Errorf("fedora-live-xfce by name for rawhide: %v", err)
	}
	rdp := map[string][]byte{"a.ks": []byte("rdp --username=u\n")}
	if _, err := prepare("43", "a.ks", rdp); err != nil {
		t.Errorf("rdp for release 43: %v", err)
	}
	for _, tc := range []struct {
		release, config string
		files           map[string][]byte
		want            string
	}{
		{"41", "a.ks", rdp, "kickstart invalid_kickstart"},      // rdp is new in F43
		{"39", "a.ks", rdp, "kickstart invalid_kickstart"},      // read with F40's syntax, the oldest
		{"41", "fedora-live-nowhere", nil, "kickstart invalid"}, // not a standard kickstart
		{"41", "spin.ks", map[string][]byte{"spin.ks": []byte("%include nope.ks\n")}, "kickstart invalid_kickstart"},
	} {
		_, err := prepare(tc.release, tc.config, tc.files)
		if got := fields(t, err); len(got) != 1 || got[0] != tc.want {
			t.Errorf("release %s, %s: errors %v, want %s (%v)", tc.release, tc.config, got, tc.want, err)
		}
	}
}

// TestPrepareGroup prepares a request naming three arches: one payload
// per arch, in the order named, each with one arch, its own build ID, the
// group's ID and the same flattened kickstart.
func TestPrepareGroup(t *testing.T) {
	t.Parallel()
	p := submission.New(submission.Config{Arches: []string{"x86_64", "aarch64", "ppc64le"}})
	sp := ksisoSpec("boot.iso", "a.ks")
	sp.Arch = "aarch64, x86_64,ppc64le"
	pr, err := p.Prepare(context.Background(), submission.Request{Spec: sp, Owner: "alice"}, map[string][]byte{"a.ks": []byte(ks)})
	if err != nil {
		t.Fatal(err)
	}
	if !pr.IsGroup() || !tasks.ValidBuildID(pr.Group) || pr.Payload != pr.Payloads[0] || pr.Arches() != "aarch64,x86_64,ppc64le" {
		t.Fatalf("prepared: group %q, arches %s", pr.Group, pr.Arches())
	}
	ids := map[string]bool{}
	for i, pl := range pr.Payloads {
		want := []string{"aarch64", "x86_64", "ppc64le"}[i]
		if pl.Spec.Arch != want || pl.Group != pr.Group || pl.Owner != "alice" || pl.Kickstart != pr.Payload.Kickstart || pl.Kickstart == "" {
			t.Errorf("payload %d: arch %s group %s owner %s", i, pl.Spec.Arch, pl.Group, pl.Owner)
		}
		if pl.Spec.Queue() != "build:"+want+":41" {
			t.Errorf("payload %d queue %s", i, pl.Spec.Queue())
		}
		ids[pl.ID] = true
	}
	if len(ids) != 3 {
		t.Errorf("%d distinct build IDs, want 3", len(ids))
	}
	// One arch, even written as a list of one, is no group.
	sp.Arch = "x86_64,"
	pr, err = p.Prepare(context.Background(), submission.Request{Spec: sp, Owner: "alice"}, map[string][]byte{"a.ks": []byte(ks)})
	if err != nil {
		t.Fatal(err)
	}
	if pr.IsGroup() || len(pr.Payloads) != 1 || pr.Payload.Spec.Arch != "x86_64" || pr.Payload.Group != "" {
		t.Errorf("one arch: group %q, %d payloads, arch %q", pr.Group, len(pr.Payloads), pr.Payload.Spec.Arch)
	}
}
