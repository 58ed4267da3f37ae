package deploy

import (
	"net"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/ini.v1"

	"github.com/fedora-fbs/fbs/tasks"
)

// The sections of the original service's deploy.conf.
const (
	origBroker   = "broker"
	origReleases = "releases"
	origMaster   = "master"
	origWorkers  = "workers-"
	origSMTP     = "SMTP"
)

// isOriginal reports whether the file is the original service's
// deploy.conf: it has one of the sections only that form has.
func isOriginal(f *ini.File) bool {
	for _, s := range f.SectionStrings() {
		if s == origBroker || s == origMaster || s == origSMTP || strings.HasPrefix(s, origWorkers) {
			return true
		}
	}
	return false
}

// unquote strips the single quotes the original's comments ask for
// ("single quotes needed"); ini.v1 strips double quotes itself.
func unquote(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	return v
}

// original reads the original service's deploy.conf and maps it onto fbs
// roles; see doc/howto.md, "The original deploy.conf", for the mapping.
func (r *reader) original() {
	common := map[string]confValue{}
	var releases []string
	releasesLine := 0
	var workerReleases []string
	var master *Host
	for _, s := range r.ini.Sections() {
		name := s.Name()
		line := r.idx.SectionLine(name)
		switch {
		case name == ini.DefaultSection:
			for _, k := range s.Keys() {
				r.errorf(r.keyLine(name, k.Name()), "", k.Name(), "key %s is outside any section", k.Name())
			}
		case name == origBroker:
			for _, k := range s.Keys() {
				r.warnf(r.keyLine(name, k.Name()), name, k.Name(),
					"RabbitMQ (AMQP) brokers are no longer used and this URL is ignored: fbs queues builds in Redis, on the [master] host (redis role), which every worker reaches at redis://MASTER:6379/0")
			}
		case name == origReleases:
			for _, k := range s.Keys() {
				kl := r.keyLine(name, k.Name())
				if k.Name() != "releases" {
					r.errorf(kl, name, k.Name(), "unknown key (known keys in [releases]: releases)")
					continue
				}
				releasesLine = kl
				for _, rel := range strings.Split(unquote(k.Value()), ",") {
					if rel = strings.TrimSpace(rel); rel == "" {
						continue
					}
					if !tasks.ValidRelease(rel) {
						r.errorf(kl, name, k.Name(), "unknown release %q (want numbers such as 42, or rawhide)", rel)
						continue
					}
					if !slices.Contains(releases, rel) {
						releases = append(releases, rel)
					}
				}
			}
		case name == origMaster:
			master = r.origMaster(s)
		case strings.HasPrefix(name, origWorkers):
			rel := strings.TrimPrefix(name, origWorkers)
			if !tasks.ValidRelease(rel) {
				r.errorf(line, name, "", "unknown release %q in the section name (want [workers-NUMBER] or [workers-rawhide])", rel)
				continue
			}
			if r.origWorkers(s, rel) && !slices.Contains(workerReleases, rel) {
				workerReleases = append(workerReleases, rel)
			}
		case name == origSMTP:
			r.origSMTP(s, common)
		default:
			r.errorf(line, name, "", "unknown section of the original deploy.conf (known: [broker], [releases], [master], [workers-RELEASE], [SMTP])")
		}
	}
	if master == nil && len(r.errs) == 0 {
		r.errorf(0, "", "", "no [master] section: the original deploy.conf names the web host there (host = user@host)")
	}
	for _, rel := range workerReleases {
		if !slices.Contains(releases, rel) {
			r.warnf(r.idx.SectionLine(origWorkers+rel), origWorkers+rel, "",
				"release %s has workers but is not in [releases] releases: added to [releases] list", rel)
			releases = append(releases, rel)
		}
	}
	if len(releases) > 0 {
		common["releases.list"] = confValue{value: strings.Join(releases, ","), at: origin{releasesLine, sectionKey(origReleases, "releases")}}
	}
	// The original built every arch it had workers for (i686 included).
	var arches []string
	for _, h := range r.f.Hosts {
		if h.Arch != "" && !slices.Contains(arches, h.Arch) {
			arches = append(arches, h.Arch)
		}
	}
	if len(arches) > 0 {
		slices.Sort(arches)
		common["releases.arches"] = confValue{value: strings.Join(arches, ",")}
	}
	if master != nil && isLoopback(master.Addr) && len(r.f.Hosts) > 1 {
		r.warnf(master.line, origMaster, "host", "the web host is %s: workers on other hosts would look for Redis on themselves at that address; use an address they reach", master.Addr)
	}
	if len(r.errs) > 0 {
		return
	}
	r.redis(DefaultRedisPort, 0)
	for _, h := range r.f.Hosts {
		r.hostConf(h, common, nil)
	}
}

func isLoopback(addr string) bool {
	if ip := net.ParseIP(addr); ip != nil {
		return ip.IsLoopback()
	}
	return addr == "localhost" || strings.HasSuffix(addr, ".localhost")
}

