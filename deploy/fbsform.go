package deploy

import (
	"net"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/ini.v1"

	"github.com/fedora-fbs/fbs/tasks"
)

// The sections of fbs's form.
const (
	sectionDeploy = "deploy"
	sectionConf   = "conf"
	hostPrefix    = "host "
	confPrefix    = "conf "
)

// sshDefaults are the SSH settings a host takes from [deploy] unless its
// own section sets them.
type sshDefaults struct {
	user, key, knownHosts string
	port                  int
}

// confValue is one fbs.conf value as the deploy file set it.
type confValue struct {
	value string
	at    origin
	// secret is the secret file a secret key refers to, nil otherwise.
	secret *Secret
}

// fbsForm reads fbs's own form.
func (r *reader) fbsForm() {
	ssh := sshDefaults{user: "root", port: 22}
	redisPort := DefaultRedisPort
	redisURLLine := 0
	if s, err := r.ini.GetSection(sectionDeploy); err == nil {
		for _, k := range s.Keys() {
			line, v := r.keyLine(sectionDeploy, k.Name()), strings.TrimSpace(k.Value())
			switch k.Name() {
			case "binary":
				if p, err := r.localPath(v); err != nil {
					r.errorf(line, sectionDeploy, k.Name(), "%v", err)
				} else if v != "" {
					r.f.Binary = p
				}
			case "user", "port", "key", "known_hosts":
				r.sshKey(&ssh, sectionDeploy, k.Name(), v)
			case "redis_url":
				r.f.RedisURL, redisURLLine = v, line
				if u, err := url.Parse(v); err == nil && u.User != nil {
					if _, ok := u.User.Password(); ok {
						r.errorf(line, sectionDeploy, k.Name(), "the URL holds a password: inline secrets are not accepted (give the Redis host a redis role, or use a Redis without a password)")
					}
				}
			case "redis_port":
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > 65535 {
					r.errorf(line, sectionDeploy, k.Name(), "%q is not a port (1-65535)", v)
				}
				redisPort = n
			default:
				r.errorf(line, sectionDeploy, k.Name(), "unknown key (known keys in [deploy]: binary, user, port, key, known_hosts, redis_url, redis_port)")
			}
		}
	}
	common := map[string]confValue{}
	overrides := map[string]map[string]confValue{}
	for _, s := range r.ini.Sections() {
		name := s.Name()
		line := r.idx.SectionLine(name)
		switch {
		case name == ini.DefaultSection:
			for _, k := range s.Keys() {
				r.errorf(r.keyLine(name, k.Name()), "", k.Name(), "key %s is outside any section", k.Name())
			}
		case name == sectionDeploy:
		case strings.HasPrefix(name, hostPrefix):
			r.fbsHost(s, strings.TrimSpace(strings.TrimPrefix(name, hostPrefix)), ssh)
		case name == sectionConf:
			r.confSection(s, common)
		case strings.HasPrefix(name, confPrefix):
			host := strings.TrimSpace(strings.TrimPrefix(name, confPrefix))
			overrides[host] = map[string]confValue{}
			r.confSection(s, overrides[host])
		default:
			r.errorf(line, name, "", "unknown section (known: [deploy], [host NAME], [conf], [conf NAME])")
		}
	}
	for host := range overrides {
		if !slices.ContainsFunc(r.f.Hosts, func(h *Host) bool { return h.Name == host }) {
			r.errorf(r.idx.SectionLine(confPrefix+host), confPrefix+host, "", "no [host %s] section", host)
		}
	}
	if len(r.f.Hosts) == 0 && len(r.errs) == 0 {
		r.errorf(0, "", "", "no hosts: add a [host NAME] section per host")
	}
	if len(r.errs) > 0 {
		return // the rest would report the same problems again
	}
	r.redis(redisPort, redisURLLine)
	for _, h := range r.f.Hosts {
		r.hostConf(h, common, overrides[h.Name])
	}
}

