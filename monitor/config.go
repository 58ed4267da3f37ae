package monitor

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// Defaults for the zero fields of Config.
const (
	DefaultPageLines      = 2000
	DefaultRecentBuilds   = 25
	DefaultLogPage        = 5000
	DefaultKeepAlive      = 15 * time.Second
	DefaultRequestTimeout = 10 * time.Second
)

// Config configures a Server. Zero fields take the defaults above.
type Config struct {
	// PublicURL is how users reach the monitor ([monitor] public_url): with
	// it every link is absolute; empty means relative links, which work
	// behind any proxy prefix. The monitor never guesses a host or an IP.
	PublicURL string
	// PageLines is how many lines the build page shows (the tail of the
	// log) before pointing to the full log; the page also keeps at most
	// this many lines while following (default 2000).
	PageLines int
	// RecentBuilds is how many builds the status page lists (default 25).
	RecentBuilds int
	// LogPage is how many lines the full-log and SSE handlers read from
	// Redis at a time: it bounds their memory (default 5000; SSE handlers
	// read at most 1000).
	LogPage int
	// KeepAlive is how often an idle SSE stream gets a comment, so proxies
	// keep it open and a dead client is noticed (default 15 s).
	KeepAlive time.Duration
	// RequestTimeout bounds the Redis work of the non-streaming pages
	// (default 10 s).
	RequestTimeout time.Duration
	// Logger receives server errors (default slog.Default()).
	Logger *slog.Logger

	// Visibility says who may read a build ([web] visibility): private
	// (default) shows a build's page, record, log and stream to its
	// owner and admins only, and its page, log and stream to holders of
	// a link from its mails; public shows them to anyone, hiding the
	// email address and staging users from all but the owner and admins.
	Visibility tasks.Visibility
	// Identifier tells who sends a request (webapp.Identifier); nil
	// makes every request anonymous.
	Identifier Identifier
	// Links checks the build links of mails and revokes them; nil
	// accepts no link.
	Links *auth.Links
}

// withDefaults fills the zero fields, then validates.
func (c Config) withDefaults() (Config, error) {
	if c.PageLines == 0 {
		c.PageLines = DefaultPageLines
	}
	if c.RecentBuilds == 0 {
		c.RecentBuilds = DefaultRecentBuilds
	}
	if c.LogPage == 0 {
		c.LogPage = DefaultLogPage
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	var errs []error
	if c.PageLines < 1 {
		errs = append(errs, fmt.Errorf("page lines: %d is not positive", c.PageLines))
	}
	if c.RecentBuilds < 1 {
		errs = append(errs, fmt.Errorf("recent builds: %d is not positive", c.RecentBuilds))
	}
	if c.LogPage < 1 {
		errs = append(errs, fmt.Errorf("log page: %d is not positive", c.LogPage))
	}
	if c.KeepAlive < 0 || c.RequestTimeout < 0 {
		errs = append(errs, errors.New("keep-alive and request timeout must not be negative"))
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("public_url %q: %w", c.PublicURL, err))
		case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			errs = append(errs, fmt.Errorf("public_url %q: want an absolute http:// or https:// URL", c.PublicURL))
		case u.RawQuery != "" || u.Fragment != "":
			errs = append(errs, fmt.Errorf("public_url %q: must not have a query or fragment", c.PublicURL))
		}
		c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("monitor config: %w", err)
	}
	return c, nil
}
