package deploy

import (
	"fmt"
	"slices"

	"github.com/fedora-fbs/fbs/worker/builder"
)

// OSFamily is the kind of distribution a host runs, which decides package
// names and the package manager.
type OSFamily string

// The OS families fbs deploys to.
const (
	Debian OSFamily = "debian"
	Fedora OSFamily = "fedora"
)

// ParseOSFamily reads an OS family name.
func ParseOSFamily(s string) (OSFamily, error) {
	switch OSFamily(s) {
	case Debian, Fedora:
		return OSFamily(s), nil
	}
	return "", fmt.Errorf("unknown OS family %q (want debian or fedora)", s)
}

// Packages lists the OS packages h's roles need on os, sorted. A worker
// needs the build tools of every build kind os can run (worker/builder
// names them); on Fedora also pungi, which [tools] can name. The Redis host
// needs the Redis server. Web and monitor need nothing besides fbs.
func Packages(h *Host, os OSFamily) []string {
	var out []string
	if h.Has(RoleWorker) {
		out = append(out, builder.Packages(string(os))...)
		if os == Fedora {
			out = append(out, "pungi")
		}
	}
	if h.Has(RoleRedis) {
		if os == Fedora {
			out = append(out, "redis")
		} else {
			out = append(out, "redis-server")
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ConflictingUnits lists the distribution's units that must be stopped and
// disabled on h before its own start: the Redis package's server, which
// would hold the port fbs-redis.service listens on.
func ConflictingUnits(h *Host, os OSFamily) []string {
	if !h.Has(RoleRedis) {
		return nil
	}
	if os == Fedora {
		return []string{"redis.service"}
	}
	return []string{"redis-server.service"}
}