// sshKey reads one SSH setting into d.
func (r *reader) sshKey(d *sshDefaults, section, key, v string) {
	line := r.keyLine(section, key)
	switch key {
	case "user":
		if v == "" || strings.ContainsAny(v, "@: \t") {
			r.errorf(line, section, key, "%q is not a user name", v)
		}
		d.user = v
	case "port":
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			r.errorf(line, section, key, "%q is not a port (1-65535)", v)
		}
		d.port = n
	case "key", "known_hosts":
		p := ""
		if v != "" {
			var err error
			if p, err = r.localPath(v); err != nil {
				r.errorf(line, section, key, "%v", err)
			}
		}
		if key == "key" {
			d.key = p
		} else {
			d.knownHosts = p
		}
	}
}

// fbsHost reads a [host NAME] section.
func (r *reader) fbsHost(s *ini.Section, name string, ssh sshDefaults) {
	section := s.Name()
	line := r.idx.SectionLine(section)
	if !validHostName(name) {
		r.errorf(line, section, "", "host name %q: want a letter or digit, then letters, digits, dots, dashes, underscores and colons", name)
		return
	}
	h := &Host{Name: name, Addr: name, line: line, Concurrency: 1, origins: map[string]origin{}}
	rolesSet := false
	for _, k := range s.Keys() {
		kl, v := r.keyLine(section, k.Name()), strings.TrimSpace(k.Value())
		switch k.Name() {
		case "address":
			if v == "" || strings.ContainsAny(v, "@/ \t") {
				r.errorf(kl, section, k.Name(), "%q is not a host name or IP address", v)
			}
			h.Addr = strings.Trim(v, "[]")
		case "user", "port", "key", "known_hosts":
			r.sshKey(&ssh, section, k.Name(), v)
		case "roles":
			rolesSet = true
			for _, w := range strings.Split(v, ",") {
				if w = strings.TrimSpace(w); w == "" {
					continue
				}
				role, err := ParseRole(w)
				if err != nil {
					r.errorf(kl, section, k.Name(), "%v", err)
					continue
				}
				if h.Has(role) {
					r.errorf(kl, section, k.Name(), "role %s is listed twice", role)
					continue
				}
				h.Roles = append(h.Roles, role)
			}
		case "arch":
			if !tasks.ValidArch(v) {
				r.errorf(kl, section, k.Name(), "unknown arch %q (want one of %s)", v, strings.Join(tasks.Arches, ", "))
			}
			h.Arch = v
			h.origins["worker.arch"] = origin{kl, sectionKey(section, k.Name())}
		case "releases":
			for _, rel := range strings.Split(v, ",") {
				if rel = strings.TrimSpace(rel); rel != "" {
					h.Releases = append(h.Releases, rel)
				}
			}
			h.origins["worker.releases"] = origin{kl, sectionKey(section, k.Name())}
		case "concurrency":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				r.errorf(kl, section, k.Name(), "%q is not a whole number of at least 1", v)
			}
			h.Concurrency = n
			h.origins["worker.concurrency"] = origin{kl, sectionKey(section, k.Name())}
		case "redis_bind":
			for _, a := range strings.Split(v, ",") {
				if a = strings.TrimSpace(a); a == "" {
					continue
				}
				if net.ParseIP(a) == nil {
					r.errorf(kl, section, k.Name(), "%q is not an IP address", a)
				}
				h.RedisBind = append(h.RedisBind, a)
			}
		default:
			r.errorf(kl, section, k.Name(), "unknown key (known keys in [host NAME]: address, roles, user, port, key, known_hosts, arch, releases, concurrency, redis_bind)")
		}
	}
	h.Roles = sortRoles(h.Roles)
	if !rolesSet || len(h.Roles) == 0 {
		r.errorf(line, section, "roles", "missing: say what the host runs (web, monitor, worker, redis, comma separated)")
	}
	if !h.Has(RoleWorker) {
		for _, k := range []string{"arch", "releases", "concurrency"} {
			if s.HasKey(k) {
				r.errorf(r.keyLine(section, k), section, k, "only a worker has %s (roles: %s)", k, rolesString(h.Roles))
			}
		}
	}
	if len(h.RedisBind) > 0 && !h.Has(RoleRedis) {
		r.errorf(r.keyLine(section, "redis_bind"), section, "redis_bind", "only a redis host has redis_bind (roles: %s)", rolesString(h.Roles))
	}
	h.User, h.Port, h.KeyFile, h.KnownHosts = ssh.user, ssh.port, ssh.key, ssh.knownHosts
	for _, o := range r.f.Hosts {
		if o.Name == h.Name {
			r.errorf(line, section, "", "host %s is declared twice (first on line %d)", name, o.line)
			return
		}
		if o.Addr == h.Addr && o.Port == h.Port {
			r.errorf(line, section, "address", "host %s has the address %s of host %s (line %d): one section per host", name, h.Addr, o.Name, o.line)
		}
	}
	r.f.Hosts = append(r.f.Hosts, h)
}

