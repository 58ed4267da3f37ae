package deploy

import (
	"fmt"
	"slices"
	"strings"

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
// needs the build tools of every build kind os can run, as worker/builder
// names them (not pungi: no builder runs it since Fedora's pungi 4 dropped
// the command line the original ran). The Redis host needs the Redis
// server. Web and monitor need nothing besides fbs.
func Packages(h *Host, os OSFamily) []string {
	var out []string
	if h.Has(RoleWorker) {
		out = append(out, builder.Packages(string(os))...)
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

// ParseOSRelease finds the OS family in the text of /etc/os-release: ID,
// then each of ID_LIKE (a Rocky or CentOS host is Fedora's family, Ubuntu
// Debian's).
func ParseOSRelease(b []byte) (OSFamily, error) {
	vars := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		vars[k] = v
	}
	ids := append([]string{vars["ID"]}, strings.Fields(vars["ID_LIKE"])...)
	for _, id := range ids {
		switch id {
		case "debian", "ubuntu":
			return Debian, nil
		case "fedora", "rhel", "centos":
			return Fedora, nil
		}
	}
	return "", fmt.Errorf("unsupported OS (ID=%q ID_LIKE=%q): fbs deploys to Debian and Fedora families", vars["ID"], vars["ID_LIKE"])
}
