package tasks_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks"
)

func TestQueueName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		arch, release, want string
	}{
		{"x86_64", "41", "build:x86_64:41"},
		{"aarch64", "rawhide", "build:aarch64:rawhide"},
		{"i686", "17", "build:i686:17"},
	}
	for _, tc := range tests {
		if got := tasks.QueueName(tc.arch, tc.release); got != tc.want {
			t.Errorf("QueueName(%s, %s) = %s, want %s", tc.arch, tc.release, got, tc.want)
		}
		arch, rel, err := tasks.ParseQueueName(tc.want)
		if err != nil || arch != tc.arch || rel != tc.release {
			t.Errorf("ParseQueueName(%s) = %s, %s, %v", tc.want, arch, rel, err)
		}
	}
	for _, bad := range []string{"", "build:x86_64", "build:sparc:41", "build:x86_64:f41", "notify:x86_64:41", "build:x86_64:41:x"} {
		if _, _, err := tasks.ParseQueueName(bad); err == nil {
			t.Errorf("ParseQueueName(%q) accepted", bad)
		}
	}
}

func TestValidRelease(t *testing.T) {
	t.Parallel()
	for r, want := range map[string]bool{"41": true, "rawhide": true, "17": true, "0": false, "041": false, "-1": false, "f41": false, "": false, "Rawhide": false} {
		if got := tasks.ValidRelease(r); got != want {
			t.Errorf("ValidRelease(%q) = %v", r, got)
		}
	}
}

func validSpec() tasks.Spec {
	return tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "41", Staging: "file:///srv/staging",
		KSISO: &tasks.KSISOSpec{ISO: "boot.iso", Config: "minimal.ks"}}
}

func TestSpecValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(s *tasks.Spec)
		field  string // the field path of the first error
		want   string // "" for valid
	}{
		{"valid", func(*tasks.Spec) {}, "", ""},
		{"unknown type", func(s *tasks.Spec) { s.Type = "floppy" }, "type", "unknown image type"},
		{"unknown arch", func(s *tasks.Spec) { s.Arch = "sparc" }, "arch", "unknown arch"},
		{"several arches", func(s *tasks.Spec) { s.Arch = "x86_64,aarch64" }, "", ""},
		{"several arches, spaces", func(s *tasks.Spec) { s.Arch = "x86_64, aarch64 ppc64le" }, "", ""},
		{"unknown arch in a list", func(s *tasks.Spec) { s.Arch = "x86_64,sparc" }, "arch", `unknown arch "sparc"`},
		{"arch twice", func(s *tasks.Spec) { s.Arch = "x86_64,aarch64,x86_64" }, "arch", "arch x86_64 is named twice"},
		{"no arch", func(s *tasks.Spec) { s.Arch = " , " }, "arch", "missing"},
		{"bad release", func(s *tasks.Spec) { s.Release = "f41" }, "release", "unknown release"},
		{"no staging", func(s *tasks.Spec) { s.Staging = "" }, "staging", "missing: where the images go"},
		{"staging scheme", func(s *tasks.Spec) { s.Staging = "gopher://h/x" }, "staging", `unknown scheme "gopher"`},
		{"staging password", func(s *tasks.Spec) { s.Staging = "ftp://me:hunter2@h/x" }, "staging", "carries a password"},
		{"sftp without user", func(s *tasks.Spec) { s.Staging = "sftp://h/x" }, "staging", "has no user"},
		{"email list", func(s *tasks.Spec) { s.Email = "a@x.org, b@x.org" }, "email", "not a single mail address"},
		{"email with name", func(s *tasks.Spec) { s.Email = `"Build Bot" <bot@example.org>` }, "", ""},
		{"wrong section", func(s *tasks.Spec) { s.Live = &tasks.LiveSpec{Config: "x", Builder: tasks.BuilderLiveMedia} }, "type", "exactly the [ksiso] section"},
		{"no kickstart", func(s *tasks.Spec) { s.KSISO.Config = "" }, "kickstart", "needs a kickstart"},
		{"no iso", func(s *tasks.Spec) { s.KSISO.ISO = "" }, "ksiso.iso", "needs a boot ISO"},
		{"good nvr", func(s *tasks.Spec) { s.NVRs = []string{"wget-1.13.4-4.fc17"} }, "", ""},
		{"bad nvr", func(s *tasks.Spec) { s.NVRs = []string{"wget"} }, "nvr", "malformed NVR"},
		{"bad bid", func(s *tasks.Spec) { s.BuildIDs = []string{"12x"} }, "bid", "malformed Koji build ID"},
		{"signed bid", func(s *tasks.Spec) { s.BuildIDs = []string{"+5"} }, "bid", "malformed Koji build ID"},
		{"live builder", func(s *tasks.Spec) {
			s.Type, s.KSISO, s.Live = tasks.TypeLive, nil, &tasks.LiveSpec{Config: "x", Builder: "mkisofs"}
		}, "live.builder", "unknown live builder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			tc.modify(&s)
			err := s.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate = %v, want an error containing %q", err, tc.want)
			}
			var fe *tasks.Error
			if err != nil && (!errors.As(err, &fe) || fe.Field != tc.field || fe.Code != tasks.CodeInvalid) {
				t.Errorf("Validate = %#v, want an invalid error about field %q", fe, tc.field)
			}
		})
	}
}

