package cli

import (
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/conf"
	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/monitor/notify"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// access is who may see builds in one process ([web] visibility and
// link_ttl): one Identifier and one link store shared by its web app,
// monitor routes and mail sender.
type access struct {
	visibility tasks.Visibility
	ident      *webapp.Identifier
	links      *auth.Links
}

// newAccess returns the access of a process over rdb whose users reach it
// at publicURL. local is local mode: no sign-in, every request without a
// token is the local user's.
func newAccess(cfg *conf.Config, rdb redis.UniversalClient, local bool, publicURL string) *access {
	return &access{
		visibility: cfg.Web.Visibility,
		// As the web app (webConfig) would make it for itself.
		ident: webapp.NewIdentifier(rdb, webapp.IdentifierConfig{
			Local: local, LocalUser: currentUser(), PublicURL: publicURL,
			MaxTokenLifetime: tokenMaxLifetime(cfg),
		}),
		links: auth.NewLinks(rdb, cfg.Web.LinkTTL, nil),
	}
}

// tokenMaxLifetime is [web] token_max_days as a duration.
func tokenMaxLifetime(cfg *conf.Config) time.Duration {
	return time.Duration(cfg.Web.TokenMaxDays) * 24 * time.Hour
}

// monitor returns mc with the access rules filled in.
func (x *access) monitor(mc monitor.Config) monitor.Config {
	mc.Visibility, mc.Identifier, mc.Links = x.visibility, x.ident, x.links
	return mc
}

// notify returns nc signing its links when builds are private (public
// builds need no key).
func (x *access) notify(nc notify.Config) notify.Config {
	if x.visibility == tasks.VisibilityPrivate {
		nc.Links = x.links
	}
	return nc
}
