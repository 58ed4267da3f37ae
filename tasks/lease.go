package tasks

import (
	"fmt"
	"time"
)

// A worker holds a lease on each build it runs, renewed every third of its
// time to live; a reaper treats a running build without a lease as lost.
// [worker] lease_ttl and reap_interval set the two durations.
const (
	// DefaultLeaseTTL is the lease's time to live by default.
	DefaultLeaseTTL = 30 * time.Second
	// MinLeaseTTL is the shortest lease allowed: it is renewed every third
	// of its TTL, each renewal given a third to answer, so a shorter one
	// would lose builds to a Redis that paused for a second.
	MinLeaseTTL = 3 * time.Second
	// DefaultReapInterval is how often a reaper looks for lost builds by
	// default.
	DefaultReapInterval = 10 * time.Second
	// MinReapInterval is the shortest reap interval allowed: each look
	// costs Redis a call per running build.
	MinReapInterval = time.Second
)

// LostPolicy says what the reaper does with a build whose worker died
// (killed, powered off, cut off from Redis): [worker] lost_builds.
type LostPolicy int

const (
	// LostRequeue queues a lost build again once, for another worker, and
	// fails it if it is lost a second time. It is the default.
	LostRequeue LostPolicy = iota
	// LostFail fails a lost build at once.
	LostFail
)

// ParseLostPolicy reads a policy as written in the configuration:
// "requeue" or "fail".
func ParseLostPolicy(s string) (LostPolicy, error) {
	switch s {
	case "requeue":
		return LostRequeue, nil
	case "fail":
		return LostFail, nil
	}
	return 0, fmt.Errorf("%q is not one of requeue, fail", s)
}

// String returns the policy as written in the configuration.
func (p LostPolicy) String() string {
	switch p {
	case LostRequeue:
		return "requeue"
	case LostFail:
		return "fail"
	}
	return fmt.Sprintf("LostPolicy(%d)", int(p))
}
