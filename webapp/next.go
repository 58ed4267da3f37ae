package webapp

import (
	"net/url"
	"strings"
)

// maxNext bounds the length of a return path kept across a sign-in.
const maxNext = 2048

// safeNext returns raw when it is a path on this site to send the browser
// back to after signing in (`/login?next=`), else "/". It is the only check
// of `next`, for OIDC sign-in and local mode alike.
//
// Browsers are lenient where a server must not be: they drop tabs and line
// breaks from a Location ("/\t/evil.example" becomes "//evil.example", a
// host), read "\" as "/", and take "//host" as another site. So a return
// path must be printable ASCII without spaces or backslashes, start with
// exactly one "/", and parse as a path with no scheme or host, neither as
// written nor once its escapes are decoded.
func safeNext(raw string) string {
	if raw == "" || raw[0] != '/' || len(raw) > maxNext {
		return "/"
	}
	for i := 0; i < len(raw); i++ {
		if b := raw[i]; b <= ' ' || b >= 0x7f || b == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	for _, p := range []string{raw, u.Path} {
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
			return "/"
		}
	}
	return raw
}
