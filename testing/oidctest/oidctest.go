// Package oidctest runs a real OpenID Connect provider for tests
// (github.com/oauth2-proxy/mockoidc) on a free loopback port. It signs in
// whoever is queued, without a login page, so browsers and HTTP clients go
// through the whole authorization code flow unattended.
package oidctest

import (
	"testing"

	"github.com/oauth2-proxy/mockoidc"
)

// Provider is a running identity provider owned by one test.
type Provider struct {
	// Issuer is the issuer URL (discovery under it).
	Issuer string
	// ClientID and ClientSecret are the relying party's credentials.
	ClientID, ClientSecret string
	m                      *mockoidc.MockOIDC
}

// User is who the provider signs in next.
type User struct {
	Subject, Username, Email string
	Groups                   []string
}

// Start runs a provider on 127.0.0.1 and stops it when the test ends.
func Start(tb testing.TB) *Provider {
	tb.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		tb.Fatalf("start OIDC provider: %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Shutdown(); err != nil {
			tb.Errorf("stop OIDC provider: %v", err)
		}
	})
	cfg := m.Config()
	return &Provider{Issuer: cfg.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, m: m}
}

// QueueUser makes u the user of the next sign-in; without one queued the
// provider signs in its default user (jane.doe, groups engineering and
// design).
func (p *Provider) QueueUser(u User) {
	p.m.QueueUser(&mockoidc.MockUser{Subject: u.Subject, PreferredUsername: u.Username, Email: u.Email,
		EmailVerified: true, Groups: u.Groups})
}

// QueueError makes the provider's next answer, whichever endpoint is
// called, an OAuth error with code (such as "access_denied").
func (p *Provider) QueueError(code, description string) {
	p.m.QueueError(&mockoidc.ServerError{Code: 400, Error: code, Description: description})
}