func TestKojiBuildIDAndISORef(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{"1": true, "2345678": true, "007": true, "0": false, "+5": false, "-3": false, " 5": false, "": false, "1234567890123": false} {
		if got := tasks.ValidKojiBuildID(id); got != want {
			t.Errorf("ValidKojiBuildID(%q) = %v", id, got)
		}
	}
	for ref, want := range map[string]bool{"boot.iso": true, "https://dl.example.org/boot.iso": true, "http://h/x.iso": true,
		"/etc/shadow": false, "../boot.iso": false, "dir/boot.iso": false, `a\b.iso`: false, "..": false, "http:///x.iso": false, "ftp://h/x.iso": false} {
		if err := tasks.CheckISORef(ref, false); (err == nil) != want {
			t.Errorf("CheckISORef(%q, false) = %v", ref, err)
		}
		if err := tasks.CheckISORef(ref, true); err != nil && !strings.Contains(ref, "://") {
			t.Errorf("CheckISORef(%q, true) = %v, want paths accepted", ref, err)
		}
	}
}

func TestBuildIDs(t *testing.T) {
	t.Parallel()
	a, b := tasks.NewBuildID(), tasks.NewBuildID()
	if !tasks.ValidBuildID(a) || a == b {
		t.Fatalf("NewBuildID gave %q and %q", a, b)
	}
	time.Sleep(2 * time.Millisecond)
	if c := tasks.NewBuildID(); c <= a {
		t.Errorf("build IDs do not sort by time: %s after %s", c, a)
	}
	for _, bad := range []string{"", "../../etc/passwd", strings.ToLower(a), a + "x", "01M80T1KM777M013KNEXN3Z1H*", "01M80T1KM777M013KNEXN3Z1H\x00"} {
		if tasks.ValidBuildID(bad) {
			t.Errorf("ValidBuildID(%q) = true", bad)
		}
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	t.Parallel()
	p := &tasks.Payload{ID: tasks.NewBuildID(), Spec: validSpec(), KickstartName: "minimal.ks",
		Kickstart: "text\n", Owner: "alice", SubmittedAt: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	data, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := tasks.DecodePayload(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	for name, bad := range map[string]string{
		"not json": "{",
		"bad id":   `{"id":"x","spec":{}}`,
		"bad spec": `{"id":"` + p.ID + `","spec":{"type":"boot"}}`,
	} {
		if _, err := tasks.DecodePayload([]byte(bad)); err == nil {
			t.Errorf("%s: DecodePayload accepted %s", name, bad)
		}
	}
}

func TestHumanSize(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := tasks.HumanSize(n); got != want {
			t.Errorf("tasks.HumanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestCheckEmail(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{
		"alice@example.org":                    true,
		"Alice <alice@example.org>":            true,
		"Alice <alice@example.org>, b@x.org":   false, // one address: specs and forms refuse lists
		"":                                     false,
		"alice":                                false,
		"alice@example.org\r\nBcc: x@evil.org": false,
		"alice@example.org, bob":               false,
	} {
		if err := tasks.CheckEmail(addr); (err == nil) != ok {
			t.Errorf("CheckEmail(%q) = %v", addr, err)
		}
	}
}
