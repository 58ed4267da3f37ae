package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fedora-fbs/fbs/deploy"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

// HostResult is what Apply did on one host.
type HostResult struct {
	// Host is the host's name in the deploy file.
	Host string
	// Steps are what was done, in order, with how long each took.
	Steps []string
	// Changed says something was installed or restarted.
	Changed bool
	// Duration is the host's whole time, rollback included.
	Duration time.Duration
	// Err is the step or check that failed; nil when the host is done.
	Err error
	// RolledBack says the host was put back to its previous binary and
	// files after Err; RollbackErr is what went wrong doing so (nil: the
	// host runs its previous version and passed its checks again).
	RolledBack  bool
	RollbackErr error
}

// Report is what Apply did.
type Report struct {
	// Hosts are the hosts Apply worked on, in order.
	Hosts []*HostResult
	// Skipped are the hosts not touched because the rollout stopped.
	Skipped []string
	// Duration is the whole rollout's time.
	Duration time.Duration
}

// Failed returns the hosts whose rollout failed.
func (rep *Report) Failed() []*HostResult {
	var out []*HostResult
	for _, h := range rep.Hosts {
		if h.Err != nil {
			out = append(out, h)
		}
	}
	return out
}

// Apply rolls the deploy file out, host by host in the order the package
// doc gives, and stops at the first host that fails (rolled back). The
// error says which host failed and why; the report says what was done.
func (r *Rollout) Apply(ctx context.Context) (*Report, error) {
	start := time.Now()
	bin, err := r.localBinary(ctx)
	if err != nil {
		return nil, err
	}
	hosts := r.ordered()
	confs := map[*deploy.Host]*hostConfig{}
	for _, h := range hosts {
		if confs[h], err = r.render(h); err != nil {
			return nil, err
		}
	}
	rep := &Report{}
	defer func() { rep.Duration = time.Since(start) }()
	var workers []*deploy.Host
	i := 0
	for ; i < len(hosts); i++ {
		h := hosts[i]
		if phase(h) == 3 {
			workers = hosts[i:]
			break
		}
		res := r.applyHost(ctx, h, confs[h], bin)
		rep.Hosts = append(rep.Hosts, res)
		if res.Err != nil {
			rep.Skipped = names(hosts[i+1:])
			return rep, stopped(res)
		}
	}
	for len(workers) > 0 {
		n := min(r.opts.Parallel, len(workers))
		batch := workers[:n]
		workers = workers[n:]
		results := make([]*HostResult, n)
		var wg sync.WaitGroup
		for j, h := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[j] = r.applyHost(ctx, h, confs[h], bin)
			}()
		}
		wg.Wait()
		rep.Hosts = append(rep.Hosts, results...)
		for _, res := range results {
			if res.Err != nil {
				rep.Skipped = names(workers)
				return rep, stopped(res)
			}
		}
	}
	return rep, nil
}

func names(hs []*deploy.Host) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Name)
	}
	return out
}

// stopped is Apply's error for a failed host.
func stopped(res *HostResult) error {
	switch {
	case !res.RolledBack:
		return fmt.Errorf("rollout stopped at %s: %w", res.Host, res.Err)
	case res.RollbackErr != nil:
		return fmt.Errorf("rollout stopped at %s: %w; ROLLBACK FAILED: %v", res.Host, res.Err, res.RollbackErr)
	}
	return fmt.Errorf("rollout stopped at %s: %w; %s rolled back to its previous binary and configuration", res.Host, res.Err, res.Host)
}

// hostApply is one host's apply in progress.
type hostApply struct {
	r   *Rollout
	h   *deploy.Host
	hc  *hostConfig
	bin *binary
	c   conn
	st  *hostState
	res *HostResult

	// restart are the units to (re)start.
	restart map[string]bool
	// backedUp are files replaced or deleted, their previous version kept
	// as NAME.fbs-prev; created are files that did not exist.
	backedUp, created []string
	binaryInstalled   bool
	// touched are the units stopped or started.
	touched map[string]bool
}

// stepf records a step done.
func (a *hostApply) stepf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	a.res.Steps = append(a.res.Steps, s)
	a.r.progressf(a.h, "%s", s)
}

