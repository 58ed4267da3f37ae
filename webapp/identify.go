package webapp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"strings"

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
	sessions *auth.Sessions
	secret   *auth.WebSecret
	// local is the implicit user of local mode; nil otherwise.
	local        *auth.User
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
	// SecureCookies marks the CSRF cookie Secure (an https public URL).
	SecureCookies bool
}

// NewIdentifier returns an identifier over rdb; the caller owns rdb.
func NewIdentifier(rdb redis.UniversalClient, cfg IdentifierConfig) *Identifier {
	i := &Identifier{
		tokens:       auth.NewTokens(rdb, nil).Cached(tokenCacheTTL),
		sessions:     auth.NewSessions(rdb, DefaultSessionTTL),
		secret:       auth.NewWebSecret(rdb),
		secureCookie: cfg.SecureCookies,
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
		u := info.User
		return &u, viaToken, nil
	}
	if i.local != nil {
		u := *i.local
		return &u, viaLocal, nil
	}
	if ck, err := r.Cookie(sessionCookie); err == nil && ck.Value != "" {
		ses, err := i.sessions.Get(r.Context(), ck.Value)
		switch {
		case err == nil:
			return &ses.User, viaSession, nil
		case !errors.Is(err, auth.ErrNoSession):
			return nil, "", err
		}
	}
	return nil, "", nil
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
