package webapp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/fedora-fbs/fbs/kickstarts"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// Defaults of Config.
const (
	DefaultSubmitLimit    = 30
	DefaultSubmitWindow   = time.Minute
	DefaultMaxBody        = 25 << 20
	DefaultMaxKickstart   = 1 << 20
	DefaultMaxFiles       = 20
	DefaultSessionTTL     = 12 * time.Hour
	DefaultPageSize       = 50
	DefaultGroupsClaim    = "groups"
	DefaultLocalUser      = "local"
	defaultPublicURL      = "http://127.0.0.1:5000"
	maxPageSize           = 500
	submitWindowMinimum   = time.Second
	maxTokenLifetimeLimit = 10 * 365 * 24 * time.Hour
)

// Config is everything the web app needs besides the build client. Fill
// what you need; New fills defaults, then validates.
type Config struct {
	// PublicURL is how browsers reach the service ("https://fbs.example.org");
	// links, the OIDC redirect URL and the Secure flag of cookies (set when
	// it is https) derive from it. Default http://127.0.0.1:5000.
	PublicURL string
	// Releases are the releases offered in the form and accepted by the API
	// ([releases]); required.
	Releases []string
	// Arches are the arches offered in the form and accepted by the API
	// ([releases] arches). Default: every arch fbs knows (tasks.Arches).
	Arches []string
	// Kickstarts is where each release's standard kickstarts are ([kickstarts]
	// sync_dir and dir), offered beside the embedded ones.
	Kickstarts kickstarts.Library
	// FileRoot is [staging] file_root: file:// staging URLs must be under
	// it. Empty refuses file:// staging.
	FileRoot string
	// Egress is the outbound-address policy ([security]) of the URLs a
	// request carries: the kickstart URLs this server fetches, and what
	// workers will connect to. Nil is the default policy (tasks/egress).
	Egress *egress.Policy

	// OIDC configures sign-in; a zero OIDC means local mode (see CheckListen).
	OIDC OIDC
	// LocalUser is the implicit user in local mode. Default "local".
	LocalUser string
	// LocalEmail prefills the form's email in local mode.
	LocalEmail string

	// SubmitLimit is how many builds one user may submit per SubmitWindow
	// (default 30 per minute); a negative value disables the limit.
	SubmitLimit int
	// SubmitWindow is the rate limit's window. Default one minute.
	SubmitWindow time.Duration
	// MaxBody caps any request body. Default 25 MiB.
	MaxBody int64
	// MaxKickstart caps one uploaded kickstart. Default 1 MiB.
	MaxKickstart int64
	// MaxFiles caps the kickstart files of one submission. Default 20.
	MaxFiles int
	// SessionTTL is how long a sign-in lasts. Default 12h.
	SessionTTL time.Duration
	// MaxTokenLifetime caps API tokens' lifetime ([web] token_max_days):
	// every token expires, by default after DefaultTokenLifetime, at the
	// latest after this. Default auth.DefaultTokenMaxLifetime (365 days).
	MaxTokenLifetime time.Duration

	// Visibility is [web] visibility: with private (the default), acting
	// on another user's build (cancel, resubmit) is answered as for a
	// missing build, as the monitor answers reading it.
	Visibility tasks.Visibility

	// Identifier, when set, is the one the web app shares with the
	// monitor's routes of the same process (one token cache, so a token
	// revoked here stops working at once on both); nil makes one.
	Identifier *Identifier

	// Logger receives service logs. Default slog.Default().
	Logger *slog.Logger
}

// OIDC is the OpenID Connect provider users sign in with.
type OIDC struct {
	// Issuer is the provider's issuer URL (discovery at
	// Issuer/.well-known/openid-configuration). Empty: no OIDC.
	Issuer string
	// ClientID is fbs's client at the provider.
	ClientID string
	// ClientSecretFile holds the client secret; it is read by New.
	ClientSecretFile string
	// ClientSecret is the secret itself, for tests; ClientSecretFile wins.
	ClientSecret string
	// RedirectURL is where the provider sends users back. Default
	// PublicURL + "/callback".
	RedirectURL string
	// Scopes asked for besides openid. Default profile, email.
	Scopes []string
	// GroupsClaim is the ID token claim holding the user's groups. Default
	// "groups".
	GroupsClaim string
	// SubmitGroup, if set, is the group a user must be in to submit.
	SubmitGroup string
	// AdminGroup, if set, is the group whose users see and cancel everyone's
	// builds.
	AdminGroup string
}