// applyHost rolls the deploy file out to one host.
func (r *Rollout) applyHost(ctx context.Context, h *deploy.Host, hc *hostConfig, bin *binary) *HostResult {
	res := &HostResult{Host: h.Name}
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	c, err := r.connect(ctx, h)
	if err != nil {
		res.Err = err
		return res
	}
	defer c.Close()
	st, err := inspect(ctx, c, h, hc)
	if err != nil {
		res.Err = err
		return res
	}
	a := &hostApply{r: r, h: h, hc: hc, bin: bin, c: c, st: st, res: res, restart: map[string]bool{}, touched: map[string]bool{}}
	a.stepf("connected and inspected in %s", since(start))
	if err := a.prepare(ctx); err != nil {
		res.Err = err
		return res
	}
	if err := a.install(ctx); err != nil {
		res.Err = err
		res.RolledBack = true
		res.RollbackErr = a.rollback(ctx)
		return res
	}
	a.dropBackups(ctx)
	a.stepf("done in %s", time.Since(start).Round(10*time.Millisecond))
	return res
}

// prepare installs missing packages and creates service users: nothing
// a rollback undoes.
func (a *hostApply) prepare(ctx context.Context) error {
	if len(a.st.missing) > 0 {
		t := time.Now()
		var cmd string
		switch a.st.os {
		case deploy.Debian:
			cmd = "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends " + quoteAll(a.st.missing)
		case deploy.Fedora:
			cmd = "dnf install -y " + quoteAll(a.st.missing)
		}
		if _, err := a.c.Run(ctx, cmd); err != nil {
			return fmt.Errorf("%s: install packages %s: %w", a.h.Name, strings.Join(a.st.missing, " "), err)
		}
		a.res.Changed = true
		a.stepf("installed %s in %s", strings.Join(a.st.missing, " "), since(t))
	}
	for _, u := range a.st.users {
		cmd := "useradd --system --user-group --home-dir " + quote(deploy.DataDir) + " --no-create-home --shell /usr/sbin/nologin " + quote(u)
		if _, err := a.c.Run(ctx, cmd); err != nil {
			return fmt.Errorf("%s: create user %s: %w", a.h.Name, u, err)
		}
		a.res.Changed = true
		a.stepf("created user %s", u)
	}
	return nil
}

// unitOrder is the order units start in on a host.
var unitOrder = []deploy.Role{deploy.RoleRedis, deploy.RoleMonitor, deploy.RoleWeb, deploy.RoleWorker}

func unitOf(r deploy.Role) string { return "fbs-" + string(r) + ".service" }

// install stops, writes, replaces and starts, checking each start.
func (a *hostApply) install(ctx context.Context) error {
	binChanged := a.st.sha256 != a.bin.sha256
	filesChanged := false
	confChanged := a.st.changed(deploy.ConfPath)
	for _, ch := range a.st.changes {
		if ch.Kind != deploy.ChangeUnchanged {
			filesChanged = true
			if strings.HasPrefix(ch.Path, deploy.SecretsDir+"/") {
				confChanged = true
			}
		}
	}
	for _, role := range unitOrder {
		if !a.h.Has(role) {
			continue
		}
		u := unitOf(role)
		need := a.st.unit(u).Active != "active" || a.st.changed(deploy.UnitDir+"/"+u)
		if role == deploy.RoleRedis {
			need = need || a.st.changed(deploy.RedisConfPath)
		} else {
			need = need || binChanged || confChanged
		}
		a.restart[u] = need
	}
	if !binChanged && !filesChanged && !slices.Contains(mapValues(a.restart), true) {
		if err := a.enable(ctx); err != nil {
			return err
		}
		return a.checkAll(ctx, a.bin.version)
	}
	a.res.Changed = true
	worker := unitOf(deploy.RoleWorker)
	if a.restart[worker] && a.st.unit(worker).Active != "inactive" && a.st.unit(worker).Active != "failed" {
		if err := a.stopWorker(ctx); err != nil {
			return err
		}
	}
	for _, ch := range a.st.changes {
		if ch.Kind == deploy.ChangeDelete && strings.HasPrefix(ch.Path, deploy.UnitDir+"/") {
			u := strings.TrimPrefix(ch.Path, deploy.UnitDir+"/")
			if _, err := a.c.Run(ctx, "systemctl disable --now "+quote(u)); err != nil {
				return fmt.Errorf("%s: stop %s (its role is gone): %w", a.h.Name, u, err)
			}
			a.touched[u] = true
			a.stepf("stopped and disabled %s (role removed)", u)
		}
	}
	if err := a.writeFiles(ctx); err != nil {
		return err
	}
	if binChanged {
		t := time.Now()
		if err := a.c.InstallBinary(ctx, a.bin.path, deploy.BinaryPath); err != nil {
			return fmt.Errorf("%s: install the binary: %w", a.h.Name, err)
		}
		a.binaryInstalled = true
		a.stepf("installed %s %s in %s", deploy.BinaryPath, a.bin.version, since(t))
	}
	t := time.Now()
	unitsChanged := false
	for _, ch := range a.st.changes {
		unitsChanged = unitsChanged || ch.Kind != deploy.ChangeUnchanged && strings.HasPrefix(ch.Path, deploy.UnitDir+"/")
	}
	if unitsChanged {
		if _, err := a.c.Run(ctx, "systemctl daemon-reload"); err != nil {
			return fmt.Errorf("%s: systemctl daemon-reload: %w", a.h.Name, err)
		}
	}
	for _, u := range deploy.ConflictingUnits(a.h, a.st.os) {
		cmd := "if systemctl is-enabled --quiet " + quote(u) + " 2>/dev/null || systemctl is-active --quiet " + quote(u) + "; then systemctl disable --now " + quote(u) + "; fi"
		if _, err := a.c.Run(ctx, cmd); err != nil {
			return fmt.Errorf("%s: disable %s: %w", a.h.Name, u, err)
		}
	}
	if err := a.enable(ctx); err != nil {
		return err
	}
	a.stepf("systemd has the units, enabled, in %s", since(t))
	for _, role := range unitOrder {
		u := unitOf(role)
		if !a.restart[u] {
			continue
		}
		t := time.Now()
		a.touched[u] = true
		if _, err := a.c.Run(ctx, "systemctl restart "+quote(u)); err != nil {
			return fmt.Errorf("%s: start %s: %w", a.h.Name, u, err)
		}
		if err := a.check(ctx, role, a.bin.version); err != nil {
			return err
		}
		a.stepf("started %s, checked in %s", u, since(t))
	}
	// The units not restarted still have to pass.
	for _, role := range unitOrder {
		if a.h.Has(role) && !a.restart[unitOf(role)] {
			if err := a.check(ctx, role, a.bin.version); err != nil {
				return err
			}
		}
	}
	return nil
}

