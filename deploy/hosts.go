package deploy

import (
	"errors"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/fedora-fbs/fbs/conf"
)

// redis finds the Redis host and sets the URL every host uses.
func (r *reader) redis(port, urlLine int) {
	var redis *Host
	for _, h := range r.f.Hosts {
		if !h.Has(RoleRedis) {
			continue
		}
		if redis != nil {
			r.errorf(h.line, hostPrefix+h.Name, "roles", "host %s has the redis role too (first: %s, line %d): one Redis serves the deployment", h.Name, redis.Name, redis.line)
			continue
		}
		redis = h
	}
	switch {
	case redis != nil && r.f.RedisURL != "":
		r.errorf(urlLine, sectionDeploy, "redis_url", "host %s has the redis role: its URL is the Redis URL (remove redis_url or the role)", redis.Name)
	case redis != nil:
		redis.RedisPort = port
		if len(redis.RedisBind) == 0 {
			switch ip := net.ParseIP(redis.Addr); {
			case ip != nil:
				redis.RedisBind = []string{ip.String()}
			case redis.Addr == "localhost":
				redis.RedisBind = []string{"127.0.0.1"}
			default:
				r.errorf(redis.line, hostPrefix+redis.Name, "redis_bind", "address %s is not an IP address: say which addresses Redis listens on", redis.Addr)
			}
		}
		r.f.RedisURL = "redis://" + net.JoinHostPort(redis.Addr, strconv.Itoa(port)) + "/0"
		r.redisAt = origin{redis.line, sectionKey(hostPrefix+redis.Name, "roles")}
	case r.f.RedisURL != "":
		r.redisAt = origin{urlLine, sectionKey(sectionDeploy, "redis_url")}
	case len(r.f.Hosts) > 0:
		r.errorf(0, "", "", "no Redis: give one host the redis role, or set [deploy] redis_url")
	}
}

// hostConf fills h.Config and h.Secrets from the common configuration,
// the host's overrides and the host itself.
func (r *reader) hostConf(h *Host, common, override map[string]confValue) {
	vals := maps.Clone(common)
	maps.Copy(vals, override)
	if r.f.RedisURL != "" {
		vals["redis.url"] = confValue{value: r.f.RedisURL, at: r.redisAt}
	}
	if _, ok := vals["worker.data_dir"]; !ok {
		vals["worker.data_dir"] = confValue{value: DataDir}
	}
	if h.Has(RoleWorker) {
		if h.Arch != "" {
			vals["worker.arch"] = confValue{value: h.Arch, at: h.origins["worker.arch"]}
		}
		if len(h.Releases) > 0 {
			vals["worker.releases"] = confValue{value: strings.Join(h.Releases, ","), at: h.origins["worker.releases"]}
		}
		vals["worker.concurrency"] = confValue{value: strconv.Itoa(h.Concurrency), at: h.origins["worker.concurrency"]}
	}
	h.Config = map[string]map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		v := vals[k]
		sec, key, _ := strings.Cut(k, ".")
		if h.Config[sec] == nil {
			h.Config[sec] = map[string]string{}
		}
		h.Config[sec][key] = v.value
		if v.at.line > 0 {
			h.origins[k] = v.at
		}
		if v.secret != nil && h.Has(secretRole(k)) {
			h.Secrets = append(h.Secrets, *v.secret)
		}
	}
}

// finish checks every host's fbs.conf with conf's own loader. A problem
// is reported at the line that set the value, once for all the hosts it
// affects.
func (r *reader) finish() {
	type problem struct {
		at     origin
		reason string
	}
	var order []problem
	hosts := map[problem][]string{}
	for _, h := range r.f.Hosts {
		if h.User != "root" {
			r.warnf(h.line, "", "", "host %s logs in as %s: installing needs root (it writes /etc and /usr/local/bin, sets owners, runs systemctl); render works, apply will not", h.Name, h.User)
		}
	}
	for _, h := range r.f.Hosts {
		_, err := loadConf(h)
		if err == nil {
			continue
		}
		var ce conf.Errors
		if !errors.As(err, &ce) {
			r.errorf(h.line, "", "", "host %s: check its fbs.conf: %v", h.Name, err)
			continue
		}
		for _, e := range ce {
			k := e.Section + "." + e.Key
			at, ok := h.origins[k]
			if !ok {
				at = origin{h.line, k}
			}
			p := problem{at, e.Reason}
			if hosts[p] == nil {
				order = append(order, p)
			}
			hosts[p] = append(hosts[p], h.Name)
		}
	}
	for _, p := range order {
		what := "host " + hosts[p][0]
		if len(hosts[p]) > 1 {
			what = "hosts " + strings.Join(hosts[p], ", ")
		}
		r.errs = append(r.errs, &Error{File: r.path, Line: p.at.line, Key: p.at.key, Reason: what + ": " + p.reason})
	}
}

// loadConf loads h's rendered fbs.conf with conf's own loader, the one
// fbs runs on the host.
func loadConf(h *Host) (*conf.Config, error) {
	return conf.Parse(ConfPath, renderConf(h), nil)
}
