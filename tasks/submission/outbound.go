package submission

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/fedora-fbs/fbs/kickstarts"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
)

// resolveTimeout bounds the name lookups of one URL at submit.
const resolveTimeout = 5 * time.Second

// The schemes a request's URLs may have, by what they are for.
var (
	repoSchemes  = []string{"http", "https", "ftp"}
	proxySchemes = []string{"http", "https", "socks5"}
	isoSchemes   = []string{"http", "https"}
)

// Outbound is the rule of the URLs a request makes a worker, or a tool on
// it, connect to. Prepare applies it at submit; the worker applies it again
// just before it hands the URLs to a tool that connects by itself (lorax,
// dnf, livemedia-creator), so a name that resolves to a refused address
// by then is refused too.
type Outbound struct {
	// Policy is the outbound-address policy; nil is the default one.
	Policy *egress.Policy
	// LocalFiles allows file:// URLs: the build runs on the submitter's
	// machine (`fbs build --local`).
	LocalFiles bool
}

// CheckSpec checks the URLs of sp: staging, iso=, the boot repositories,
// mirrors and proxy. It returns tasks.Errors naming each field at fault.
func (o Outbound) CheckSpec(ctx context.Context, sp *tasks.Spec) error {
	var errs tasks.Errors
	o.checkSpec(ctx, sp, func(field, format string, args ...any) {
		errs = append(errs, tasks.Invalid(field, format, args...))
	})
	return errs.Err()
}

func (o Outbound) checkSpec(ctx context.Context, sp *tasks.Spec, add func(field, format string, args ...any)) {
	if sp.Staging != "" {
		if t, err := tasks.ParseStagingURL(sp.Staging); err == nil && t.Scheme != tasks.SchemeFile {
			if err := o.checkHost(ctx, t.Host); err != nil {
				add(tasks.FieldStaging, "staging host %s: %v", t.Host, err)
			}
		}
	}
	if sp.KSISO != nil && strings.Contains(sp.KSISO.ISO, "://") {
		if err := o.checkURL(ctx, sp.KSISO.ISO, isoSchemes); err != nil {
			add(tasks.FieldISO, "boot ISO: %v", err)
		}
	}
	if b := sp.Boot; b != nil {
		for _, r := range b.Repos {
			if r.URL != "" {
				if err := o.checkURL(ctx, r.URL, repoSchemes); err != nil {
					add("boot."+r.Name+"_url", "repository %s: %v", r.Name, err)
				}
			}
			if r.Mirror != "" {
				if err := o.checkURL(ctx, r.Mirror, repoSchemes); err != nil {
					add("boot."+r.Name+"_mirror", "mirror list of repository %s: %v", r.Name, err)
				}
			}
		}
		if b.Proxy != "" {
			if err := o.checkURL(ctx, b.Proxy, proxySchemes); err != nil {
				add("boot.proxy", "proxy: %v", err)
			}
		}
	}
}

// CheckKickstart checks the installation sources of a flattened
// kickstart (url, repo, liveimg, ostreesetup lines) for the image types
// whose builder may install from them on the worker: dvd and live.
// A kickstart ISO's kickstart runs on the machine it installs, not on a
// worker.
func (o Outbound) CheckKickstart(ctx context.Context, sp *tasks.Spec, text string) error {
	if sp.Type != tasks.TypeDVD && sp.Type != tasks.TypeLive {
		return nil
	}
	var errs tasks.Errors
	for _, s := range kickstarts.SourceURLs(text) {
		schemes := repoSchemes
		if s.Option == "--proxy" {
			schemes = proxySchemes
		}
		if err := o.checkURL(ctx, s.URL, schemes); err != nil {
			errs = append(errs, tasks.Invalid(tasks.FieldKickstart, "line %d of the flattened kickstart: %s %s: %v", s.Line, s.Command, s.Option, err))
		}
	}
	return errs.Err()
}

// CheckRepoURL checks a repository URL of the worker's own configuration
// ([dvd] repos) just before a tool connects to it: its host must be one the
// policy allows. A file:// URL names the operator's local mirror and
// passes.
func (o Outbound) CheckRepoURL(ctx context.Context, raw string) error {
	if u, err := url.Parse(raw); err == nil && strings.EqualFold(u.Scheme, "file") {
		return nil
	}
	return o.checkURL(ctx, raw, repoSchemes)
}

// checkURL checks one URL: a scheme of schemes (file:// only for a build
// that runs here), and a host the policy allows.
func (o Outbound) checkURL(ctx context.Context, raw string, schemes []string) error {
	// dnf reads a base URL as a list separated by commas or spaces:
	// every URL in it is checked.
	parts := strings.FieldsFunc(raw, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(parts) > 1 {
		for _, p := range parts {
			if strings.Contains(p, ":") {
				if err := o.checkURL(ctx, p, schemes); err != nil {
					return err
				}
			}
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme == "file" {
		if o.LocalFiles {
			return nil
		}
		return fmt.Errorf("%s names a file on the worker: file:// is refused unless the build runs on the submitter's machine (fbs build --local)", u.Redacted())
	}
	if !slices.Contains(schemes, scheme) {
		return fmt.Errorf("%s: scheme %q is not allowed (want %s)", u.Redacted(), u.Scheme, strings.Join(schemes, ", "))
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%s has no host", u.Redacted())
	}
	if err := o.checkHost(ctx, u.Hostname()); err != nil {
		return fmt.Errorf("%s: %w", u.Redacted(), err)
	}
	return nil
}

// checkHost applies the policy to host, resolving it here: a name that
// resolves to a refused address is refused at once. A name that does not
// resolve here passes; the worker checks the address it connects to.
func (o Outbound) checkHost(ctx context.Context, host string) error {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	err := o.Policy.CheckHost(ctx, host)
	if err != nil && !errors.Is(err, egress.ErrRefused) {
		return nil
	}
	return err
}
