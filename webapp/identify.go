package webapp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/webapp/auth"
)

// Identifier tells who sent a request, from what every listener shares in
// Redis: an API token (Authorization: Bearer), a browser's session cookie,
// or, in local mode, the implicit local user. The web app identifies its
// requests with it, and the monitor's routes (`fbs web`, `fbs monitor`,
// `fbs serve`) with the same one, so a signed-in user is the same user on
// every listener that receives their cookie. It also makes and checks the
// CSRF tokens of forms.
type Identifier struct {
	tokens   *auth.Tokens
	users    *auth.Users
	sessions *auth.Sessions
	secret   *auth.WebSecret
	// local is the implicit user of local mode; nil otherwise.
	local *auth.User
	// publicHost is the public URL's host name, which local mode serves
	// beside loopback names.
	publicHost   string
	secureCookie bool
}

// IdentifierConfig configures an Identifier.
type IdentifierConfig struct {
	// Local makes requests without a token the implicit LocalUser's, an
	// admin: local mode, where no one signs in (loopback only).
	Local bool
	// LocalUser and LocalEmail are the local user's name (default
	// "local") and address.
	LocalUser, LocalEmail string
	// PublicURL is how browsers reach the listener: an https URL marks
	// the CSRF cookie Secure, and in local mode its host name is served
	// the local user besides loopback names.
	PublicURL string
	// MaxTokenLifetime caps every API token's life ([web]
	// token_max_days); default auth.DefaultTokenMaxLifetime.
	MaxTokenLifetime time.Duration
	// SessionTTL is how long a sign-in lasts (default DefaultSessionTTL):
	// a user's rights are kept as long as a token made in a session can
	// live past it.
	SessionTTL time.Duration
}

// NewIdentifier returns an identifier over rdb; the caller owns rdb.
func NewIdentifier(rdb redis.UniversalClient, cfg IdentifierConfig) *Identifier {
	if cfg.MaxTokenLifetime <= 0 {
		cfg.MaxTokenLifetime = auth.DefaultTokenMaxLifetime
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	// A user's rights outlive their sign-in as long as a token made in
	// its session can.
	users := auth.NewUsers(rdb, cfg.MaxTokenLifetime+cfg.SessionTTL)
	i := &Identifier{
		tokens: auth.NewTokens(rdb, auth.TokenOptions{Users: users, MaxLifetime: cfg.MaxTokenLifetime}).
			Cached(tokenCacheTTL),
		users:    users,
		sessions: auth.NewSessions(rdb, cfg.SessionTTL),
		secret:   auth.NewWebSecret(rdb),
	}
	if u, err := url.Parse(cfg.PublicURL); err == nil {
		i.publicHost, i.secureCookie = u.Hostname(), u.Scheme == "https"
	}
	if cfg.Local {
		name := cfg.LocalUser
		if name == "" {
			name = DefaultLocalUser
		}
		i.local = &auth.User{Name: name, Email: cfg.LocalEmail, Admin: true, CanSubmit: true}
	}
	return i
}

// identifierConfig is the Identifier a web app of c makes for itself.
func (c *Config) identifierConfig() IdentifierConfig {
	return IdentifierConfig{
		Local: !c.OIDC.Enabled(), LocalUser: c.LocalUser, LocalEmail: c.LocalEmail,
		PublicURL: c.PublicURL, MaxTokenLifetime: c.MaxTokenLifetime, SessionTTL: c.SessionTTL,
	}
}

// identify returns who sent r and how they were identified (viaToken,
// viaLocal, viaSession), or nil and "" for an anonymous request. A bad
// token is an error; a stale session cookie leaves the request anonymous.
func (i *Identifier) identify(r *http.Request) (*auth.User, string, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, "", errNotBearer
		}
		info, err := i.tokens.Verify(r.Context(), strings.TrimSpace(tok))
		if err != nil {
			return nil, "", err
		}
		u := info.User // with its rights as of the user's latest sign-in
		if i.local != nil {
			// Local mode: everyone may do everything.
			u = auth.User{Name: u.Name, Email: i.local.Email, Admin: true, CanSubmit: true}
		}
		return &u, viaToken, nil
	}
	if i.local != nil {
		// Only to loopback Host names (and the public URL's): a page of
		// another site that a rebinding DNS points at loopback gets
		// nothing.
		if !localHost(r.Host, i.publicHost) {
			return nil, "", nil
		}
		u := *i.local
		return &u, viaLocal, nil
	}
	if ck, err := r.Cookie(sessionCookie); err == nil && ck.Value != "" {
		ses, err := i.sessions.Get(r.Context(), ck.Value)
		switch {
		case err == nil:
			u, err := i.latestRights(r.Context(), ses.User)
			if err != nil {
				return nil, "", err
			}
			return &u, viaSession, nil
		case !errors.Is(err, auth.ErrNoSession):
			return nil, "", err
		}
	}
	return nil, "", nil
}

