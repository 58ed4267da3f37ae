package conf

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"gopkg.in/ini.v1"

	"github.com/fedora-fbs/fbs/conf/inilines"
	"github.com/fedora-fbs/fbs/kickstarts"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
)

// DefaultPath is where the service configuration lives; the CLI reads it
// when it exists and --config is not given.
const DefaultPath = "/etc/fbs/fbs.conf"

// Config is the whole service configuration.
type Config struct {
	// Redis is the broker; see Redis.URL.
	Redis Redis
	// Worker configures `fbs worker`.
	Worker Worker
	// Web is the web front end's listener and its API token policy ([web]).
	Web Web
	// Monitor is the build monitor's listener ([monitor]).
	Monitor Listener
	// SMTP is the mail server notifications go through.
	SMTP SMTP
	// Staging holds what workers need to stage results.
	Staging Staging
	// Kickstarts says where site kickstarts are.
	Kickstarts Kickstarts
	// DVD is where DVD builds get the release's packages ([dvd]).
	DVD DVD
	// Koji is where extra packages (nvr=, bid=) come from ([koji]).
	Koji Koji
	// Security is the outbound-address policy of requests ([security]).
	Security Security
	// Releases are the Fedora releases the service builds for ([releases]
	// list, comma separated), each a number or rawhide.
	Releases []string
	// Arches are the architectures the service builds for ([releases]
	// arches, comma separated): submissions of any other are refused.
	// Default: Fedora's primary arches, x86_64,aarch64,ppc64le,s390x
	// (Fedora makes no i686 images).
	Arches []string
	// Tools maps a build tool's name (lorax, pungi, livemedia-creator,
	// livecd-creator, xorriso, mcopy...) to the binary to run instead of the
	// one found in $PATH ([tools]).
	Tools map[string]string
	// File is the file the configuration was read from, "" for built-in
	// defaults.
	File string
	// OIDC is the OpenID Connect provider web users sign in with ([oidc]);
	// without an issuer the web front end runs in local mode.
	OIDC OIDC
	// Retention says how long ended builds, their logs and staged results,
	// and outbox mails are kept ([retention]).
	Retention Retention
	// Schedules configures the schedulers of periodic builds that `fbs
	// monitor` and `fbs serve` run ([schedules]).
	Schedules Schedules
}

// Schedules is the [schedules] section.
type Schedules struct {
	// SyncInterval is how often each scheduler re-reads the schedules: a
	// schedule added or resumed starts firing within it (runs of paused
	// and deleted schedules stop at once). Default 10s, at least 100ms.
	SyncInterval time.Duration
}

// Retention is the [retention] section: what `fbs monitor` and `fbs serve`
// (and `fbs gc`) remove, and how often. A count of days of 0 keeps for
// ever.
type Retention struct {
	// SucceededDays, FailedDays and CancelledDays are how many days after
	// it ended a build in that state is kept, with its log and what fbs
	// staged for it.
	SucceededDays, FailedDays, CancelledDays int
	// PerSchedule keeps only the newest this many ended builds of each
	// schedule, whatever their age (0: no limit).
	PerSchedule int
	// OutboxDays is how many days a mail stays in the outbox.
	OutboxDays int
	// Interval is how often the collector runs.
	Interval time.Duration
}

// day is how long a day of [retention] is.
const day = 24 * time.Hour

// MaxAge returns the ages by final state that [retention] keeps builds.
func (r Retention) MaxAge() map[tasks.State]time.Duration {
	return map[tasks.State]time.Duration{
		tasks.StateSucceeded: time.Duration(r.SucceededDays) * day,
		tasks.StateFailed:    time.Duration(r.FailedDays) * day,
		tasks.StateCancelled: time.Duration(r.CancelledDays) * day,
	}
}

// OutboxMaxAge is how long a mail stays in the outbox (0: for ever).
func (r Retention) OutboxMaxAge() time.Duration { return time.Duration(r.OutboxDays) * day }

// Redis is the [redis] section.
type Redis struct {
	// URL is redis://[:password@]host:port/db, rediss://...,
	// unix:///path or redis-sentinel://host:port,.../master-name/db (the
	// forms of tasks/redisurl). Empty means not configured: `fbs serve` then runs its
	// embedded broker, and the other commands use redis://127.0.0.1:6379/0.
	URL string
}

