package tasks_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
)

// TestSpecLimits checks each free-text field at its limit (accepted) and
// one past it (refused, naming the field, without quoting the value).
func TestSpecLimits(t *testing.T) {
	t.Parallel()
	boot := func(s *tasks.Spec) *tasks.BootSpec {
		s.Type, s.KSISO = tasks.TypeBoot, nil
		s.Boot = &tasks.BootSpec{Product: "Fedora", Release: "41", Version: "41"}
		return s.Boot
	}
	dvd := func(s *tasks.Spec) *tasks.DVDSpec {
		s.Type, s.KSISO = tasks.TypeDVD, nil
		s.DVD = &tasks.DVDSpec{Name: "Fedora", Version: "41", Flavor: "Server", Config: "x.ks"}
		return s.DVD
	}
	live := func(s *tasks.Spec) *tasks.LiveSpec {
		s.Type, s.KSISO = tasks.TypeLive, nil
		s.Live = &tasks.LiveSpec{Label: "L", Config: "x.ks", Builder: tasks.BuilderLiveMedia}
		return s.Live
	}
	email := func(n int) string { return strings.Repeat("a", n-len("@example.org")) + "@example.org" }
	list := func(n int, v string) []string {
		l := make([]string, n)
		for i := range l {
			l[i] = v
		}
		return l
	}
	// Each case sets a field to a value of length n; over is the first
	// length refused.
	tests := []struct {
		field string
		over  int
		set   func(s *tasks.Spec, n int)
	}{
		{tasks.FieldEmail, tasks.MaxEmail + 1, func(s *tasks.Spec, n int) { s.Email = email(n) }},
		{tasks.FieldStaging, tasks.MaxURL + 1, func(s *tasks.Spec, n int) { s.Staging = "file:///" + strings.Repeat("s", n-8) }},
		{tasks.FieldKickstart, tasks.MaxURL + 1, func(s *tasks.Spec, n int) { s.KSISO.Config = strings.Repeat("k", n) }},
		{tasks.FieldISO, tasks.MaxURL + 1, func(s *tasks.Spec, n int) { s.KSISO.ISO = strings.Repeat("i", n-4) + ".iso" }},
		{"ksiso.cmdline", tasks.MaxCmdline + 1, func(s *tasks.Spec, n int) { s.KSISO.Cmdline = strings.Repeat("q", n) }},
		{"boot.product", tasks.MaxName + 1, func(s *tasks.Spec, n int) { boot(s).Product = strings.Repeat("p", n) }},
		{"boot.version", tasks.MaxName + 1, func(s *tasks.Spec, n int) { boot(s).Version = strings.Repeat("1", n) }},
		{"boot.proxy", tasks.MaxURL + 1, func(s *tasks.Spec, n int) { boot(s).Proxy = "http://" + strings.Repeat("p", n-7) }},
		{"boot", tasks.MaxURL + 1, func(s *tasks.Spec, n int) {
			boot(s).Repos = []tasks.Repo{{Name: "r", URL: "http://" + strings.Repeat("r", n-7)}}
		}},
		{"boot", tasks.MaxRepos + 1, func(s *tasks.Spec, n int) {
			boot(s).Repos = make([]tasks.Repo, n)
			for i := range s.Boot.Repos {
				s.Boot.Repos[i] = tasks.Repo{Name: "r", URL: "http://mirror.example.org/"}
			}
		}},
		{"dvd.name", tasks.MaxName + 1, func(s *tasks.Spec, n int) { dvd(s).Name = strings.Repeat("n", n) }},
		{"dvd.flavor", tasks.MaxName + 1, func(s *tasks.Spec, n int) { dvd(s).Flavor = strings.Repeat("f", n) }},
		{"live.title", tasks.MaxName + 1, func(s *tasks.Spec, n int) { live(s).Title = strings.Repeat("t", n) }},
		{"live.product", tasks.MaxName + 1, func(s *tasks.Spec, n int) { live(s).Product = strings.Repeat("p", n) }},
		{tasks.FieldNVRs, tasks.MaxPackages + 1, func(s *tasks.Spec, n int) { s.NVRs = list(n, "wget-1.24.5-1.fc41") }},
		{tasks.FieldNVRs, tasks.MaxNVR + 1, func(s *tasks.Spec, n int) { s.NVRs = []string{strings.Repeat("w", n-6) + "-1.0-1"} }},
		{tasks.FieldBuildIDs, tasks.MaxPackages + 1, func(s *tasks.Spec, n int) { s.BuildIDs = list(n, "42") }},
	}
	for _, tc := range tests {
		at, over := validSpec(), validSpec()
		tc.set(&at, tc.over-1)
		tc.set(&over, tc.over)
		if err := at.Validate(); err != nil {
			var fe tasks.Errors
			// At the limit, other rules may still refuse the value
			// (a 100-character release), but not the limit.
			if errors.As(err, &fe) && strings.Contains(err.Error(), "at most") {
				t.Errorf("%s at its limit %d: %v", tc.field, tc.over-1, err)
			}
		}
		err := over.Validate()
		var fe tasks.Errors
		if !errors.As(err, &fe) || fe[0].Field != tc.field || !strings.Contains(fe[0].Message, "at most") {
			t.Errorf("%s past its limit (%d): %v", tc.field, tc.over, err)
			continue
		}
		if len(err.Error()) > 200 {
			t.Errorf("%s: error quotes the value: %.200s...", tc.field, err)
		}
	}
}

// TestEmailLimit: the one mail address rule refuses an address over 254
// characters without quoting it.
func TestEmailLimit(t *testing.T) {
	t.Parallel()
	ok := strings.Repeat("a", 242) + "@example.org"
	if err := tasks.CheckEmail(ok); err != nil {
		t.Errorf("254-character address: %v", err)
	}
	long := strings.Repeat("a", 100_000) + "@example.org"
	for _, addr := range []string{"a" + ok, long} {
		err := tasks.CheckEmail(addr)
		if err == nil || len(err.Error()) > 100 {
			t.Errorf("%d-character address: %.100v", len(addr), err)
		}
		if _, err := tasks.ParseRecipients(addr); err == nil {
			t.Errorf("ParseRecipients took a %d-character address", len(addr))
		}
	}
}
