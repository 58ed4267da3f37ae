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
}
