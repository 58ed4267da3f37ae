package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"

	"github.com/fedora-fbs/fbs/deploy"
)

// backupSuffix marks the previous version of a file Apply replaced, kept
// on the host until the host's rollout succeeded.
const backupSuffix = ".fbs-prev"

// HostPlan is what Apply would do on one host.
type HostPlan struct {
	// Host is the host's name in the deploy file.
	Host string
	// Roles are its roles.
	Roles []deploy.Role
	// OS is the host's OS family.
	OS deploy.OSFamily
	// Installed is the version of the fbs binary on the host ("" when
	// there is none); New the version of the one Apply installs.
	Installed, New string
	// BinaryChanged says the binaries differ (by SHA-256).
	BinaryChanged bool
	// Files are the file changes; secrets show no content.
	Files []deploy.Change
	// Units are the host's units, with their state now.
	Units []UnitState
	// MissingPackages are the OS packages Apply would install.
	MissingPackages []string
	// MissingUsers are the service users Apply would create.
	MissingUsers []string
	// Err is why the host could not be inspected (nothing else is set).
	Err error
}

// UnitState is a systemd unit's state on a host.
type UnitState struct {
	Name string
	// Active is systemctl is-active's answer (active, inactive, failed,
	// activating...).
	Active string
	// Enabled is systemctl is-enabled's answer, "missing" for no unit.
	Enabled string
}

// Changed reports whether Apply would change anything on the host.
func (p *HostPlan) Changed() bool {
	if p.BinaryChanged || len(p.MissingPackages) > 0 || len(p.MissingUsers) > 0 {
		return true
	}
	for _, f := range p.Files {
		if f.Kind != deploy.ChangeUnchanged {
			return true
		}
	}
	for _, u := range p.Units {
		if u.Active != "active" || u.Enabled != "enabled" {
			return true
		}
	}
	return false
}

// Plan inspects every host (in parallel) and says what Apply would do. It
// changes nothing. A host that cannot be inspected has its Err set; the
// error returned is about the rollout as a whole (the binary, a render).
func (r *Rollout) Plan(ctx context.Context) ([]*HostPlan, error) {
	bin, err := r.localBinary(ctx)
	if err != nil {
		return nil, err
	}
	hosts := r.ordered()
	confs := make([]*hostConfig, len(hosts))
	for i, h := range hosts {
		if confs[i], err = r.render(h); err != nil {
			return nil, err
		}
	}
	plans := make([]*HostPlan, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			plans[i] = r.planHost(ctx, h, confs[i], bin)
		}()
	}
	wg.Wait()
	return plans, nil
}

// planHost inspects one host.
func (r *Rollout) planHost(ctx context.Context, h *deploy.Host, hc *hostConfig, bin *binary) *HostPlan {
	p := &HostPlan{Host: h.Name, Roles: h.Roles, New: bin.version}
	c, err := r.connect(ctx, h)
	if err != nil {
		p.Err = err
		return p
	}
	defer c.Close()
	st, err := inspect(ctx, c, h, hc)
	if err != nil {
		p.Err = err
		return p
	}
	p.OS, p.Installed, p.Files, p.Units = st.os, st.version, st.changes, st.units
	p.MissingPackages, p.MissingUsers = st.missing, st.users
	p.BinaryChanged = st.sha256 != bin.sha256
	return p
}

// hostState is what a host has now.
type hostState struct {
	os       deploy.OSFamily
	missing  []string
	users    []string
	have     map[string][]byte
	changes  []deploy.Change
	sha256   string
	version  string
	hostname string
	units    []UnitState
}

// unit returns the state of unit name.
func (s *hostState) unit(name string) UnitState {
	for _, u := range s.units {
		if u.Name == name {
			return u
		}
	}
	return UnitState{Name: name, Active: "inactive", Enabled: "missing"}
}

// changed reports whether path changes (or goes).
func (s *hostState) changed(path string) bool {
	for _, c := range s.changes {
		if c.Path == path {
			return c.Kind != deploy.ChangeUnchanged
		}
	}
	return false
}

// ownedPatterns are the files fbs deploy installs, listed to find those a
// host has but should no longer (a role it lost).
const ownedPatterns = deploy.SecretsDir + "/* " + deploy.UnitDir + "/fbs-*.service " + deploy.RedisConfPath