// Worker is the [worker] section.
type Worker struct {
	// Arch is the RPM architecture the worker builds for. Default: the
	// host's (amd64 is x86_64, arm64 aarch64, 386 i686).
	Arch string
	// Releases the worker builds for. Default: Config.Releases. Each must be
	// one of Config.Releases.
	Releases []string
	// Concurrency is how many builds run at once. Default 1.
	Concurrency int
	// DataDir holds the worker's state and work areas. Default /var/lib/fbs
	// as root, else $XDG_DATA_HOME/fbs or ~/.local/share/fbs.
	DataDir string
	// ISODir holds the boot ISOs ksiso builds can name. Default
	// <data_dir>/isos.
	ISODir string
	// BuildTimeout bounds one build. Default 6h.
	BuildTimeout time.Duration
	// DrainTimeout is how long a stopping worker lets running builds finish
	// before handing them back. Default 10m.
	DrainTimeout time.Duration
	// LostBuilds says what happens to a build whose worker died:
	// tasks.LostRequeue (default) or tasks.LostFail.
	LostBuilds tasks.LostPolicy
	// PollInterval is how often an idle worker looks for new builds
	// (default 600ms): a build waits 0.3-0.9 times it to start, and each
	// idle worker costs Redis three commands per queue per interval
	// (doc/benchmarks.md, "Idle cost").
	PollInterval time.Duration
	// KeepBuilds is how many builds' images a worker keeps after they were
	// staged and verified; older ones are removed.
	KeepBuilds int
	// LeaseTTL is how long a build's lease lasts without renewal; the
	// worker renews it every third of that. A build whose worker died is
	// found lost within LeaseTTL + ReapInterval. Default 30s, at least 3s.
	LeaseTTL time.Duration
	// ReapInterval is how often reapers look for lost builds. Default 10s,
	// at least 1s.
	ReapInterval time.Duration
	// MinFree is the free space, in bytes, the data dir's filesystem must
	// have for the worker to take a build; below it the worker hands
	// builds back and pauses itself until there is room again. Default
	// 2 GiB; 0 turns the check off.
	MinFree int64
}

// Listener is an HTTP server's section.
type Listener struct {
	// Listen is the host:port to listen on.
	Listen string
	// PublicURL is how users reach the server, for links in mails; empty
	// means derived from Listen.
	PublicURL string
	// BodyTimeout bounds reading a request's body after its headers: a
	// client sending slower is cut off. Responses (log streams) have no
	// deadline. Default 1m, at least MinBodyTimeout.
	BodyTimeout time.Duration
	// MaxConnsPerIP caps the open connections of one client address (one
	// /64 for IPv6); 0 means no limit. Default 64. A reverse proxy in
	// front counts as one client.
	MaxConnsPerIP int
}

// MinBodyTimeout is the shortest [web] and [monitor] body_timeout.
const MinBodyTimeout = time.Second

// Web is the [web] section.
type Web struct {
	Listener
	// TokenMaxDays is the longest an API token lives, in days: every token
	// expires, after 90 days unless its maker asks for fewer, never after
	// more than this. Lowering it shortens existing tokens. Default 365.
	TokenMaxDays int
	// Visibility says who may see a build, on every listener showing
	// builds (web, monitor, serve): private (its owner, admins and its
	// mailed links) or public (anyone, without email addresses and
	// staging users). Default private.
	Visibility tasks.Visibility
	// LinkTTL is how long the build links in mails work without sign-in.
	// Default 720h (30 days), at least a minute.
	LinkTTL time.Duration
}

// SMTP is the [smtp] section.
type SMTP struct {
	// Host is the mail server; empty means no mail is sent.
	Host string
	// Port defaults to 25.
	Port int
	// TLS is TLSNone, TLSStartTLS (default) or TLSImplicit.
	TLS string
	// Username, if set, authenticates with the password from Password.
	Username string
	// PasswordFile holds the password; it is read only by Password.
	PasswordFile string
	// From is the sender address. Default fbs@localhost.
	From string
	// RetryBackoff is the wait before a failed mail is tried again; it
	// doubles with each try, up to an hour. Default 30s.
	RetryBackoff time.Duration

	// envPassword is $FBS_SMTP_PASSWORD as Load saw it.
	envPassword string
}