// origHost finds or adds the host at user@addr; line is where it is
// named.
func (r *reader) origHost(line int, section, key, userAt string) *Host {
	user, addr, ok := strings.Cut(strings.TrimSpace(userAt), "@")
	if !ok {
		user, addr = "root", user
	}
	if user == "" || addr == "" || strings.ContainsAny(addr, "@/ \t") || !validHostName(addr) {
		r.errorf(line, section, key, "%q is not user@host", userAt)
		return nil
	}
	for _, h := range r.f.Hosts {
		if h.Addr == addr {
			if h.User != user {
				r.errorf(line, section, key, "host %s is logged in to as %s here and as %s on line %d: one user per host", addr, user, h.User, h.line)
				return nil
			}
			return h
		}
	}
	h := &Host{Name: addr, Addr: addr, Port: 22, User: user, Concurrency: 1, line: line, origins: map[string]origin{}}
	r.f.Hosts = append(r.f.Hosts, h)
	return h
}

func (r *reader) origMaster(s *ini.Section) *Host {
	name := s.Name()
	var master *Host
	for _, k := range s.Keys() {
		kl := r.keyLine(name, k.Name())
		switch k.Name() {
		case "host":
			if master = r.origHost(kl, name, k.Name(), unquote(k.Value())); master != nil {
				for _, role := range []Role{RoleWeb, RoleMonitor, RoleRedis} {
					if !master.Has(role) {
						master.Roles = append(master.Roles, role)
					}
				}
				master.Roles = sortRoles(master.Roles)
			}
		case "workdir":
			r.warnf(kl, name, k.Name(), "ignored: the web front end keeps no work directory (builds and their records are in Redis; its state is in %s)", DataDir)
		default:
			r.errorf(kl, name, k.Name(), "unknown key (known keys in [master]: host, workdir)")
		}
	}
	if master == nil && !s.HasKey("host") {
		r.errorf(r.idx.SectionLine(name), name, "host", "missing: the web host, as user@host")
	}
	return master
}

// origWorkers reads [workers-RELEASE]: arch = user@host;user@host. It
// reports whether the section named any worker.
func (r *reader) origWorkers(s *ini.Section, release string) bool {
	name := s.Name()
	any := false
	for _, k := range s.Keys() {
		kl := r.keyLine(name, k.Name())
		if k.Name() == "workdir" {
			r.warnf(kl, name, k.Name(), "ignored: workers keep their builds in [worker] data_dir (%s); a directory under /tmp would be emptied whenever the worker restarts (its unit has a private /tmp)", DataDir)
			continue
		}
		arch := k.Name()
		if !tasks.ValidArch(arch) {
			r.errorf(kl, name, arch, "unknown arch %q (want one of %s, or workdir)", arch, strings.Join(tasks.Arches, ", "))
			continue
		}
		for _, userAt := range strings.Split(unquote(k.Value()), ";") {
			if strings.TrimSpace(userAt) == "" {
				continue
			}
			h := r.origHost(kl, name, arch, userAt)
			if h == nil {
				continue
			}
			if h.Has(RoleWorker) && h.Arch != arch {
				r.errorf(kl, name, arch, "host %s builds %s here and %s on line %d: a worker builds one arch", h.Addr, arch, h.Arch, h.origins["worker.arch"].line)
				continue
			}
			if !h.Has(RoleWorker) {
				h.Roles = sortRoles(append(h.Roles, RoleWorker))
				h.Arch = arch
				h.origins["worker.arch"] = origin{kl, sectionKey(name, arch)}
				h.origins["worker.releases"] = origin{kl, sectionKey(name, arch)}
			}
			if !slices.Contains(h.Releases, release) {
				h.Releases = append(h.Releases, release)
			}
			any = true
		}
	}
	return any
}

// origSMTP maps [SMTP] onto fbs.conf's [smtp].
func (r *reader) origSMTP(s *ini.Section, common map[string]confValue) {
	name := s.Name()
	for _, k := range s.Keys() {
		kl := r.keyLine(name, k.Name())
		v := unquote(k.Value())
		switch k.Name() {
		case "server":
			common["smtp.host"] = confValue{value: v, at: origin{kl, sectionKey(name, k.Name())}}
		case "port":
			common["smtp.port"] = confValue{value: v, at: origin{kl, sectionKey(name, k.Name())}}
			if n, err := strconv.Atoi(v); err == nil && n == 465 {
				common["smtp.tls"] = confValue{value: "tls", at: origin{kl, sectionKey(name, k.Name())}}
			}
		case "login":
			common["smtp.username"] = confValue{value: v, at: origin{kl, sectionKey(name, k.Name())}}
			if tasks.CheckEmail(v) == nil {
				common["smtp.from"] = confValue{value: v, at: origin{kl, sectionKey(name, k.Name())}}
			}
		case "password":
			r.warnf(kl, name, k.Name(), "an inline password: installed as the secret file %s (mode 0600) and named by [smtp] password_file; keep it out of the deploy file", secretPath("smtp.password_file"))
			if v == "" {
				r.errorf(kl, name, k.Name(), "empty password")
				continue
			}
			p := secretPath("smtp.password_file")
			common["smtp.password_file"] = confValue{value: p, at: origin{kl, sectionKey(name, k.Name())},
				secret: &Secret{Key: "smtp.password_file", Path: p, Source: sectionKey(name, k.Name()) + " of " + r.path + ":" + strconv.Itoa(kl), content: []byte(v + "\n")}}
		default:
			r.errorf(kl, name, k.Name(), "unknown key (known keys in [SMTP]: server, port, login, password)")
		}
	}
}
