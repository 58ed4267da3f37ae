package deploy

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
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
		r.redisLine = redis.line
	case r.f.RedisURL != "":
		r.redisLine = urlLine
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
		vals["redis.url"] = confValue{value: r.f.RedisURL, line: r.redisLine}
	}
	if _, ok := vals["worker.data_dir"]; !ok {
		vals["worker.data_dir"] = confValue{value: DataDir}
	}
	if h.Has(RoleWorker) {
		if h.Arch != "" {
			vals["worker.arch"] = confValue{value: h.Arch, line: h.origins["worker.arch"]}
		}
		if len(h.Releases) > 0 {
			vals["worker.releases"] = confValue{value: strings.Join(h.Releases, ","), line: h.origins["worker.releases"]}
		}
		vals["worker.concurrency"] = confValue{value: strconv.Itoa(h.Concurrency), line: h.origins["worker.concurrency"]}
	}
	h.Config = map[string]map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		v := vals[k]
		sec, key, _ := strings.Cut(k, ".")
		if h.Config[sec] == nil {
			h.Config[sec] = map[string]string{}
		}
		h.Config[sec][key] = v.value
		if v.line > 0 {
			h.origins[k] = v.line
		}
		if v.secret != nil && h.Has(secretRole(k)) {
			h.Secrets = append(h.Secrets, *v.secret)
		}
	}
}

// finish checks every host's fbs.conf with conf's own loader.
func (r *reader) finish() {
	for _, h := range r.f.Hosts {
		if _, err := loadConf(h); err != nil {
			var ce conf.Errors
			if !errors.As(err, &ce) {
				r.errorf(h.line, "", "", "host %s: check its fbs.conf: %v", h.Name, err)
				continue
			}
			for _, e := range ce {
				k := e.Section + "." + e.Key
				line, ok := h.origins[k]
				if !ok {
					line = h.line
				}
				r.errs = append(r.errs, &Error{File: r.path, Line: line, Key: k,
					Reason: fmt.Sprintf("host %s: %s", h.Name, e.Reason)})
			}
		}
	}
}

// loadConf loads h's rendered fbs.conf with conf.Load, the loader fbs
// itself uses on the host, from a temporary file.
func loadConf(h *Host) (*conf.Config, error) {
	f, err := os.CreateTemp("", "fbs-deploy-*.conf")
	if err != nil {
		return nil, fmt.Errorf("check fbs.conf of %s: %w", h.Name, err)
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(renderConf(h))
	if err := f.Close(); werr != nil || err != nil {
		return nil, fmt.Errorf("check fbs.conf of %s: write %s: %w", h.Name, f.Name(), errors.Join(werr, err))
	}
	return conf.Load(f.Name(), nil)
}