// latestRights is u, a session's user, with the rights of the user's
// latest sign-in, which may be another session's: a browser signed in as
// an admin loses admin rights when its user signs in again elsewhere
// without them. Sessions from before rights were recorded keep their own.
func (i *Identifier) latestRights(ctx context.Context, u auth.User) (auth.User, error) {
	r, err := i.users.Get(ctx, u.Name)
	switch {
	case errors.Is(err, auth.ErrNoRights):
		return u, nil
	case err != nil:
		return auth.User{}, err
	}
	return r.User, nil
}

// Identify returns who sent r, nil for an anonymous request; a bad token is
// an error coded as the API answers it (bad_token, token_expired...).
func (i *Identifier) Identify(r *http.Request) (*auth.User, error) {
	u, _, err := i.identify(r)
	if err != nil {
		if e := classify(err); e != nil {
			return nil, e
		}
		return nil, err
	}
	return u, nil
}

// FormToken returns the CSRF token a form on the page answering r carries,
// setting the CSRF cookie on w when the browser has none yet.
func (i *Identifier) FormToken(w http.ResponseWriter, r *http.Request) (string, error) {
	ck, err := r.Cookie(csrfCookie)
	val := ""
	if err == nil {
		val = ck.Value
	}
	if val == "" {
		val = auth.NewSecret(24)
		http.SetCookie(w, &http.Cookie{
			Name: csrfCookie, Value: val, Path: "/",
			HttpOnly: true, Secure: i.secureCookie, SameSite: http.SameSiteLaxMode,
		})
	}
	return i.csrfToken(r.Context(), val)
}

// CheckForm reports whether r, a request that changes something, may: sent
// with an API token (no browser sends one by itself), or carrying the CSRF
// token of its cookie in the X-CSRF-Token header or, for a URL-encoded
// form, its csrf field.
func (i *Identifier) CheckForm(r *http.Request) bool {
	if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		return true
	}
	return i.checkCSRF(r)
}

// checkCSRF reports whether r carries the CSRF token of its cookie.
func (i *Identifier) checkCSRF(r *http.Request) bool {
	ck, err := r.Cookie(csrfCookie)
	if err != nil || ck.Value == "" {
		return false
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		// Multipart forms are read by their handler, which checks the
		// token itself (see submitForm); reading it here would consume it.
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
			return false
		}
		got = r.PostFormValue("csrf")
	}
	return i.csrfMatches(r.Context(), ck.Value, got)
}

// csrfMatches checks a CSRF token against cookie value ck.
func (i *Identifier) csrfMatches(ctx context.Context, ck, got string) bool {
	want, err := i.csrfToken(ctx, ck)
	if err != nil {
		return false
	}
	return got != "" && hmac.Equal([]byte(got), []byte(want))
}

// csrfToken is the form token of CSRF cookie value ck: an HMAC under the
// service's secret, so a cookie planted by a sibling domain is useless.
func (i *Identifier) csrfToken(ctx context.Context, ck string) (string, error) {
	key, err := i.secret.Key(ctx)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ck))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

// localHost reports whether host, a request's Host header, names loopback
// or is public, the public URL's host name: what local mode serves.
func localHost(host, public string) bool {
	if hn, _, err := net.SplitHostPort(host); err == nil {
		host = hn
	}
	host = strings.Trim(host, "[]")
	return loopbackHost(host) || public != "" && strings.EqualFold(host, public)
}