func mapValues(m map[string]bool) []bool {
	var out []bool
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// enable enables the host's units.
func (a *hostApply) enable(ctx context.Context) error {
	// Enabling reloads systemd: only the units not enabled yet.
	var units []string
	for _, u := range deploy.Units(a.h) {
		if a.st.unit(u).Enabled != "enabled" {
			units = append(units, u)
		}
	}
	if len(units) == 0 {
		return nil
	}
	if _, err := a.c.Run(ctx, "systemctl enable --quiet "+quoteAll(units)); err != nil {
		return fmt.Errorf("%s: enable %s: %w", a.h.Name, strings.Join(units, " "), err)
	}
	return nil
}

// stopWorker stops the worker (it drains) and waits for systemd to see it
// gone.
func (a *hostApply) stopWorker(ctx context.Context) error {
	u := unitOf(deploy.RoleWorker)
	t := time.Now()
	a.touched[u] = true
	if _, err := a.c.Run(ctx, "systemctl stop "+quote(u)); err != nil {
		return fmt.Errorf("%s: stop %s: %w", a.h.Name, u, err)
	}
	err := poll(ctx, a.r.opts.CheckTimeout, func(ctx context.Context) (bool, error) {
		us, err := unitStates(ctx, a.c, []string{u})
		if err != nil || len(us) == 0 {
			return false, err
		}
		return us[0].Active == "inactive" || us[0].Active == "failed", fmt.Errorf("%s is %s", u, us[0].Active)
	})
	if err != nil {
		return fmt.Errorf("%s: wait for %s to stop: %w", a.h.Name, u, err)
	}
	a.stepf("stopped %s (drained) in %s", u, since(t))
	return nil
}

// writeFiles writes the changed files, keeping each previous version.
func (a *hostApply) writeFiles(ctx context.Context) error {
	byPath := map[string]deploy.InstallFile{}
	for _, f := range a.hc.files {
		byPath[f.Path] = f
	}
	var backup []string
	for _, ch := range a.st.changes {
		if ch.Kind == deploy.ChangeUpdate || ch.Kind == deploy.ChangeDelete {
			backup = append(backup, "cp -a "+quote(ch.Path)+" "+quote(ch.Path+backupSuffix))
		}
	}
	if len(backup) > 0 {
		if _, err := a.c.Run(ctx, strings.Join(backup, " && ")); err != nil {
			return fmt.Errorf("%s: keep the previous files: %w", a.h.Name, err)
		}
	}
	n, t := 0, time.Now()
	for _, ch := range a.st.changes {
		switch ch.Kind {
		case deploy.ChangeUnchanged:
			continue
		case deploy.ChangeDelete:
			a.backedUp = append(a.backedUp, ch.Path)
			if _, err := a.c.Run(ctx, "rm -f "+quote(ch.Path)); err != nil {
				return fmt.Errorf("%s: delete %s: %w", a.h.Name, ch.Path, err)
			}
		default:
			if ch.Kind == deploy.ChangeUpdate {
				a.backedUp = append(a.backedUp, ch.Path)
			} else {
				a.created = append(a.created, ch.Path)
			}
			if err := a.c.WriteFile(ctx, byPath[ch.Path]); err != nil {
				return fmt.Errorf("%s: write %s: %w", a.h.Name, ch.Path, err)
			}
		}
		n++
	}
	if n > 0 {
		a.stepf("wrote %d file(s) in %s", n, since(t))
	}
	return nil
}

// checkAll checks every unit of the host.
func (a *hostApply) checkAll(ctx context.Context, version string) error {
	for _, role := range unitOrder {
		if a.h.Has(role) {
			if err := a.check(ctx, role, version); err != nil {
				return err
			}
		}
	}
	return nil
}

// check waits until the unit of role answers: Redis PING, /healthz, or a
// heartbeat from the worker's current process carrying version (any
// version when version is "").
func (a *hostApply) check(ctx context.Context, role deploy.Role, version string) error {
	u := unitOf(role)
	var err error
	switch role {
	case deploy.RoleRedis:
		err = poll(ctx, a.r.opts.CheckTimeout, func(ctx context.Context) (bool, error) {
			out, err := a.c.Run(ctx, a.hc.redisCmd)
			if err != nil {
				return false, err
			}
			return strings.TrimSpace(string(out)) == "PONG", fmt.Errorf("PING answered %q", firstLine(string(out)))
		})
	case deploy.RoleWeb, deploy.RoleMonitor:
		url := a.hc.webURL
		if role == deploy.RoleMonitor {
			url = a.hc.monURL
		}
		err = poll(ctx, a.r.opts.CheckTimeout, func(ctx context.Context) (bool, error) {
			return healthz(ctx, a.c, url)
		})
		if err != nil {
			err = fmt.Errorf("%s: %w", url, err)
		}
	case deploy.RoleWorker:
		err = poll(ctx, a.r.opts.CheckTimeout, func(ctx context.Context) (bool, error) {
			pid, err := mainPID(ctx, a.c, u)
			if err != nil || pid == 0 {
				return false, fmt.Errorf("%s has no main process", u)
			}
			ws, err := heartbeats(ctx, a.c)
			if err != nil {
				return false, err
			}
			id := a.st.hostname + "/" + strconv.Itoa(pid)
			for _, w := range ws {
				if w.ID == id {
					if version != "" && w.Version != version {
						return false, fmt.Errorf("worker %s runs version %q, want %q", id, w.Version, version)
					}
					return true, nil
				}
			}
			return false, fmt.Errorf("no heartbeat from worker %s", id)
		})
	}
	if err != nil {
		return fmt.Errorf("%s: check %s: %w", a.h.Name, u, err)
	}
	return nil
}

// healthz asks url from the host itself.
func healthz(ctx context.Context, c conn, url string) (bool, error) {
	out, err := c.Run(ctx, "curl -fsS --max-time 5 "+quote(url))
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(out)) == "ok", fmt.Errorf("answered %q", firstLine(string(out)))
}