// Enabled reports whether OIDC sign-in is configured.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

// fill sets defaults and checks c; it returns the first problem, naming
// the setting.
func (c *Config) fill() error {
	if c.PublicURL == "" {
		c.PublicURL = defaultPublicURL
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.LocalUser == "" {
		c.LocalUser = DefaultLocalUser
	}
	if c.SubmitLimit == 0 {
		c.SubmitLimit = DefaultSubmitLimit
	}
	if c.SubmitWindow == 0 {
		c.SubmitWindow = DefaultSubmitWindow
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.MaxKickstart == 0 {
		c.MaxKickstart = DefaultMaxKickstart
	}
	if c.MaxFiles == 0 {
		c.MaxFiles = DefaultMaxFiles
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	if c.MaxTokenLifetime == 0 {
		c.MaxTokenLifetime = auth.DefaultTokenMaxLifetime
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.OIDC.Enabled() {
		if c.OIDC.RedirectURL == "" {
			c.OIDC.RedirectURL = c.PublicURL + "/callback"
		}
		if len(c.OIDC.Scopes) == 0 {
			c.OIDC.Scopes = []string{"profile", "email"}
		}
		if c.OIDC.GroupsClaim == "" {
			c.OIDC.GroupsClaim = DefaultGroupsClaim
		}
		if c.OIDC.ClientSecretFile != "" {
			data, err := os.ReadFile(c.OIDC.ClientSecretFile)
			if err != nil {
				return fmt.Errorf("web config: OIDC client secret: %w", err)
			}
			c.OIDC.ClientSecret = strings.TrimSpace(string(data))
		}
	}
	return c.validate()
}

func (c *Config) validate() error {
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("web config: public URL %q: want http(s)://host[:port]", c.PublicURL)
	}
	if len(c.Releases) == 0 {
		return errors.New("web config: no releases to offer")
	}
	for _, r := range c.Releases {
		if !tasks.ValidRelease(r) {
			return fmt.Errorf("web config: release %q: want a number or rawhide", r)
		}
	}
	if len(c.Arches) == 0 {
		c.Arches = slices.Clone(tasks.Arches)
	}
	for _, a := range c.Arches {
		if !tasks.ValidArch(a) {
			return fmt.Errorf("web config: arch %q: want one of %s", a, strings.Join(tasks.Arches, ", "))
		}
	}
	switch {
	case c.SubmitWindow < submitWindowMinimum:
		return fmt.Errorf("web config: submit window %s: want at least %s", c.SubmitWindow, submitWindowMinimum)
	case c.MaxBody < c.MaxKickstart:
		return fmt.Errorf("web config: max body %d is below max kickstart %d", c.MaxBody, c.MaxKickstart)
	case c.MaxKickstart <= 0 || c.MaxFiles <= 0:
		return errors.New("web config: upload limits must be positive")
	case c.MaxTokenLifetime < 24*time.Hour || c.MaxTokenLifetime > maxTokenLifetimeLimit:
		return fmt.Errorf("web config: max token lifetime %s: want 1 day to 10 years", c.MaxTokenLifetime)
	}
	if c.OIDC.Enabled() {
		o := c.OIDC
		if o.ClientID == "" {
			return errors.New("web config: OIDC issuer set but no client ID")
		}
		if o.ClientSecret == "" {
			return errors.New("web config: OIDC issuer set but no client secret (client_secret_file)")
		}
		if u.Scheme != "https" && !loopbackHost(u.Hostname()) {
			return fmt.Errorf("web config: public URL %s must be https with OIDC sign-in (session cookies are Secure)", c.PublicURL)
		}
	}
	return nil
}

// CheckListen tells whether the web app may serve on addr with cfg: without
// OIDC (local mode: one implicit user who may do anything) it must listen on
// loopback only. The CLI calls it before listening.
func CheckListen(addr string, cfg Config) error {
	if cfg.OIDC.Enabled() {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if !loopbackHost(host) {
		return fmt.Errorf("listen address %q is not loopback-only and no OIDC sign-in is configured: "+
			"local mode would let anyone who reaches it build as the local user; listen on 127.0.0.1 "+
			"or configure [oidc]", addr)
	}
	return nil
}

// loopbackHost reports whether host names only the loopback interface; ""
// and unspecified addresses (all interfaces) are not.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
