package webapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// stateCookie ties an OIDC sign-in to the browser that started it, so a
// callback URL made by someone else cannot sign the victim in as them.
const stateCookie = "fbs_oidc_state"

// signInTTL is how long a user has to sign in at the provider.
const signInTTL = 10 * time.Minute

// oidcProvider discovers the provider on first use and caches it, so the
// web app starts even while the provider is down.
type oidcProvider struct {
	cfg OIDC

	mu       sync.Mutex
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newOIDCProvider(cfg OIDC) *oidcProvider { return &oidcProvider{cfg: cfg} }

func (p *oidcProvider) get(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.oauth != nil {
		return p.oauth, p.verifier, nil
	}
	prov, err := oidc.NewProvider(ctx, p.cfg.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("discover OIDC provider %s: %w", p.cfg.Issuer, err)
	}
	p.oauth = &oauth2.Config{
		ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, Endpoint: prov.Endpoint(),
		RedirectURL: p.cfg.RedirectURL, Scopes: append([]string{oidc.ScopeOpenID}, p.cfg.Scopes...),
	}
	p.verifier = prov.Verifier(&oidc.Config{ClientID: p.cfg.ClientID})
	return p.oauth, p.verifier, nil
}

// signIn is what is remembered between /login and /callback.
type signIn struct {
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Next     string `json:"next"`
}

// login is GET /login: off to the provider, with state, nonce and PKCE.
func (s *Server) login(c *gin.Context) {
	next := safeNext(c.Query("next"))
	if s.oidc == nil {
		c.Redirect(http.StatusSeeOther, next)
		return
	}
	oc, _, err := s.oidc.get(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	state, in := auth.NewSecret(24), signIn{Nonce: auth.NewSecret(24), Verifier: oauth2.GenerateVerifier(), Next: next}
	data, err := json.Marshal(in)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.sessions.PutState(c.Request.Context(), state, data, signInTTL); err != nil {
		s.fail(c, err)
		return
	}
	s.setCookie(c, stateCookie, state, int(signInTTL.Seconds()))
	c.Redirect(http.StatusSeeOther, oc.AuthCodeURL(state, oidc.Nonce(in.Nonce), oauth2.S256ChallengeOption(in.Verifier)))
}

// signInError is a failed sign-in (401), shown on an error page.
func signInError(format string, args ...any) error {
	return tasks.Errorf(CodeUnauthenticated, "", "sign-in failed: %s", fmt.Sprintf(format, args...))
}

// oauthErrors are the error codes an authorization response may carry, as
// registered with IANA (OAuth Extensions Error Registry: RFC 6749 4.1.2.1
// and OpenID Connect Core 3.1.2.6).
var oauthErrors = []string{
	"invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type", "invalid_scope",
	"server_error", "temporarily_unavailable", "interaction_required", "login_required",
	"account_selection_required", "consent_required", "invalid_request_uri", "invalid_request_object",
	"request_not_supported", "request_uri_not_supported", "registration_not_supported",
}

// providerError is a sign-in the provider refused (?error= on the
// callback). Anyone can send a browser to /callback with any text, so the
// page shows a fixed message, with the error code only if it is a
// registered one, and never error_description.
func providerError(code string) error {
	if slices.Contains(oauthErrors, code) {
		return signInError("the identity provider refused it (%s)", code)
	}
	return signInError("the identity provider refused it")
}

// callback is GET /callback: the provider sends the browser back here.
func (s *Server) callback(c *gin.Context) {
	if s.oidc == nil {
		s.fail(c, tasks.Errorf(CodeNotFound, "", "sign-in is not configured (local mode)"))
		return
	}
	ctx := c.Request.Context()
	if e := c.Query("error"); e != "" {
		s.fail(c, providerError(e))
		return
	}
	state := c.Query("state")
	ck, _ := c.Cookie(stateCookie)
	s.setCookie(c, stateCookie, "", -1)
	if state == "" || ck != state {
		s.fail(c, signInError("this sign-in was not started by this browser; start again"))
		return
	}
	data, err := s.sessions.TakeState(ctx, state)
	if errors.Is(err, auth.ErrNoSession) {
		s.fail(c, signInError("the sign-in took too long or was already used; start again"))
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	var in signIn
	if err := json.Unmarshal(data, &in); err != nil {
		s.fail(c, fmt.Errorf("decode sign-in state: %w", err))
		return
	}
	oc, verifier, err := s.oidc.get(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	tok, err := oc.Exchange(ctx, c.Query("code"), oauth2.VerifierOption(in.Verifier))
	if err != nil {
		// The provider's answer is logged, not shown: the page says only
		// what the server chose to say.
		s.cfg.Logger.Warn("sign-in: code exchange failed", "err", err)
		s.fail(c, signInError("the identity provider did not accept the sign-in; start again"))
		return
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		s.fail(c, signInError("the identity provider sent no ID token"))
		return
	}
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		s.cfg.Logger.Warn("sign-in: ID token refused", "err", err)
		s.fail(c, signInError("the identity provider's ID token is not valid"))
		return
	}
	if idt.Nonce != in.Nonce {
		s.fail(c, signInError("ID token nonce does not match"))
		return
	}
	u, err := s.userFromClaims(idt)
	if err != nil {
		s.fail(c, signInError("%v", err))
		return
	}
	// The user's tokens act with the rights of this sign-in from now on.
	if err := s.users.Put(ctx, *u, time.Now()); err != nil {
		s.fail(c, err)
		return
	}
	s.tokens.ForgetUser(u.Name)
	id, err := s.sessions.Create(ctx, *u)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.setCookie(c, sessionCookie, id, int(s.cfg.SessionTTL.Seconds()))
	s.cfg.Logger.Info("signed in", "user", u.Name, "admin", u.Admin, "can_submit", u.CanSubmit)
	c.Redirect(http.StatusSeeOther, safeNext(in.Next))
}

// userFromClaims makes the user of an ID token: preferred_username (else
// the subject), email, and the groups claim deciding submit and admin.
func (s *Server) userFromClaims(idt *oidc.IDToken) (*auth.User, error) {
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("read ID token claims: %w", err)
	}
	str := func(k string) string { v, _ := claims[k].(string); return v }
	u := &auth.User{Name: str("preferred_username"), Email: str("email")}
	if u.Name == "" {
		u.Name = idt.Subject
	}
	if !auth.ValidUserName(u.Name) {
		return nil, fmt.Errorf("ID token names no usable user (preferred_username %q, sub %q)", str("preferred_username"), idt.Subject)
	}
	switch g := claims[s.cfg.OIDC.GroupsClaim].(type) {
	case []any:
		for _, v := range g {
			if gs, ok := v.(string); ok {
				u.Groups = append(u.Groups, gs)
			}
		}
	case string:
		u.Groups = strings.Fields(g)
	}
	u.Admin = s.cfg.OIDC.AdminGroup != "" && u.InGroup(s.cfg.OIDC.AdminGroup)
	u.CanSubmit = s.cfg.OIDC.SubmitGroup == "" || u.InGroup(s.cfg.OIDC.SubmitGroup) || u.Admin
	return u, nil
}

// logout is POST /logout.
func (s *Server) logout(c *gin.Context) {
	if id, err := c.Cookie(sessionCookie); err == nil && id != "" {
		if err := s.sessions.Delete(c.Request.Context(), id); err != nil {
			s.fail(c, err)
			return
		}
	}
	s.setCookie(c, sessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, "/")
}
