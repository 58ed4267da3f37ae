package tasks_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks"
)

func TestSplitArches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"x86_64", []string{"x86_64"}},
		{"x86_64,aarch64", []string{"x86_64", "aarch64"}},
		{" aarch64 , x86_64,, ppc64le ", []string{"aarch64", "x86_64", "ppc64le"}},
		{"", []string{}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, tasks.SplitArches(tc.in)); diff != "" {
			t.Errorf("SplitArches(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestGroupState(t *testing.T) {
	t.Parallel()
	const (
		q = tasks.StateQueued
		r = tasks.StateRunning
		s = tasks.StateSucceeded
		f = tasks.StateFailed
		c = tasks.StateCancelled
	)
	tests := []struct {
		members []tasks.State
		want    tasks.State
	}{
		{[]tasks.State{q, q}, q},
		{[]tasks.State{q, r}, r},
		{[]tasks.State{q, s}, r}, // one ended, one waits: under way
		{[]tasks.State{r, f}, r},
		{[]tasks.State{s, s}, s},
		{[]tasks.State{s, f}, f},
		{[]tasks.State{c, f}, f},
		{[]tasks.State{s, c}, c},
		{[]tasks.State{c, c}, c},
	}
	for _, tc := range tests {
		if got := tasks.GroupState(tc.members); got != tc.want {
			t.Errorf("GroupState(%v) = %s, want %s", tc.members, got, tc.want)
		}
	}
}

func TestDecodePayloadRefusesSeveralArches(t *testing.T) {
	t.Parallel()
	sp := validSpec()
	sp.Arch = "x86_64,aarch64"
	p := &tasks.Payload{ID: tasks.NewBuildID(), Spec: sp, Owner: "alice"}
	data, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tasks.DecodePayload(data); err == nil {
		t.Fatal("DecodePayload took a payload naming two arches")
	}
}

func TestGroupShownTo(t *testing.T) {
	t.Parallel()
	sp := validSpec()
	sp.Email = "alice@example.org"
	g := &tasks.Group{ID: tasks.NewBuildID(), Owner: "alice"}
	gs := tasks.NewGroupStatus(g, []*tasks.Build{{ID: tasks.NewBuildID(), Owner: "alice", Spec: sp, State: tasks.StateQueued}})
	if got := gs.ShownTo(tasks.Viewer{Name: "alice"}); got.Builds[0].Spec.Email != "alice@example.org" {
		t.Errorf("owner sees email %q", got.Builds[0].Spec.Email)
	}
	if got := gs.ShownTo(tasks.Viewer{Name: "bob"}); got.Builds[0].Spec.Email != "" {
		t.Errorf("another user sees email %q", got.Builds[0].Spec.Email)
	}
	for _, tc := range []struct {
		v    tasks.Viewer
		vis  tasks.Visibility
		want bool
	}{
		{tasks.Viewer{Name: "alice"}, tasks.VisibilityPrivate, true},
		{tasks.Viewer{Name: "root", Admin: true}, tasks.VisibilityPrivate, true},
		{tasks.Viewer{Name: "bob"}, tasks.VisibilityPrivate, false},
		{tasks.Viewer{}, tasks.VisibilityPrivate, false},
		{tasks.Viewer{Name: "bob"}, tasks.VisibilityPublic, true},
	} {
		if got := tc.v.CanSeeGroup(gs, tc.vis); got != tc.want {
			t.Errorf("%+v CanSeeGroup under %s = %v, want %v", tc.v, tc.vis, got, tc.want)
		}
	}
}
