// Package redisurl is the one rule for the Redis URLs fbs takes ([redis] url,
// FBS_REDIS_URL, --redis): it parses them into go-redis options, for the
// configuration loader to check and for every command to connect with.
//
// Accepted forms:
//
//	redis://[[user]:password@]host[:port][/db]
//	rediss://[[user]:password@]host[:port][/db]                  (TLS)
//	unix://[[user]:password@]/path/to/redis.sock[?db=N]
//	redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/master-name[/db][?sentinel_password=...]
//
// A Redis port defaults to 6379 and a sentinel's to 26379. In a
// redis-sentinel URL the hosts are the sentinels, the user and password are
// those of the master and its replicas, and sentinel_password (when the
// sentinels have requirepass) authenticates to the sentinels. asynq's
// spelling, redis-sentinel://[:password@]host:port,...?master=name, is read
// too, its password then being the sentinels' as asynq takes it.
//
// Errors start with the URL as tasks.RedactURL renders it, never with a
// password.
package redisurl

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
)

// Scheme names.
const (
	SchemeRedis    = "redis"
	SchemeTLS      = "rediss"
	SchemeUnix     = "unix"
	SchemeSentinel = "redis-sentinel"
)

// Parse reads raw into options for redis.NewUniversalClient: a plain client
// for redis, rediss and unix URLs, a failover client (MasterName set) for
// redis-sentinel URLs.
func Parse(raw string) (*redis.UniversalOptions, error) {
	shown := tasks.RedactURL(raw)
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL whole, password and all.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s: %v", shown, err)
	}
	opt, err := parse(u)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", shown, err)
	}
	return opt, nil
}

func parse(u *url.URL) (*redis.UniversalOptions, error) {
	opt := &redis.UniversalOptions{}
	if u.User != nil {
		opt.Username = u.User.Username()
		opt.Password, _ = u.User.Password()
	}
	switch u.Scheme {
	case SchemeRedis, SchemeTLS:
		if u.Host == "" {
			return nil, errors.New("no host")
		}
		addr, err := hostPort(u.Host, "6379")
		if err != nil {
			return nil, err
		}
		opt.Addrs = []string{addr}
		if opt.DB, err = dbPath(strings.Trim(u.Path, "/")); err != nil {
			return nil, err
		}
		if u.Scheme == SchemeTLS {
			host, _, _ := net.SplitHostPort(addr)
			opt.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
	case SchemeUnix:
		if u.Host != "" {
			return nil, fmt.Errorf("unix URL with host %q: want unix:///path/to/socket", u.Host)
		}
		if u.Path == "" {
			return nil, errors.New("no socket path")
		}
		if err := onlyParams(u, "db"); err != nil {
			return nil, err
		}
		// go-redis dials an absolute path as a unix socket.
		opt.Addrs = []string{u.Path}
		var err error
		if opt.DB, err = dbPath(u.Query().Get("db")); err != nil {
			return nil, err
		}
	case SchemeSentinel:
		return sentinel(u, opt)
	default:
		return nil, fmt.Errorf("scheme %q (want redis, rediss, unix or redis-sentinel)", u.Scheme)
	}
	return opt, nil
}

func sentinel(u *url.URL, opt *redis.UniversalOptions) (*redis.UniversalOptions, error) {
	if u.Host == "" {
		return nil, errors.New("no sentinel host")
	}
	for _, h := range strings.Split(u.Host, ",") {
		addr, err := hostPort(h, "26379")
		if err != nil {
			return nil, err
		}
		opt.Addrs = append(opt.Addrs, addr)
	}
	if err := onlyParams(u, "master", "sentinel_password"); err != nil {
		return nil, err
	}
	q := u.Query()
	path := strings.Split(strings.Trim(u.Path, "/"), "/")
	switch {
	case path[0] != "":
		if q.Has("master") {
			return nil, errors.New("master name both in the path and in ?master=")
		}
		if len(path) > 2 {
			return nil, fmt.Errorf("path %q: want /master-name[/db]", u.Path)
		}
		opt.MasterName = path[0]
		if len(path) == 2 {
			var err error
			if opt.DB, err = dbPath(path[1]); err != nil {
				return nil, err
			}
		}
		opt.SentinelPassword = q.Get("sentinel_password")
	case q.Get("master") != "":
		// asynq's form: the password is the sentinels'.
		opt.MasterName = q.Get("master")
		opt.SentinelPassword, opt.Password = opt.Password, ""
		opt.Username = ""
		if q.Has("sentinel_password") {
			return nil, errors.New("sentinel_password with ?master=: write the master name in the path (redis-sentinel://hosts/master-name/db)")
		}
	default:
		return nil, errors.New("no master name (want redis-sentinel://host:port,host:port/master-name/db)")
	}
	return opt, nil
}

// hostPort checks host[:port] and adds the default port.
func hostPort(h, port string) (string, error) {
	if h == "" {
		return "", errors.New("empty host in the host list")
	}
	host, p, err := net.SplitHostPort(h)
	if err != nil {
		// No port: the whole is the host (an IPv6 address needs brackets).
		host, p = strings.Trim(h, "[]"), port
		if strings.Contains(host, ":") && !strings.HasPrefix(h, "[") {
			return "", fmt.Errorf("host %q: write an IPv6 address in brackets", h)
		}
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("host %q: port %q is not a number from 1 to 65535", h, p)
	}
	if host == "" {
		return "", fmt.Errorf("host %q: no host name", h)
	}
	return net.JoinHostPort(host, p), nil
}

// dbPath reads a database number; empty is 0.
func dbPath(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("database %q is not a number of 0 or more", s)
	}
	return n, nil
}

// onlyParams refuses query parameters other than known, naming the first.
func onlyParams(u *url.URL, known ...string) error {
	for k := range u.Query() {
		ok := false
		for _, want := range known {
			ok = ok || k == want
		}
		if !ok {
			return fmt.Errorf("unknown parameter %q (known: %s)", k, strings.Join(known, ", "))
		}
	}
	return nil
}
