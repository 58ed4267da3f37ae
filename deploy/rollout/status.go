package rollout

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fedora-fbs/fbs/deploy"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

// HostStatus is what runs on one host.
type HostStatus struct {
	// Host is the host's name in the deploy file.
	Host string
	// Roles are its roles.
	Roles []deploy.Role
	// Installed is the version of the installed fbs binary ("" for
	// none).
	Installed string
	// Units are the states of its units.
	Units []UnitState
	// Health is the /healthz answer of its web and monitor, by unit.
	Health map[string]string
	// Workers are the heartbeats of the workers on this host (the
	// running worker's version, arch, releases, build kinds and builds).
	Workers []*builds.WorkerInfo
	// Err is why the host could not be asked (nothing else is set).
	Err error
}

// Status asks every host (in parallel) what it runs. It changes nothing.
func (r *Rollout) Status(ctx context.Context) ([]*HostStatus, error) {
	hosts := r.ordered()
	out := make([]*HostStatus, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		hc, err := r.render(h)
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = r.hostStatus(ctx, h, hc)
		}()
	}
	wg.Wait()
	return out, nil
}

func (r *Rollout) hostStatus(ctx context.Context, h *deploy.Host, hc *hostConfig) *HostStatus {
	s := &HostStatus{Host: h.Name, Roles: h.Roles, Health: map[string]string{}}
	c, err := r.connect(ctx, h)
	if err != nil {
		s.Err = err
		return s
	}
	defer c.Close()
	out, err := c.Run(ctx, "if [ -x "+deploy.BinaryPath+" ]; then "+deploy.BinaryPath+" version; fi")
	if err != nil {
		s.Installed = "(does not run: " + firstLine(err.Error()) + ")"
	} else if v, ok := parseVersion(string(out)); ok {
		s.Installed = v
	}
	if s.Units, err = unitStates(ctx, c, deploy.Units(h)); err != nil {
		s.Err = fmt.Errorf("%s: %w", h.Name, err)
		return s
	}
	for _, role := range []deploy.Role{deploy.RoleWeb, deploy.RoleMonitor} {
		if !h.Has(role) {
			continue
		}
		url := hc.webURL
		if role == deploy.RoleMonitor {
			url = hc.monURL
		}
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ok, err := healthz(hctx, c, url)
		cancel()
		if ok {
			s.Health[unitOf(role)] = "ok"
		} else {
			// healthz always says why it is not ok.
			s.Health[unitOf(role)] = firstLine(err.Error())
		}
	}
	// Heartbeats are read with the host's fbs: none before the first
	// deploy.
	if h.Has(deploy.RoleWorker) && s.Installed != "" {
		name, err := c.Run(ctx, "hostname")
		if err != nil {
			s.Err = fmt.Errorf("%s: hostname: %w", h.Name, err)
			return s
		}
		ws, err := heartbeats(ctx, c)
		if err != nil {
			s.Err = fmt.Errorf("%s: %w", h.Name, err)
			return s
		}
		prefix := strings.TrimSpace(string(name)) + "/"
		for _, w := range ws {
			if strings.HasPrefix(w.ID, prefix) {
				s.Workers = append(s.Workers, w)
			}
		}
	}
	return s
}

// WriteStatus writes statuses for a person.
func WriteStatus(w io.Writer, statuses []*HostStatus) error {
	var b strings.Builder
	for _, s := range statuses {
		fmt.Fprintf(&b, "host %s (%s)", s.Host, joinRoles(s.Roles))
		if s.Err != nil {
			fmt.Fprintf(&b, ": cannot ask: %v\n", s.Err)
			continue
		}
		b.WriteString(":\n")
		fmt.Fprintf(&b, "  installed: %s\n", orNone(s.Installed))
		for _, u := range s.Units {
			fmt.Fprintf(&b, "  unit %s: %s, %s", u.Name, u.Active, u.Enabled)
			if h, ok := s.Health[u.Name]; ok {
				fmt.Fprintf(&b, ", /healthz %s", h)
			}
			b.WriteString("\n")
		}
		for _, wk := range s.Workers {
			var kinds []string
			for _, c := range wk.Capabilities {
				if c.Missing == "" {
					kinds = append(kinds, string(c.Kind))
				}
			}
			fmt.Fprintf(&b, "  worker %s: version %s, arch %s, releases %s, build kinds %s, concurrency %s, running %s",
				wk.ID, orUnknown(wk.Version), wk.Arch, strings.Join(wk.Releases, ","), orUnknown(strings.Join(kinds, ",")),
				strconv.Itoa(wk.Concurrency), orUnknown(strings.Join(wk.Builds, ",")))
			if wk.Draining {
				b.WriteString(", draining")
			}
			fmt.Fprintf(&b, ", heartbeat %s\n", wk.Heartbeat.Format(time.RFC3339))
		}
		if hasRole(s.Roles, deploy.RoleWorker) && len(s.Workers) == 0 {
			b.WriteString("  worker: no heartbeat\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func hasRole(roles []deploy.Role, r deploy.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

func orUnknown(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