// Values of SMTP.TLS.
const (
	TLSNone     = "none"
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
)

// Password reads the SMTP password from PasswordFile or, when no file is
// configured, returns $FBS_SMTP_PASSWORD as Load found it. It is never
// logged and Dump never shows it.
func (s SMTP) Password() (string, error) {
	if s.PasswordFile == "" {
		return s.envPassword, nil
	}
	b, err := os.ReadFile(s.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("read SMTP password: %w", err)
	}
	p := strings.TrimRight(string(b), "\r\n")
	if p == "" {
		return "", fmt.Errorf("read SMTP password: %s is empty", s.PasswordFile)
	}
	return p, nil
}

// Staging is the [staging] section.
type Staging struct {
	// FileRoot is the directory file:/// staging URLs must be under.
	// Default <data_dir>/staging.
	FileRoot string
	// SSHKey is the private key for sftp:// staging.
	SSHKey string
	// KnownHosts is the known_hosts file sftp:// hosts are checked against.
	KnownHosts string
	// HostKeys pins sftp:// host key fingerprints: "host=SHA256:..." or
	// "host:port=SHA256:...", comma separated.
	HostKeys []string
	// PasswordsFile holds FTP (and SFTP password) credentials, one
	// "host password" or "host:port password" per line; never logged.
	PasswordsFile string
	// CAFile adds trusted CA certificates (PEM) for ftps:// staging.
	CAFile string
	// RetryFor is how long a failed transfer is retried before the build
	// fails; the images wait on the worker meanwhile.
	RetryFor time.Duration
	// RetryBackoff is the first wait between transfer retries; it doubles
	// up to RetryBackoffMax.
	RetryBackoff time.Duration
	// RetryBackoffMax is the longest wait between transfer retries.
	// Default 10m.
	RetryBackoffMax time.Duration
}

// HostKeyMap returns HostKeys as host -> fingerprint.
func (s Staging) HostKeyMap() map[string]string {
	m := map[string]string{}
	for _, e := range s.HostKeys {
		if host, fp, ok := strings.Cut(e, "="); ok {
			m[strings.TrimSpace(host)] = strings.TrimSpace(fp)
		}
	}
	return m
}