// inspect reads h's state over c, changing nothing.
func inspect(ctx context.Context, c conn, h *deploy.Host, hc *hostConfig) (*hostState, error) {
	st := &hostState{have: map[string][]byte{}}
	var err error
	if st.os, err = c.OSFamily(ctx); err != nil {
		return nil, fmt.Errorf("%s: OS family: %w", h.Name, err)
	}
	if st.missing, err = missingPackages(ctx, c, st.os, packages(h, st.os)); err != nil {
		return nil, fmt.Errorf("%s: %w", h.Name, err)
	}
	var users []string
	for _, f := range hc.files {
		if f.Owner != "" && f.Owner != "root" && !slices.Contains(users, f.Owner) {
			users = append(users, f.Owner)
		}
	}
	if (h.Has(deploy.RoleWeb) || h.Has(deploy.RoleMonitor)) && !slices.Contains(users, deploy.ServiceUser) {
		users = append(users, deploy.ServiceUser)
	}
	for _, u := range users {
		out, err := c.Run(ctx, "getent passwd "+quote(u)+" >/dev/null && echo yes || echo no")
		if err != nil {
			return nil, fmt.Errorf("%s: look up user %s: %w", h.Name, u, err)
		}
		if strings.TrimSpace(string(out)) != "yes" {
			st.users = append(st.users, u)
		}
	}
	out, err := c.Run(ctx, "ls -1d "+ownedPatterns+" 2>/dev/null || true")
	if err != nil {
		return nil, fmt.Errorf("%s: list installed files: %w", h.Name, err)
	}
	paths := strings.Fields(string(out))
	for _, f := range hc.files {
		paths = append(paths, f.Path)
	}
	slices.Sort(paths)
	for _, p := range slices.Compact(paths) {
		if strings.HasSuffix(p, backupSuffix) || strings.HasSuffix(p, ".prev") {
			continue
		}
		data, err := c.ReadFile(ctx, p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: read %s: %w", h.Name, p, err)
		}
		st.have[p] = data
	}
	st.changes = deploy.Compare(hc.files, st.have)
	out, err = c.Run(ctx, "sha256sum "+deploy.BinaryPath+" 2>/dev/null || true")
	if err != nil {
		return nil, fmt.Errorf("%s: checksum of %s: %w", h.Name, deploy.BinaryPath, err)
	}
	st.sha256, _, _ = strings.Cut(strings.TrimSpace(string(out)), " ")
	if st.sha256 != "" {
		out, err := c.Run(ctx, deploy.BinaryPath+" version")
		if err == nil {
			st.version, _ = parseVersion(string(out))
		}
		if st.version == "" {
			st.version = "(does not run: " + firstLine(errString(err, out)) + ")"
		}
	}
	out, err = c.Run(ctx, "hostname")
	if err != nil {
		return nil, fmt.Errorf("%s: hostname: %w", h.Name, err)
	}
	st.hostname = strings.TrimSpace(string(out))
	units := deploy.Units(h)
	for _, ch := range st.changes {
		if ch.Kind == deploy.ChangeDelete && strings.HasPrefix(ch.Path, deploy.UnitDir+"/") {
			units = append(units, strings.TrimPrefix(ch.Path, deploy.UnitDir+"/"))
		}
	}
	if st.units, err = unitStates(ctx, c, units); err != nil {
		return nil, fmt.Errorf("%s: %w", h.Name, err)
	}
	return st, nil
}

func errString(err error, out []byte) string {
	if err != nil {
		return err.Error()
	}
	return string(out)
}

// packages are the OS packages h needs: deploy's for its roles, and curl
// where Apply asks /healthz from the host.
func packages(h *deploy.Host, os deploy.OSFamily) []string {
	p := deploy.Packages(h, os)
	if h.Has(deploy.RoleWeb) || h.Has(deploy.RoleMonitor) {
		p = append(p, "curl")
	}
	slices.Sort(p)
	return slices.Compact(p)
}

// missingPackages returns those of pkgs the host lacks, asking its
// package database.
func missingPackages(ctx context.Context, c conn, os deploy.OSFamily, pkgs []string) ([]string, error) {
	if len(pkgs) == 0 {
		return nil, nil
	}
	var script string
	switch os {
	case deploy.Debian:
		script = `for p in ` + quoteAll(pkgs) + `; do s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null); [ "$s" = installed ] || echo "$p"; done`
	case deploy.Fedora:
		script = `for p in ` + quoteAll(pkgs) + `; do rpm -q --quiet "$p" || echo "$p"; done`
	default:
		return nil, fmt.Errorf("check packages: unknown OS family %q", os)
	}
	out, err := c.Run(ctx, script)
	if err != nil {
		return nil, fmt.Errorf("check packages: %w", err)
	}
	return strings.Fields(string(out)), nil
}

// unitStates asks systemd for the state of units.
func unitStates(ctx context.Context, c conn, units []string) ([]UnitState, error) {
	if len(units) == 0 {
		return nil, nil
	}
	out, err := c.Run(ctx, `for u in `+quoteAll(units)+`; do a=$(systemctl is-active "$u" 2>/dev/null); e=$(systemctl is-enabled "$u" 2>/dev/null); echo "$u ${a:-unknown} ${e:-missing}"; done`)
	if err != nil {
		return nil, fmt.Errorf("unit states: %w", err)
	}
	var us []UnitState
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 {
			us = append(us, UnitState{Name: f[0], Active: f[1], Enabled: f[2]})
		}
	}
	return us, nil
}

// WritePlan writes plans for a person: per host the binary, the packages,
// the users, each file's change with its diff, and the units.
func WritePlan(w io.Writer, plans []*HostPlan) error {
	var b strings.Builder
	for i, p := range plans {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "host %s (%s)", p.Host, joinRoles(p.Roles))
		if p.Err != nil {
			fmt.Fprintf(&b, ": cannot inspect: %v\n", p.Err)
			continue
		}
		if !p.Changed() {
			b.WriteString(": up to date\n")
		} else {
			b.WriteString(":\n")
		}
		installed := p.Installed
		if installed == "" {
			installed = "none"
		}
		if p.BinaryChanged {
			fmt.Fprintf(&b, "  binary: %s -> %s\n", installed, p.New)
		} else {
			fmt.Fprintf(&b, "  binary: %s (unchanged)\n", installed)
		}
		if len(p.MissingPackages) > 0 {
			fmt.Fprintf(&b, "  packages to install (%s): %s\n", p.OS, strings.Join(p.MissingPackages, " "))
		}
		if len(p.MissingUsers) > 0 {
			fmt.Fprintf(&b, "  users to create: %s\n", strings.Join(p.MissingUsers, " "))
		}
		for _, f := range p.Files {
			fmt.Fprintf(&b, "  %s %s\n", f.Kind, f.Path)
			if f.Diff != "" {
				for _, line := range strings.Split(strings.TrimRight(f.Diff, "\n"), "\n") {
					fmt.Fprintf(&b, "    %s\n", line)
				}
			}
		}
		for _, u := range p.Units {
			fmt.Fprintf(&b, "  unit %s: %s, %s\n", u.Name, u.Active, u.Enabled)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func joinRoles(roles []deploy.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}
