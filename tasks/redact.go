package tasks

import (
	"net/url"
	"strings"
)

// RedactURL renders raw, a URL that may carry credentials (a Redis URL, a
// staging URL), for errors and logs: any password is replaced by "xxxxx",
// and the query and fragment are dropped. It never returns a secret, even
// for text that does not parse as a URL: everything before the last '@' of
// such text is hidden but for the scheme and the user name.
func RedactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		c := *u
		c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = "", false, "", ""
		if c.Opaque != "" {
			return c.Scheme + ":(opaque)"
		}
		if c.User == nil && c.Host == "" && strings.Contains(c.Path, "@") {
			// A URL missing a slash ("redis:/:pw@h/0") parses with
			// its credentials in the path.
			return c.Scheme + ":(no host)"
		}
		return c.Redacted()
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || strings.ContainsAny(scheme, ":@/") {
		if strings.ContainsAny(raw, "@:") {
			return "(unparsable URL)"
		}
		return raw
	}
	rest, _, _ = strings.Cut(rest, "?")
	rest, _, _ = strings.Cut(rest, "#")
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return scheme + "://" + rest
	}
	userinfo := rest[:at]
	if name, _, hasPass := strings.Cut(userinfo, ":"); hasPass && !strings.ContainsAny(name, "/") {
		return scheme + "://" + name + ":xxxxx" + rest[at:]
	}
	return scheme + "://xxxxx" + rest[at:]
}
