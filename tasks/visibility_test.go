package tasks_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks"
)

func TestParseVisibility(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want tasks.Visibility
		ok   bool
	}{{"private", tasks.VisibilityPrivate, true}, {"public", tasks.VisibilityPublic, true}, {"Public", 0, false}, {"", 0, false}} {
		got, err := tasks.ParseVisibility(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseVisibility(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
}

func TestCanSee(t *testing.T) {
	b := &tasks.Build{Owner: "alice"}
	for _, tc := range []struct {
		v             tasks.Viewer
		private, publ bool
	}{
		{tasks.Viewer{}, false, true},
		{tasks.Viewer{Name: "bob"}, false, true},
		{tasks.Viewer{Name: "alice"}, true, true},
		{tasks.Viewer{Name: "root", Admin: true}, true, true},
	} {
		if got := tc.v.CanSee(b, tasks.VisibilityPrivate); got != tc.private {
			t.Errorf("%+v private: %v", tc.v, got)
		}
		if got := tc.v.CanSee(b, tasks.VisibilityPublic); got != tc.publ {
			t.Errorf("%+v public: %v", tc.v, got)
		}
	}
}

func TestShownTo(t *testing.T) {
	b := &tasks.Build{
		Owner:     "alice",
		Spec:      tasks.Spec{Email: "alice@example.org", Staging: "sftp://al%2Bice@stage.example.org/srv/x"},
		Staged:    "sftp://al%2Bice@stage.example.org/srv/x/01ID",
		Artifacts: []tasks.Artifact{{Name: "a.iso", URL: "sftp://al%2Bice@stage.example.org/srv/x/01ID/a.iso"}},
		Error:     "transfer: dial al+ice@stage.example.org: refused",
		Tail:      []string{"to sftp://al%2Bice@stage.example.org/srv/x"},
		Events:    []string{"retry al+ice@stage.example.org"},
	}
	want := &tasks.Build{
		Owner:     "alice",
		Spec:      tasks.Spec{Staging: "sftp://stage.example.org/srv/x"},
		Staged:    "sftp://stage.example.org/srv/x/01ID",
		Artifacts: []tasks.Artifact{{Name: "a.iso", URL: "sftp://stage.example.org/srv/x/01ID/a.iso"}},
		Error:     "transfer: dial stage.example.org: refused",
		Tail:      []string{"to sftp://stage.example.org/srv/x"},
		Events:    []string{"retry stage.example.org"},
	}
	if diff := cmp.Diff(want, b.ShownTo(tasks.Viewer{Name: "bob"})); diff != "" {
		t.Errorf("other user (-want +got):\n%s", diff)
	}
	if got := b.ShownTo(tasks.Viewer{Name: "x", Admin: true}); got != b {
		t.Error("admin does not get the record itself")
	}
	if got := b.ShownTo(tasks.Viewer{Name: "alice"}); got != b {
		t.Error("owner does not get the record itself")
	}
	if b.Spec.Email == "" {
		t.Error("ShownTo changed the record")
	}
}