// Passwords reads PasswordsFile; an empty PasswordsFile gives no passwords.
// Errors never quote the file's content.
func (s Staging) Passwords() (map[string]string, error) {
	m := map[string]string{}
	if s.PasswordsFile == "" {
		return m, nil
	}
	data, err := os.ReadFile(s.PasswordsFile)
	if err != nil {
		return nil, fmt.Errorf("[staging] passwords_file: %w", err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		host, pw, ok := strings.Cut(line, " ")
		if !ok || strings.TrimSpace(pw) == "" {
			return nil, fmt.Errorf("[staging] passwords_file %s:%d: want \"host password\"", s.PasswordsFile, i+1)
		}
		m[host] = strings.TrimSpace(pw)
	}
	return m, nil
}

// Security is the [security] section: which hosts a build request may make
// fbs connect to besides public addresses (see tasks/egress).
type Security struct {
	// AllowHosts are host names (or addresses) requests may reach
	// whatever they resolve to, comma separated.
	AllowHosts []string
	// AllowNetworks are networks (CIDR or single addresses) requests may
	// reach although loopback, link-local or private, comma separated.
	AllowNetworks []string
}

// Egress returns the outbound-address policy of the section.
func (s Security) Egress() *egress.Policy {
	cfg := egress.Config{AllowHosts: s.AllowHosts}
	for _, n := range s.AllowNetworks {
		if p, err := egress.ParseNetwork(n); err == nil {
			cfg.AllowNetworks = append(cfg.AllowNetworks, p)
		}
	}
	return egress.New(cfg)
}

// Kickstarts is the [kickstarts] section.
type Kickstarts struct {
	// Dir holds site kickstarts, offered beside the embedded ones to every
	// release. Default: SpinKickstartsDir when it exists.
	Dir string
	// SyncDir holds Fedora's kickstarts per release, as `fbs ks sync`
	// fetches them. Default: <[worker] data_dir>/kickstarts.
	SyncDir string
}

// SpinKickstartsDir is where Fedora's spin-kickstarts package installs
// Fedora's kickstarts; [kickstarts] dir defaults to it when it exists.
const SpinKickstartsDir = "/usr/share/spin-kickstarts"

// Library is where the standard kickstarts of each release are.
func (k Kickstarts) Library() kickstarts.Library {
	return kickstarts.Library{SyncDir: k.SyncDir, SiteDir: k.Dir}
}

// DVD is the [dvd] section: the release repositories DVD builds download
// their packages from.
type DVD struct {
	// Repos are the base URLs of a numbered release's repositories,
	// comma separated, with $releasever and $basearch expanded per build.
	Repos []string
	// RawhideRepos are the same for rawhide, whose tree lives elsewhere.
	RawhideRepos []string
}

// RepoURLs returns the repository base URLs of release on arch (i686's
// basearch is i386).
func (d DVD) RepoURLs(release, arch string) []string {
	tmpl := d.Repos
	if release == "rawhide" {
		tmpl = d.RawhideRepos
	}
	basearch := arch
	if arch == "i686" {
		basearch = "i386"
	}
	out := make([]string, 0, len(tmpl))
	for _, t := range tmpl {
		out = append(out, strings.NewReplacer("$releasever", release, "$basearch", basearch).Replace(t))
	}
	return out
}

// Koji is the Koji hub that extra packages (nvr=, bid=) are resolved
// through, and the worker's cache of their RPMs.
type Koji struct {
	// HubURL is the hub's XML-RPC endpoint.
	HubURL string
	// PackagesURL is the root of Koji's packages tree.
	PackagesURL string
	// Parallel is how many RPMs a worker downloads at once.
	Parallel int
	// CacheMaxGB caps the worker's RPM cache; least recently used RPMs go first.
	CacheMaxGB int
}

// host is what defaults depend on besides the environment.
type host struct {
	goarch string
	euid   int
	// spinKickstarts is set when SpinKickstartsDir exists.
	spinKickstarts bool
}

// Load reads path ("" means built-in defaults only), applies
// FBS_<SECTION>_<KEY> overrides from lookupEnv (FBS_REDIS_URL,
// FBS_WORKER_RELEASES, FBS_TOOLS_LIVEMEDIA_CREATOR: dashes in keys become
// underscores), fills defaults and validates. An empty value, in the file or
// the environment, leaves the default. A nil lookupEnv means no
// environment. Problems with values are returned together as Errors.
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	st, err := os.Stat(SpinKickstartsDir)
	return load(path, lookupEnv, host{goarch: runtime.GOARCH, euid: os.Geteuid(), spinKickstarts: err == nil && st.IsDir()})
}

// Parse is Load of a configuration held in memory: text is read as the
// file name would be, and messages name name. fbs deploy checks the fbs.conf
// it renders for a host with it, before any host sees the file.
func Parse(name string, text []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	st, err := os.Stat(SpinKickstartsDir)
	if text == nil {
		text = []byte{}
	}
	return loadSource(name, text, lookupEnv, host{goarch: runtime.GOARCH, euid: os.Geteuid(), spinKickstarts: err == nil && st.IsDir()})
}

// origin is where a value came from, for messages.
type origin struct {
	line int
	env  string
}

func load(path string, lookupEnv func(string) (string, bool), h host) (*Config, error) {
	return loadSource(path, nil, lookupEnv, h)
}

// loadSource reads text, or the file at path when text is nil.
func loadSource(path string, text []byte, lookupEnv func(string) (string, bool), h host) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	c := &Config{File: path, Tools: map[string]string{}}
	l := &loader{c: c, file: path, origins: map[[2]string]origin{}}
	table := fields()
	for _, f := range table {
		if f.def != "" {
			if err := f.bind(c).set(f.def); err != nil {
				return nil, fmt.Errorf("built-in default of [%s] %s: %w", f.section, f.key, err)
			}
		}
	}
	if path != "" || text != nil {
		if err := l.readFile(table, text); err != nil {
			return nil, err
		}
	}
	for _, f := range table {
		name := envName(f.section, f.key)
		if v, ok := lookupEnv(name); ok && v != "" {
			l.origins[[2]string{f.section, f.key}] = origin{env: name}
			l.set(f, v)
		}
	}
	c.SMTP.envPassword, _ = lookupEnv("FBS_SMTP_PASSWORD")
	l.fillDefaults(lookupEnv, h)
	l.validate(table)
	if len(l.errs) > 0 {
		// File problems in line order, then the rest as found.
		slices.SortStableFunc(l.errs, func(a, b *Error) int {
			return cmp.Compare(lineOrder(a), lineOrder(b))
		})
		return nil, l.errs
	}
	return c, nil
}

