package tasks_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/conf/spec"
	"github.com/fedora-fbs/fbs/tasks"
)

func TestStandardRepos(t *testing.T) {
	t.Parallel()
	tests := []struct {
		release, arch string
		want          []tasks.Repo
	}{
		{"41", "x86_64", []tasks.Repo{
			{Name: "41", URL: "https://dl.fedoraproject.org/pub/fedora/linux/releases/41/Everything/x86_64/os/", Mirror: "https://mirrors.fedoraproject.org/metalink?repo=fedora-41&arch=x86_64"},
			{Name: "41-updates", URL: "https://dl.fedoraproject.org/pub/fedora/linux/updates/41/Everything/x86_64/", Mirror: "https://mirrors.fedoraproject.org/metalink?repo=updates-released-f41&arch=x86_64"},
			{Name: "41-updates-testing", URL: "https://dl.fedoraproject.org/pub/fedora/linux/updates/testing/41/Everything/x86_64/", Mirror: "https://mirrors.fedoraproject.org/metalink?repo=updates-testing-f41&arch=x86_64"},
		}},
		{"42", "s390x", []tasks.Repo{
			{Name: "42", URL: "https://dl.fedoraproject.org/pub/fedora-secondary/releases/42/Everything/s390x/os/", Mirror: "https://mirrors.fedoraproject.org/metalink?repo=fedora-42&arch=s390x"},
			{Name: "42-updates", URL: "https://dl.fedoraproject.org/pub/fedora-secondary/updates/42/Everything/s390x/", Mirror: "https://mirrors.fedoraproject.org/metalink?repo=updates-released-f42&arch=s390x"},
			{Name: "42-updates-testing", URL: "https://dl.fedoraproject.org/pub/fedora-secondary/updates/testing/42/Everything/s390x/", Mirror: "https://mirrors.fedoraproject.org/metalink?repo=updates-testing-f42&arch=s390x"},
		}},
		{"rawhide", "aarch64", []tasks.Repo{
			{Name: "rawhide", URL: "https://dl.fedoraproject.org/pub/fedora/linux/development/rawhide/Everything/aarch64/os/", Mirror: "https://mirrors.fedoraproject.org/metalink?repo=rawhide&arch=aarch64"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.release+"/"+tc.arch, func(t *testing.T) {
			got := tasks.StandardRepos(tc.release, tc.arch)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
			// They make a valid [boot] section, through the spec file
			// format the form goes through too.
			s := &tasks.Spec{Type: tasks.TypeBoot, Arch: tc.arch, Release: tc.release, Staging: "file:///srv/staging",
				Boot: &tasks.BootSpec{Product: "fedora", Release: tc.release, Version: tc.release, Updates: true, Repos: got}}
			res, err := spec.Parse("repos", spec.Marshal(s))
			if err != nil {
				t.Fatalf("spec with the standard repositories: %v\n%s", err, spec.Marshal(s))
			}
			if d := cmp.Diff(got, res.Spec.Boot.Repos); d != "" {
				t.Errorf("repositories after a round trip (-want +got):\n%s", d)
			}
		})
	}
}
