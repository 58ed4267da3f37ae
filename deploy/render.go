package deploy

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
)

// InstallFile is one file to install on a host.
type InstallFile struct {
	// Path is absolute, on the host.
	Path  string
	Mode  fs.FileMode
	Owner string
	Group string
	// Content is the file's bytes. For a secret it is the secret: never
	// print or log it.
	Content []byte
	// Secret files are compared and reported without their content.
	Secret bool
}

// String describes f without its content.
func (f InstallFile) String() string {
	return fmt.Sprintf("%s (%s %s:%s, %d bytes)", f.Path, f.Mode, f.Owner, f.Group, len(f.Content))
}

// Render returns every file fbs deploy installs on h, by path: fbs.conf,
// the secret files, the units of its roles and, on the Redis host, Redis's
// configuration. The binary is not among them (see BinaryPath).
func (f *File) Render(h *Host) ([]InstallFile, error) {
	cfg, err := loadConf(h)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", h.Name, err)
	}
	owner := h.Owner()
	out := []InstallFile{{Path: ConfPath, Mode: 0o644, Owner: "root", Group: "root", Content: renderConf(h)}}
	for _, s := range h.Secrets {
		out = append(out, InstallFile{Path: s.Path, Mode: 0o600, Owner: owner, Group: owner, Content: s.content, Secret: true})
	}
	for _, role := range h.Roles {
		var content string
		switch role {
		case RoleWeb:
			content = listenerUnit(role, "fbs web front end", "web")
		case RoleMonitor:
			content = listenerUnit(role, "fbs build monitor", "monitor")
		case RoleWorker:
			content = workerUnit(cfg.Worker.DrainTimeout)
		case RoleRedis:
			content = redisUnit()
			out = append(out, InstallFile{Path: RedisConfPath, Mode: 0o644, Owner: "root", Group: "root", Content: renderRedisConf(h)})
		}
		out = append(out, InstallFile{Path: path.Join(UnitDir, unitName(role)), Mode: 0o644, Owner: "root", Group: "root", Content: []byte(content)})
	}
	slices.SortFunc(out, func(a, b InstallFile) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// Units returns the units of h's roles, in the order they start (Redis
// first, workers last).
func Units(h *Host) []string {
	var u []string
	for _, r := range h.Roles {
		u = append(u, unitName(r))
	}
	return u
}

func unitName(r Role) string { return "fbs-" + string(r) + ".service" }

// renderConf writes h's fbs.conf: the keys the deploy file sets, by
// section and key in alphabetical order, so that the same deploy file
// always renders the same bytes.
func renderConf(h *Host) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# fbs service configuration of host %s (roles: %s), written by fbs deploy.\n", h.Name, rolesString(h.Roles))
	b.WriteString("# Edit the deploy file instead: fbs deploy apply replaces this file.\n")
	b.WriteString("# Keys not set here have their defaults (see fbs.conf in the fbs sources).\n")
	for _, sec := range slices.Sorted(maps.Keys(h.Config)) {
		fmt.Fprintf(&b, "\n[%s]\n", sec)
		keys := h.Config[sec]
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			fmt.Fprintf(&b, "%s = %s\n", k, keys[k])
		}
	}
	return b.Bytes()
}

// renderRedisConf writes the Redis host's server configuration: a whole
// file of fbs's own, not the distribution's, so that it reads the same on
// Debian and Fedora.
func renderRedisConf(h *Host) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Redis server of the fbs deployment, on host %s, written by fbs deploy.\n", h.Name)
	b.WriteString("# Run by fbs-redis.service; the distribution's redis unit is stopped and disabled.\n")
	fmt.Fprintf(&b, "bind %s\n", strings.Join(h.RedisBind, " "))
	fmt.Fprintf(&b, "port %d\n", h.RedisPort)
	b.WriteString(`# No password: reach it only from the deployment's hosts (firewall or a
# private network). Protected mode would refuse them.
protected-mode no
daemonize no
supervised no
logfile ""
# StateDirectory=fbs-redis of the unit.
dir /var/lib/fbs-redis
# Builds, their records and the queue survive a restart: every write is in
# the append-only file, flushed every second, besides the snapshots.
appendonly yes
appendfsync everysec
save 3600 1 300 100 60 10000
`)
	return b.Bytes()
}
