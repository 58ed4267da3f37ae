package conf

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/tasks/redisurl"
)

// field is one key of the configuration file.
type field struct {
	section, key string
	// bind returns the Config field the key sets.
	bind func(c *Config) value
	// def is the default as written in the file; "" for none or for
	// defaults computed in fillDefaults.
	def string
	// check says what is wrong with a value that parsed, or "".
	check func(v value) string
	// secret values are masked by Dump.
	secret bool
}

// fields is the table of every key Load knows, in the order Dump writes
// them. Add a key here (and its Config field) and Load, the environment
// overrides and Dump all know it.
func fields() []field {
	f := []field{
		{section: "redis", key: "url", bind: func(c *Config) value { return str{&c.Redis.URL} }, check: redisURL},

		{section: "worker", key: "arch", bind: func(c *Config) value { return str{&c.Worker.Arch} }, check: arch},
		{section: "worker", key: "releases", bind: func(c *Config) value { return list{&c.Worker.Releases} }, check: releases},
		{section: "worker", key: "concurrency", bind: func(c *Config) value { return integer{&c.Worker.Concurrency} }, def: "1", check: atLeast(1)},
		{section: "worker", key: "data_dir", bind: func(c *Config) value { return str{&c.Worker.DataDir} }, check: absPath},
		{section: "worker", key: "iso_dir", bind: func(c *Config) value { return str{&c.Worker.ISODir} }, check: absPath},
		{section: "worker", key: "build_timeout", bind: func(c *Config) value { return duration{&c.Worker.BuildTimeout} }, def: "6h", check: positive},
		{section: "worker", key: "drain_timeout", bind: func(c *Config) value { return duration{&c.Worker.DrainTimeout} }, def: "10m", check: positive},
		{section: "worker", key: "lost_builds", bind: func(c *Config) value { return lostPolicy{&c.Worker.LostBuilds} }, def: "requeue"},
		{section: "worker", key: "keep_builds", bind: func(c *Config) value { return integer{&c.Worker.KeepBuilds} }, def: "0", check: atLeast(0)},
		{section: "worker", key: "poll_interval", bind: func(c *Config) value { return duration{&c.Worker.PollInterval} }, def: "600ms", check: positive},
		{section: "worker", key: "lease_ttl", bind: func(c *Config) value { return duration{&c.Worker.LeaseTTL} }, def: tasks.DefaultLeaseTTL.String(), check: atLeastDuration(tasks.MinLeaseTTL)},
		{section: "worker", key: "reap_interval", bind: func(c *Config) value { return duration{&c.Worker.ReapInterval} }, def: tasks.DefaultReapInterval.String(), check: atLeastDuration(tasks.MinReapInterval)},
		{section: "worker", key: "min_free", bind: func(c *Config) value { return size{&c.Worker.MinFree} }, def: "2GiB"},

		{section: "web", key: "listen", bind: func(c *Config) value { return str{&c.Web.Listen} }, def: "127.0.0.1:5000", check: hostPort},
		{section: "web", key: "public_url", bind: func(c *Config) value { return str{&c.Web.PublicURL} }, check: httpURL},
		{section: "web", key: "body_timeout", bind: func(c *Config) value { return duration{&c.Web.BodyTimeout} }, def: "1m", check: atLeastDuration(MinBodyTimeout)},
		{section: "web", key: "max_conns_per_ip", bind: func(c *Config) value { return integer{&c.Web.MaxConnsPerIP} }, def: "64", check: atLeast(0)},
		{section: "web", key: "token_max_days", bind: func(c *Config) value { return integer{&c.Web.TokenMaxDays} }, def: "365", check: between(1, 3650)},
		{section: "web", key: "visibility", bind: func(c *Config) value { return visibility{&c.Web.Visibility} }, def: "private"},
		{section: "web", key: "link_ttl", bind: func(c *Config) value { return duration{&c.Web.LinkTTL} }, def: "720h", check: atLeastDuration(time.Minute)},

		{section: "monitor", key: "listen", bind: func(c *Config) value { return str{&c.Monitor.Listen} }, def: "127.0.0.1:5100", check: hostPort},
		{section: "monitor", key: "public_url", bind: func(c *Config) value { return str{&c.Monitor.PublicURL} }, check: httpURL},
		{section: "monitor", key: "body_timeout", bind: func(c *Config) value { return duration{&c.Monitor.BodyTimeout} }, def: "1m", check: atLeastDuration(MinBodyTimeout)},
		{section: "monitor", key: "max_conns_per_ip", bind: func(c *Config) value { return integer{&c.Monitor.MaxConnsPerIP} }, def: "64", check: atLeast(0)},

		{section: "smtp", key: "host", bind: func(c *Config) value { return str{&c.SMTP.Host} }},
		{section: "smtp", key: "port", bind: func(c *Config) value { return integer{&c.SMTP.Port} }, def: "25", check: port},
		{section: "smtp", key: "tls", bind: func(c *Config) value { return str{&c.SMTP.TLS} }, def: TLSStartTLS, check: oneOf(TLSNone, TLSStartTLS, TLSImplicit)},
		{section: "smtp", key: "username", bind: func(c *Config) value { return str{&c.SMTP.Username} }},
		{section: "smtp", key: "password_file", bind: func(c *Config) value { return str{&c.SMTP.PasswordFile} }, check: absPath},
		{section: "smtp", key: "from", bind: func(c *Config) value { return str{&c.SMTP.From} }, def: "fbs@localhost", check: address},
		{section: "smtp", key: "retry_backoff", bind: func(c *Config) value { return duration{&c.SMTP.RetryBackoff} }, def: "30s", check: positive},

		{section: "staging", key: "file_root", bind: func(c *Config) value { return str{&c.Staging.FileRoot} }, check: absPath},
		{section: "staging", key: "ssh_key", bind: func(c *Config) value { return str{&c.Staging.SSHKey} }, check: absPath},
		{section: "staging", key: "known_hosts", bind: func(c *Config) value { return str{&c.Staging.KnownHosts} }, check: absPath},
		{section: "staging", key: "host_keys", bind: func(c *Config) value { return list{&c.Staging.HostKeys} }, check: hostKeys},
		{section: "staging", key: "passwords_file", bind: func(c *Config) value { return str{&c.Staging.PasswordsFile} }, check: absPath},
		{section: "staging", key: "ca_file", bind: func(c *Config) value { return str{&c.Staging.CAFile} }, check: absPath},
		{section: "staging", key: "retry_for", bind: func(c *Config) value { return duration{&c.Staging.RetryFor} }, def: "1h", check: positive},
		{section: "staging", key: "retry_backoff", bind: func(c *Config) value { return duration{&c.Staging.RetryBackoff} }, def: "30s", check: positive},
		{section: "staging", key: "retry_backoff_max", bind: func(c *Config) value { return duration{&c.Staging.RetryBackoffMax} }, def: "10m", check: positive},

		{section: "kickstarts", key: "dir", bind: func(c *Config) value { return str{&c.Kickstarts.Dir} }, check: absPath},
		{section: "kickstarts", key: "sync_dir", bind: func(c *Config) value { return str{&c.Kickstarts.SyncDir} }, check: absPath},

		{section: "dvd", key: "repos", bind: func(c *Config) value { return list{&c.DVD.Repos} }, def: DefaultDVDRepos, check: repoURLs},
		{section: "dvd", key: "rawhide_repos", bind: func(c *Config) value { return list{&c.DVD.RawhideRepos} }, def: DefaultDVDRawhideRepos, check: repoURLs},

		{section: "security", key: "allow_hosts", bind: func(c *Config) value { return list{&c.Security.AllowHosts} }},
		{section: "security", key: "allow_networks", bind: func(c *Config) value { return list{&c.Security.AllowNetworks} }, check: networks},

		{section: "koji", key: "hub_url", bind: func(c *Config) value { return str{&c.Koji.HubURL} }, def: "https://koji.fedoraproject.org/kojihub", check: httpURL},
		{section: "koji", key: "packages_url", bind: func(c *Config) value { return str{&c.Koji.PackagesURL} }, def: "https://kojipkgs.fedoraproject.org/packages", check: httpURL},
		{section: "koji", key: "parallel", bind: func(c *Config) value { return integer{&c.Koji.Parallel} }, def: "4", check: atLeast(1)},
		{section: "koji", key: "cache_max_gb", bind: func(c *Config) value { return integer{&c.Koji.CacheMaxGB} }, def: "20", check: atLeast(1)},

		{section: "releases", key: "list", bind: func(c *Config) value { return list{&c.Releases} }, def: "41,42,rawhide", check: releases},
		{section: "releases", key: "arches", bind: func(c *Config) value { return list{&c.Arches} }, def: "x86_64,aarch64,ppc64le,s390x", check: arches},

		{section: "oidc", key: "issuer", bind: func(c *Config) value { return str{&c.OIDC.Issuer} }, check: httpURL},
		{section: "oidc", key: "client_id", bind: func(c *Config) value { return str{&c.OIDC.ClientID} }},
		{section: "oidc", key: "client_secret_file", bind: func(c *Config) value { return str{&c.OIDC.ClientSecretFile} }, check: absPath},
		{section: "oidc", key: "redirect_url", bind: func(c *Config) value { return str{&c.OIDC.RedirectURL} }, check: httpURL},
		{section: "oidc", key: "scopes", bind: func(c *Config) value { return list{&c.OIDC.Scopes} }},
		{section: "oidc", key: "groups_claim", bind: func(c *Config) value { return str{&c.OIDC.GroupsClaim} }},
		{section: "oidc", key: "submit_group", bind: func(c *Config) value { return str{&c.OIDC.SubmitGroup} }},
		{section: "oidc", key: "admin_group", bind: func(c *Config) value { return str{&c.OIDC.AdminGroup} }},

		{section: "retention", key: "succeeded_days", bind: func(c *Config) value { return integer{&c.Retention.SucceededDays} }, def: "30", check: atLeast(0)},
		{section: "retention", key: "failed_days", bind: func(c *Config) value { return integer{&c.Retention.FailedDays} }, def: "30", check: atLeast(0)},
		{section: "retention", key: "cancelled_days", bind: func(c *Config) value { return integer{&c.Retention.CancelledDays} }, def: "7", check: atLeast(0)},
		{section: "retention", key: "per_schedule", bind: func(c *Config) value { return integer{&c.Retention.PerSchedule} }, def: "0", check: atLeast(0)},
		{section: "retention", key: "outbox_days", bind: func(c *Config) value { return integer{&c.Retention.OutboxDays} }, def: "30", check: atLeast(0)},
		{section: "retention", key: "interval", bind: func(c *Config) value { return duration{&c.Retention.Interval} }, def: "1h", check: atLeastDuration(time.Second)},
		{section: "schedules", key: "sync_interval", bind: func(c *Config) value { return duration{&c.Schedules.SyncInterval} }, def: "10s", check: atLeastDuration(100 * time.Millisecond)},
	}
	for _, t := range toolNames() {
		f = append(f, field{section: "tools", key: t, bind: func(c *Config) value { return tool{c.Tools, t} }, check: command})
	}
	return f
}

