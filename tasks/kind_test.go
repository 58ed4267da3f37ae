package tasks_test

import (
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
)

func TestSpecKind(t *testing.T) {
	t.Parallel()
	for _, k := range tasks.BuildKinds {
		if got := k.Spec().Kind(); got != k {
			t.Errorf("%s.Spec().Kind() = %s", k, got)
		}
	}
	for _, ty := range tasks.ImageTypes {
		if want := ty == tasks.TypeKSISO; ty.CrossBuilds() != want {
			t.Errorf("%s.CrossBuilds() = %v; want %v", ty, !want, want)
		}
	}
	for _, tc := range []struct {
		host, arch string
		want       bool
	}{{"x86_64", "x86_64", true}, {"x86_64", "i686", true}, {"x86_64", "aarch64", false}, {"aarch64", "x86_64", false}, {"i686", "x86_64", false}} {
		if got := tasks.RunsOn(tc.host, tc.arch); got != tc.want {
			t.Errorf("RunsOn(%s, %s) = %v; want %v", tc.host, tc.arch, got, tc.want)
		}
	}
}