func lineOrder(e *Error) int {
	if e.Line == 0 {
		return math.MaxInt
	}
	return e.Line
}

type loader struct {
	c       *Config
	file    string
	origins map[[2]string]origin
	// failed keys, and those derived from other keys, are not checked
	// again.
	skip map[[2]string]bool
	errs Errors
}

// errorf reports a problem with key, located where its value came from.
func (l *loader) errorf(section, key, format string, args ...any) {
	e := &Error{Section: section, Key: key, Reason: fmt.Sprintf(format, args...)}
	if o, ok := l.origins[[2]string{section, key}]; ok {
		if o.env != "" {
			e.Env = o.env
		} else {
			e.File, e.Line = l.file, o.line
		}
	}
	l.derived(section, key)
	l.errs = append(l.errs, e)
}

func (l *loader) fileError(line int, section, key, format string, args ...any) {
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Section: section, Key: key, Reason: fmt.Sprintf(format, args...)})
}

func (l *loader) set(f field, v string) {
	if err := f.bind(l.c).set(v); err != nil {
		l.errorf(f.section, f.key, "%v", err)
	}
}

// readFile reads the INI file over the defaults: data, or the file when
// data is nil.
func (l *loader) readFile(table []field, data []byte) error {
	if data == nil {
		var err error
		if data, err = os.ReadFile(l.file); err != nil {
			return fmt.Errorf("read configuration: %w", err)
		}
	}
	idx := inilines.Scan(data, false)
	for _, e := range idx.Errors {
		l.fileError(e.Line, e.Section, "", "%s", e.Reason)
	}
	if len(l.errs) > 0 {
		return l.errs
	}
	f, err := ini.LoadSources(ini.LoadOptions{IgnoreInlineComment: true, IgnoreContinuation: true}, data)
	if err != nil {
		return Errors{{File: l.file, Reason: "read INI: " + err.Error()}}
	}
	for _, d := range idx.Duplicates() {
		if d.Key != "" {
			l.fileError(d.Lines[1], d.Section, d.Key, "set again (first on line %d)", d.Lines[0])
		}
	}
	known := map[string][]string{}
	var sections []string
	for _, f := range table {
		if known[f.section] == nil {
			sections = append(sections, f.section)
		}
		known[f.section] = append(known[f.section], f.key)
	}
	for _, s := range f.Sections() {
		name := s.Name()
		if name == ini.DefaultSection {
			for _, k := range s.Keys() {
				l.fileError(idx.KeyLine(name, k.Name()), "", k.Name(), "key %s is outside any section", k.Name())
			}
			continue
		}
		if known[name] == nil {
			l.fileError(idx.SectionLine(name), name, "", "unknown section (known sections: %s)", strings.Join(sections, ", "))
			continue
		}
		for _, k := range s.Keys() {
			i := slices.IndexFunc(table, func(f field) bool { return f.section == name && f.key == k.Name() })
			line := idx.KeyLine(name, k.Name())
			if i < 0 {
				l.fileError(line, name, k.Name(), "unknown key (known keys in [%s]: %s)", name, strings.Join(known[name], ", "))
				continue
			}
			v := strings.TrimSpace(k.Value())
			if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' && r != '\t' }) {
				l.fileError(line, name, k.Name(), "value contains a control character")
				continue
			}
			l.origins[[2]string{name, k.Name()}] = origin{line: line}
			if v != "" {
				l.set(table[i], v)
			}
		}
	}
	return nil
}

