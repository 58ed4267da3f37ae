package conf

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/fedora-fbs/fbs/tasks"
)

// Dump renders the effective configuration as INI text Load reads back, with
// secrets masked: values of secret keys and of keys named like passwords,
// secrets or tokens, and passwords inside URLs. Password files are named,
// never read.
func (c *Config) Dump() string {
	var b strings.Builder
	if c.File != "" {
		fmt.Fprintf(&b, "# fbs configuration read from %s, with defaults filled in\n", c.File)
	} else {
		b.WriteString("# fbs configuration: built-in defaults\n")
	}
	section := ""
	for _, f := range fields() {
		v := f.bind(c).String()
		if f.section == "tools" && v == "" {
			continue
		}
		if f.section != section {
			section = f.section
			fmt.Fprintf(&b, "\n[%s]\n", section)
		}
		if v != "" {
			v = mask(f, f.bind(c), v)
		}
		fmt.Fprintf(&b, "%s = %s\n", f.key, v)
	}
	return b.String()
}

// String is Dump, so printing a Config never shows a secret.
func (c *Config) String() string { return c.Dump() }

// masked replaces secrets, as url.URL.Redacted does.
const masked = "xxxxx"

// mask returns v, value val of key f, as Dump shows it. Keys are guessed
// secret by name, except numbers and durations ([web] token_max_days is a
// count of days, not a token).
func mask(f field, val value, v string) string {
	k := strings.ToLower(f.key)
	_, isInt := val.(integer)
	_, isDur := val.(duration)
	if f.secret || (!strings.HasSuffix(k, "_file") && !isInt && !isDur &&
		(strings.Contains(k, "password") || strings.Contains(k, "secret") || strings.Contains(k, "token"))) {
		return masked
	}
	u, err := url.Parse(v)
	switch {
	case err == nil && u.RawQuery != "" && strings.Contains(strings.ToLower(u.RawQuery), "password"):
		// A query may carry a password (redis-sentinel's
		// sentinel_password): mask its value, keep the rest.
		q := u.Query()
		for k := range q {
			if strings.Contains(strings.ToLower(k), "password") {
				q.Set(k, masked)
			}
		}
		c := *u
		if _, ok := c.User.Password(); ok {
			c.User = url.UserPassword(c.User.Username(), masked)
		}
		c.RawQuery = q.Encode()
		return c.String()
	case err == nil && u.User != nil:
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	case err != nil && strings.Contains(v, "@"):
		// A malformed URL (a --redis flag is not checked by Load) may
		// still hold a password.
		return tasks.RedactURL(v)
	}
	return v
}