// toolNames are the build tools [tools] can point elsewhere.
func toolNames() []string {
	return []string{
		"lorax", "pungi", "livemedia-creator", "livecd-creator", "xorriso", "mkksiso",
		"mcopy", "implantisomd5", "createrepo_c", "koji", "ksflatten", "dnf",
	}
}

// envName is the environment variable overriding key in section.
func envName(section, key string) string {
	return "FBS_" + strings.ToUpper(section) + "_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// value is a Config field seen as the text of an INI value.
type value interface {
	set(s string) error
	String() string
}

type str struct{ p *string }

func (v str) set(s string) error { *v.p = s; return nil }
func (v str) String() string     { return *v.p }

type integer struct{ p *int }

func (v integer) set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	*v.p = n
	return nil
}
func (v integer) String() string { return strconv.Itoa(*v.p) }

type duration struct{ p *time.Duration }

func (v duration) set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (write e.g. 6h, 90m or 1h30m)", s)
	}
	*v.p = d
	return nil
}
func (v duration) String() string { return v.p.String() }

// size is a number of bytes, with a binary unit or none: 0, 512MiB, 2GiB.
type size struct{ p *int64 }

// sizeUnits are the units size reads and writes, largest first.
var sizeUnits = []struct {
	name  string
	bytes int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

func (v size) set(s string) error {
	bad := fmt.Errorf("%q is not a size (write e.g. 2GiB, 512MiB or 0: a whole number of B, KiB, MiB, GiB or TiB)", s)
	num, unit := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(num, u.name); ok {
			num, unit = strings.TrimSpace(n), u.bytes
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/unit {
		return bad
	}
	*v.p = n * unit
	return nil
}

// String writes the size in the largest unit that holds it whole.
func (v size) String() string {
	n := *v.p
	if n == 0 {
		return "0"
	}
	for _, u := range sizeUnits {
		if n%u.bytes == 0 {
			return strconv.FormatInt(n/u.bytes, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// lostPolicy is read once, here: a bad value is reported with its line.
type lostPolicy struct{ p *tasks.LostPolicy }

func (v lostPolicy) set(s string) (err error) {
	*v.p, err = tasks.ParseLostPolicy(s)
	return err
}
func (v lostPolicy) String() string { return v.p.String() }

// visibility is read once, here, like lostPolicy.
type visibility struct{ p *tasks.Visibility }

func (v visibility) set(s string) (err error) {
	*v.p, err = tasks.ParseVisibility(s)
	return err
}
func (v visibility) String() string { return v.p.String() }

// list is comma separated.
type list struct{ p *[]string }

func (v list) set(s string) error {
	var l []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			l = append(l, e)
		}
	}
	*v.p = l
	return nil
}
func (v list) String() string { return strings.Join(*v.p, ",") }

type tool struct {
	m    map[string]string
	name string
}

func (v tool) set(s string) error { v.m[v.name] = s; return nil }
func (v tool) String() string     { return v.m[v.name] }

// Checks. Each says what is wrong with a value, or returns "".

func arch(v value) string {
	if a := v.String(); !tasks.ValidArch(a) {
		return fmt.Sprintf("unknown arch %q (want one of %s)", a, strings.Join(tasks.Arches, ", "))
	}
	return ""
}

func arches(v value) string {
	return uniqueList(v, "arch", "arches", tasks.ValidArch, "some of "+strings.Join(tasks.Arches, ", "))
}

func releases(v value) string {
	return uniqueList(v, "release", "releases", tasks.ValidRelease, "numbers such as 42, or rawhide")
}

// uniqueList checks a comma-separated list of things (one, many): not
// empty, each valid, none twice; want says what is wanted instead of an
// unknown one.
func uniqueList(v value, one, many string, valid func(string) bool, want string) string {
	l := *v.(list).p
	if len(l) == 0 {
		return "empty list of " + many
	}
	seen := map[string]bool{}
	for _, x := range l {
		if !valid(x) {
			return fmt.Sprintf("unknown %s %q (want %s, separated by commas)", one, x, want)
		}
		if seen[x] {
			return fmt.Sprintf("%s %s is listed twice", one, x)
		}
		seen[x] = true
	}
	return ""
}

func atLeast(min int) func(value) string {
	return func(v value) string {
		if n := *v.(integer).p; n < min {
			return fmt.Sprintf("%d is less than %d", n, min)
		}
		return ""
	}
}

func between(min, max int) func(value) string {
	return func(v value) string {
		if n := *v.(integer).p; n < min || n > max {
			return fmt.Sprintf("%d is out of range %d-%d", n, min, max)
		}
		return ""
	}
}

func port(v value) string {
	if n := *v.(integer).p; n < 1 || n > 65535 {
		return fmt.Sprintf("port %d is out of range 1-65535", n)
	}
	return ""
}

func positive(v value) string {
	if d := *v.(duration).p; d <= 0 {
		return fmt.Sprintf("duration %s must be positive", d)
	}
	return ""
}

func atLeastDuration(min time.Duration) func(value) string {
	return func(v value) string {
		if d := *v.(duration).p; d < min {
			return fmt.Sprintf("%s is shorter than the minimum %s", d, min)
		}
		return ""
	}
}

func oneOf(allowed ...string) func(value) string {
	return func(v value) string {
		for _, a := range allowed {
			if v.String() == a {
				return ""
			}
		}
		return fmt.Sprintf("%q is not one of %s", v.String(), strings.Join(allowed, ", "))
	}
}

func absPath(v value) string {
	if p := v.String(); p != "" && !filepath.IsAbs(p) {
		return fmt.Sprintf("%q is not an absolute path", p)
	}
	return ""
}

func hostPort(v value) string {
	_, p, err := net.SplitHostPort(v.String())
	if err != nil {
		return fmt.Sprintf("%q is not host:port: %v", v.String(), err)
	}
	if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("%q has a bad port", v.String())
	}
	return ""
}

// Fedora's release repositories, for [dvd].
const (
	DefaultDVDRepos = "https://dl.fedoraproject.org/pub/fedora/linux/releases/$releasever/Everything/$basearch/os/, " +
		"https://dl.fedoraproject.org/pub/fedora/linux/updates/$releasever/Everything/$basearch/"
	DefaultDVDRawhideRepos = "https://dl.fedoraproject.org/pub/fedora/linux/development/rawhide/Everything/$basearch/os/"
)

// repoURLs checks a list of repository base URLs: http, https, ftp or
// file, each with a host or a path.
func repoURLs(v value) string {
	for _, s := range strings.Split(v.String(), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		u, err := url.Parse(s)
		switch {
		case err != nil:
			return fmt.Sprintf("%q is not a URL", s)
		case u.Scheme == "file" && u.Path != "":
		case (u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "ftp") && u.Host != "":
		default:
			return fmt.Sprintf("%q is not an http, https, ftp or file URL of a repository", s)
		}
	}
	return ""
}

func httpURL(v value) string {
	s := v.String()
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%q is not an http(s) URL", s)
	}
	return ""
}

// redisURL is redisurl.Parse, the one Redis URL rule.
func redisURL(v value) string {
	s := v.String()
	if s == "" {
		return ""
	}
	if _, err := redisurl.Parse(s); err != nil {
		return err.Error()
	}
	return ""
}

// address is tasks.CheckEmail, the one mail address rule.
func address(v value) string {
	switch s := v.String(); {
	case len(s) > tasks.MaxEmail:
		return fmt.Sprintf("mail address of %d characters: at most %d", len(s), tasks.MaxEmail)
	case tasks.CheckEmail(s) != nil:
		return fmt.Sprintf("%q is not a single mail address", s)
	}
	return ""
}

// command accepts an absolute path or a command name looked up in $PATH.
func command(v value) string {
	c := v.String()
	if strings.ContainsRune(c, filepath.Separator) && !filepath.IsAbs(c) {
		return fmt.Sprintf("%q is neither an absolute path nor a command name", c)
	}
	return ""
}

// networks accepts a comma-separated list of CIDR networks or addresses.
func networks(v value) string {
	if v.String() == "" {
		return ""
	}
	for _, e := range strings.Split(v.String(), ",") {
		if _, err := egress.ParseNetwork(e); err != nil {
			return err.Error()
		}
	}
	return ""
}

func hostKeys(v value) string {
	if v.String() == "" {
		return ""
	}
	for _, e := range strings.Split(v.String(), ",") {
		host, fp, ok := strings.Cut(e, "=")
		if !ok || strings.TrimSpace(host) == "" || !strings.HasPrefix(strings.TrimSpace(fp), "SHA256:") {
			return fmt.Sprintf("%q is not host=SHA256:fingerprint", e)
		}
	}
	return ""
}