// fillDefaults computes the defaults that depend on the host, the
// environment or other keys.
func (l *loader) fillDefaults(lookupEnv func(string) (string, bool), h host) {
	w := &l.c.Worker
	if w.Arch == "" {
		a, ok := hostArch(h.goarch)
		if !ok {
			l.errorf("worker", "arch", "no default for host arch %s: set it", h.goarch)
		}
		w.Arch = a
	}
	if l.c.Kickstarts.Dir == "" && h.spinKickstarts {
		l.c.Kickstarts.Dir = SpinKickstartsDir
		l.derived("kickstarts", "dir")
	}
	if len(w.Releases) == 0 {
		w.Releases = slices.Clone(l.c.Releases)
		l.derived("worker", "releases")
	}
	if w.DataDir == "" {
		d, err := dataDir(lookupEnv, h)
		if err != nil {
			l.errorf("worker", "data_dir", "%v", err)
		}
		w.DataDir = d
	}
	if filepath.IsAbs(w.DataDir) {
		if w.ISODir == "" {
			w.ISODir = filepath.Join(w.DataDir, "isos")
			l.derived("worker", "iso_dir")
		}
		if l.c.Staging.FileRoot == "" {
			l.c.Staging.FileRoot = filepath.Join(w.DataDir, "staging")
			l.derived("staging", "file_root")
		}
		if l.c.Kickstarts.SyncDir == "" {
			l.c.Kickstarts.SyncDir = filepath.Join(w.DataDir, "kickstarts")
			l.derived("kickstarts", "sync_dir")
		}
	}
}

// derived marks a key whose default comes from another key, already
// checked, so that a bad value is reported once, at its source.
func (l *loader) derived(section, key string) {
	if l.skip == nil {
		l.skip = map[[2]string]bool{}
	}
	l.skip[[2]string{section, key}] = true
}

// hostArch names a Go architecture the RPM way.
func hostArch(goarch string) (string, bool) {
	switch goarch {
	case "amd64":
		return "x86_64", true
	case "arm64":
		return "aarch64", true
	case "386":
		return "i686", true
	case "ppc64le", "s390x":
		return goarch, true
	}
	return "", false
}

func dataDir(lookupEnv func(string) (string, bool), h host) (string, error) {
	if h.euid == 0 {
		return "/var/lib/fbs", nil
	}
	if x, ok := lookupEnv("XDG_DATA_HOME"); ok && filepath.IsAbs(x) {
		return filepath.Join(x, "fbs"), nil
	}
	if home, ok := lookupEnv("HOME"); ok && filepath.IsAbs(home) {
		return filepath.Join(home, ".local", "share", "fbs"), nil
	}
	return "", fmt.Errorf("no default when not root and neither XDG_DATA_HOME nor HOME is set: set it")
}

// validate checks every value once defaults are in, then what no single
// key can check alone.
func (l *loader) validate(table []field) {
	for _, f := range table {
		if l.skip[[2]string{f.section, f.key}] || f.check == nil {
			continue
		}
		if reason := f.check(f.bind(l.c)); reason != "" {
			l.errorf(f.section, f.key, "%s", reason)
		}
	}
	if !l.skip[[2]string{"worker", "releases"}] && !l.skip[[2]string{"releases", "list"}] {
		for _, r := range l.c.Worker.Releases {
			if !slices.Contains(l.c.Releases, r) {
				l.errorf("worker", "releases", "release %s is not in [releases] list (%s)", r, strings.Join(l.c.Releases, ","))
				break
			}
		}
	}
	s := l.c.SMTP
	if s.Username != "" && s.PasswordFile == "" && s.envPassword == "" {
		l.errorf("smtp", "username", "a user name needs a password: set password_file or FBS_SMTP_PASSWORD")
	}
}

// OIDC is the [oidc] section: sign-in to the web front end.
type OIDC struct {
	// Issuer is the provider's issuer URL; empty means no sign-in (local
	// mode, loopback only).
	Issuer string
	// ClientID is fbs's client at the provider.
	ClientID string
	// ClientSecretFile holds the client secret; never logged.
	ClientSecretFile string
	// RedirectURL is where the provider sends users back. Default
	// <web public_url>/callback.
	RedirectURL string
	// Scopes are asked for besides openid. Default profile,email.
	Scopes []string
	// GroupsClaim is the ID token claim listing the user's groups. Default
	// groups.
	GroupsClaim string
	// SubmitGroup, if set, is the group a user must be in to submit builds.
	SubmitGroup string
	// AdminGroup, if set, is the group whose users see and cancel every
	// build.
	AdminGroup string
}
