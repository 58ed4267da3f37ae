package submission_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/submission"
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