// mainPID is the main process of unit, 0 when it has none.
func mainPID(ctx context.Context, c conn, unit string) (int, error) {
	out, err := c.Run(ctx, "systemctl show -p MainPID --value "+quote(unit))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(out)))
}

// heartbeats reads the live workers' heartbeats with the host's fbs and
// its configuration (`fbs workers --json`).
func heartbeats(ctx context.Context, c conn) ([]*builds.WorkerInfo, error) {
	out, err := c.Run(ctx, deploy.BinaryPath+" --config "+deploy.ConfPath+" workers --json")
	if err != nil {
		return nil, fmt.Errorf("read heartbeats: %w", err)
	}
	var ws []*builds.WorkerInfo
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var w builds.WorkerInfo
		if err := dec.Decode(&w); err != nil {
			return nil, fmt.Errorf("read heartbeats: %w", err)
		}
		ws = append(ws, &w)
	}
	return ws, nil
}

// rollback puts the host back as it was and checks it. It runs even when
// ctx was cancelled: a half-upgraded host is worse than a late answer.
func (a *hostApply) rollback(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 4*a.r.opts.CheckTimeout+2*time.Minute)
	defer cancel()
	t := time.Now()
	worker := unitOf(deploy.RoleWorker)
	if a.touched[worker] {
		// Drain the new worker before its binary goes.
		a.c.Run(ctx, "systemctl stop "+quote(worker))
	}
	var cmds []string
	for _, p := range a.backedUp {
		cmds = append(cmds, "mv -f "+quote(p+backupSuffix)+" "+quote(p))
	}
	for _, p := range a.created {
		cmds = append(cmds, "rm -f "+quote(p))
	}
	if len(cmds) > 0 {
		if _, err := a.c.Run(ctx, strings.Join(cmds, " && ")); err != nil {
			return fmt.Errorf("restore the previous files: %w", err)
		}
	}
	if a.binaryInstalled {
		if a.st.sha256 == "" {
			if _, err := a.c.Run(ctx, "rm -f "+deploy.BinaryPath); err != nil {
				return fmt.Errorf("remove the new binary: %w", err)
			}
		} else if err := a.c.RestorePrevious(ctx, deploy.BinaryPath); err != nil {
			return fmt.Errorf("restore the previous binary: %w", err)
		}
	}
	if _, err := a.c.Run(ctx, "systemctl daemon-reload"); err != nil {
		return fmt.Errorf("systemctl daemon-reload: %w", err)
	}
	for _, role := range unitOrder {
		u := unitOf(role)
		if !a.touched[u] {
			continue
		}
		before := a.st.unit(u)
		if before.Active != "active" {
			a.c.Run(ctx, "systemctl stop "+quote(u))
			if before.Enabled != "enabled" {
				a.c.Run(ctx, "systemctl disable --quiet "+quote(u)+" 2>/dev/null || true")
			}
			continue
		}
		if _, err := a.c.Run(ctx, "systemctl restart "+quote(u)); err != nil {
			return fmt.Errorf("restart %s: %w", u, err)
		}
		if err := a.check(ctx, role, ""); err != nil {
			return err
		}
	}
	a.stepf("rolled back to %s and the previous configuration in %s", orNone(a.st.version), since(t))
	return nil
}