// validHostName accepts host names, IPv4 and IPv6 addresses: what may name
// a host in messages and, under fbs deploy render's directory, a path.
func validHostName(s string) bool {
	if s == "" || len(s) > 253 || !isAlnum(rune(s[0])) {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_', c == ':':
		default:
			return false
		}
	}
	return true
}

func isAlnum(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func sortRoles(roles []Role) []Role {
	var out []Role
	for _, r := range roleOrder {
		if slices.Contains(roles, r) {
			out = append(out, r)
		}
	}
	return out
}

func rolesString(roles []Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

// confSection reads a [conf] or [conf NAME] section: fbs.conf keys written
// section.key.
func (r *reader) confSection(s *ini.Section, into map[string]confValue) {
	section := s.Name()
	for _, k := range s.Keys() {
		name, line := k.Name(), r.keyLine(section, k.Name())
		v := strings.TrimSpace(k.Value())
		confSec, confKey, ok := strings.Cut(name, ".")
		if !ok || confSec == "" || confKey == "" {
			r.errorf(line, section, name, "write fbs.conf keys as section.key, e.g. smtp.host")
			continue
		}
		if strings.ContainsFunc(v, func(c rune) bool { return c < ' ' && c != '\t' }) {
			r.errorf(line, section, name, "value contains a control character")
			continue
		}
		if fileKey, ok := inlineSecret(name); ok {
			r.errorf(line, section, name, "inline secrets are not accepted: write %s = FILE, a local file holding the secret (installed as %s)", fileKey, secretPath(fileKey))
			continue
		}
		switch name {
		case "redis.url":
			r.errorf(line, section, name, "the Redis URL comes from the host with the redis role or from [deploy] redis_url")
			continue
		case "worker.arch", "worker.releases", "worker.concurrency":
			r.errorf(line, section, name, "set it in the worker's [host NAME] section as %s", confKey)
			continue
		}
		cv := confValue{value: v, at: origin{line, sectionKey(section, name)}}
		if secretName(name) != "" && v != "" {
			b, src, ok := r.readSecret(line, section, name, v)
			if !ok {
				continue
			}
			cv.value = secretPath(name)
			cv.secret = &Secret{Key: name, Path: cv.value, Source: src, content: b}
		}
		into[name] = cv
	}
}

// secretName is the name under SecretsDir of the file a secret key of
// fbs.conf refers to, or "" when key names no secret.
func secretName(key string) string {
	switch key {
	case "smtp.password_file":
		return "smtp-password"
	case "oidc.client_secret_file":
		return "oidc-client-secret"
	case "staging.ssh_key":
		return "staging-ssh-key"
	case "staging.passwords_file":
		return "staging-passwords"
	}
	return ""
}

// secretRole is the role that reads the secret key names: only its hosts
// get the file (fbs.conf names it everywhere, so that every host's
// configuration reads the same).
func secretRole(key string) Role {
	switch key {
	case "smtp.password_file":
		return RoleMonitor // the monitor sends every mail
	case "oidc.client_secret_file":
		return RoleWeb
	}
	return RoleWorker // staging credentials
}

func secretPath(key string) string { return path.Join(SecretsDir, secretName(key)) }

// inlineSecret reports whether key would hold a secret inline, and the key
// that refers to a file instead.
func inlineSecret(key string) (string, bool) {
	switch key {
	case "smtp.password":
		return "smtp.password_file", true
	case "oidc.client_secret":
		return "oidc.client_secret_file", true
	case "staging.password", "staging.passwords":
		return "staging.passwords_file", true
	}
	return "", false
}
