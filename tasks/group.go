package tasks

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// A group is one request for several arches (arch=x86_64,aarch64): one
// build per arch, each on the queue of its arch, submitted together (all
// or none, tasks/client.SubmitGroup) and told about together (one
// submission mail and one completion mail for the group). A group has no
// state of its own: GroupState derives it from its members' states.

// Group is the record of a multi-arch request: who asked, when, and its
// member builds, one per arch in the order the request named the arches.
type Group struct {
	// ID is a ULID made by NewBuildID, so ValidBuildID checks it too.
	ID      string    `json:"id"`
	Owner   string    `json:"owner"`
	Builds  []string  `json:"builds"`
	Created time.Time `json:"created"`
}

// SplitArches reads an arch field that may name several arches,
// separated by commas or spaces ("x86_64,aarch64"), in the order given.
// A single arch gives a list of one.
func SplitArches(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// JoinArches writes arches as an arch field: "x86_64,aarch64".
func JoinArches(arches []string) string { return strings.Join(arches, ",") }

// Arches returns the arches the spec names: one for a single build,
// several for a group.
func (s *Spec) Arches() []string { return SplitArches(s.Arch) }

// ForArch returns a copy of s for one of its arches: the spec of that
// arch's member build. The sections are shared, not copied.
func (s *Spec) ForArch(arch string) Spec {
	c := *s
	c.Arch = arch
	return c
}

// checkArches is the rule of the arch field: one or more known arches,
// none twice.
func checkArches(v string) error {
	list := SplitArches(v)
	if len(list) == 0 {
		return fmt.Errorf("missing: want one of %s, or several separated by commas", strings.Join(Arches, ", "))
	}
	for i, a := range list {
		if !ValidArch(a) {
			return fmt.Errorf("unknown arch %q (want one of %s)", a, strings.Join(Arches, ", "))
		}
		if slices.Contains(list[:i], a) {
			return fmt.Errorf("arch %s is named twice", a)
		}
	}
	return nil
}

// GroupState is the state of a group whose members are in states: queued
// while every member is queued; running while any member has not ended
// and not all are queued; once all have ended, succeeded if all
// succeeded, else failed if any failed, else cancelled.
func GroupState(states []State) State {
	queued, ended := 0, 0
	failed, cancelled := false, false
	for _, s := range states {
		switch s {
		case StateQueued:
			queued++
		case StateFailed:
			failed = true
		case StateCancelled:
			cancelled = true
		}
		if s.Final() {
			ended++
		}
	}
	switch {
	case len(states) == 0:
		return StateQueued
	case queued == len(states):
		return StateQueued
	case ended < len(states):
		return StateRunning
	case failed:
		return StateFailed
	case cancelled:
		return StateCancelled
	}
	return StateSucceeded
}

// GroupStatus is a group as the API and the pages show it: its record,
// the state its members give it (GroupState) and the members' records.
type GroupStatus struct {
	ID      string    `json:"id"`
	Owner   string    `json:"owner"`
	Created time.Time `json:"created"`
	State   State     `json:"state"`
	Builds  []*Build  `json:"builds"`
}

// NewGroupStatus returns the status of g whose member records are
// members.
func NewGroupStatus(g *Group, members []*Build) *GroupStatus {
	states := make([]State, len(members))
	for i, b := range members {
		states[i] = b.State
	}
	return &GroupStatus{ID: g.ID, Owner: g.Owner, Created: g.Created, State: GroupState(states), Builds: members}
}

// ShownTo returns gs as viewer v may see it: each member as
// Build.ShownTo shows it.
func (gs *GroupStatus) ShownTo(v Viewer) *GroupStatus {
	if v.Owns(gs.Owner) {
		return gs
	}
	c := *gs
	c.Builds = make([]*Build, len(gs.Builds))
	for i, b := range gs.Builds {
		c.Builds[i] = b.ShownTo(v)
	}
	return &c
}

// CanSeeGroup reports whether v may read group gs under visibility vis:
// as for its builds (CanSee), by its owner.
func (v Viewer) CanSeeGroup(gs *GroupStatus, vis Visibility) bool {
	return vis == VisibilityPublic || v.Owns(gs.Owner)
}