func orNone(v string) string {
	if v == "" {
		return "no binary"
	}
	return v
}

// dropBackups removes the previous files of a host that succeeded.
func (a *hostApply) dropBackups(ctx context.Context) {
	if len(a.backedUp) == 0 {
		return
	}
	var ps []string
	for _, p := range a.backedUp {
		ps = append(ps, quote(p+backupSuffix))
	}
	a.c.Run(ctx, "rm -f "+strings.Join(ps, " "))
}

func since(t time.Time) time.Duration { return time.Since(t).Round(10 * time.Millisecond) }

// WriteReport writes rep for a person.
func WriteReport(w io.Writer, rep *Report) error {
	var b strings.Builder
	for _, h := range rep.Hosts {
		state := "ok"
		switch {
		case h.Err != nil && h.RolledBack && h.RollbackErr == nil:
			state = "FAILED, rolled back"
		case h.Err != nil && h.RolledBack:
			state = "FAILED, ROLLBACK FAILED"
		case h.Err != nil:
			state = "FAILED"
		case !h.Changed:
			state = "up to date"
		}
		fmt.Fprintf(&b, "%s: %s (%s)\n", h.Host, state, h.Duration.Round(10*time.Millisecond))
		for _, s := range h.Steps {
			fmt.Fprintf(&b, "  %s\n", s)
		}
		if h.Err != nil {
			fmt.Fprintf(&b, "  error: %v\n", h.Err)
		}
		if h.RollbackErr != nil {
			fmt.Fprintf(&b, "  rollback error: %v\n", h.RollbackErr)
		}
	}
	if len(rep.Skipped) > 0 {
		fmt.Fprintf(&b, "not touched (rollout stopped): %s\n", strings.Join(rep.Skipped, ", "))
	}
	fmt.Fprintf(&b, "rollout: %d host(s) in %s\n", len(rep.Hosts), rep.Duration.Round(10*time.Millisecond))
	_, err := io.WriteString(w, b.String())
	return err
}
