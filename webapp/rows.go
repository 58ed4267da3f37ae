package webapp

import (
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
)

// summariesOf decodes a JSON array of build summaries.
func summariesOf(data []byte) ([]tasks.Summary, error) {
	var out []tasks.Summary
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("decode a page of build summaries: %w", err)
	}
	return out, nil
}

// humanDuration is how pages show how long a build ran: "–" before it
// starts, 10 ms steps under a minute, whole seconds above.
func humanDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Truncate(time.Second).String()
}

// when is how pages show a time.
func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// dashRows writes the table rows of the dashboard. It is the one piece of
// page HTML not written by html/template: a page of 50 rows through the
// template cost about a millisecond of CPU in reflection and escaper
// calls, most of the page's cost. Every value is HTML-escaped (every
// attribute is quoted) and every link goes through safeHref, which is
// what html/template does in these contexts; a test compares the two
// renderings, hostile values included.
func dashRows(bs []tasks.Summary, admin bool, csrf string, now time.Time) template.HTML {
	var sb strings.Builder
	sb.Grow(len(bs) * 900)
	esc := template.HTMLEscapeString
	csrf = esc(csrf)
	for i := range bs {
		b := &bs[i]
		id := esc(b.ID)
		idPath := esc(normalizeURL(b.ID)) // the ID as a URL path segment
		live := !b.State.Final()
		sb.WriteString(`<tr data-id="`)
		sb.WriteString(id)
		sb.WriteString(`"`)
		if live {
			sb.WriteString(` data-live`)
		}
		sb.WriteString(">\n<td><a href=\"/builds/")
		sb.WriteString(idPath)
		sb.WriteString(`">`)
		sb.WriteString(id)
		sb.WriteString("</a></td>\n<td class=\"state state-")
		sb.WriteString(esc(string(b.State)))
		sb.WriteString(`">`)
		sb.WriteString(esc(string(b.State)))
		sb.WriteString(`</td><td class="stage">`)
		sb.WriteString(esc(string(b.Stage)))
		sb.WriteString(`</td><td>`)
		sb.WriteString(esc(humanDuration(b.Duration(now))))
		sb.WriteString("</td>\n<td>")
		sb.WriteString(esc(string(b.Type)))
		sb.WriteString(`</td><td>`)
		sb.WriteString(esc(b.Arch))
		sb.WriteString(`</td><td>`)
		sb.WriteString(esc(b.Release))
		sb.WriteString(`</td>`)
		if admin {
			sb.WriteString(`<td>`)
			sb.WriteString(esc(b.Owner))
			sb.WriteString(`</td>`)
		}
		sb.WriteString(`<td>`)
		sb.WriteString(esc(when(b.Created)))
		sb.WriteString("</td>\n<td>")
		for _, a := range b.Artifacts {
			switch href := safeHref(a.URL); {
			case a.URL != "" && href != refusedURL:
				sb.WriteString(`<a href="`)
				sb.WriteString(esc(href))
				sb.WriteString(`">`)
				sb.WriteString(esc(a.Name))
				sb.WriteString(`</a>`)
			case a.URL != "":
				// Staged over SFTP or FTP, or in a directory: no link a
				// browser follows, so the name, with where it is.
				sb.WriteString(`<span title="`)
				sb.WriteString(esc(a.URL))
				sb.WriteString(`">`)
				sb.WriteString(esc(a.Name))
				sb.WriteString(`</span>`)
			default:
				sb.WriteString(esc(a.Name))
			}
			sb.WriteString(` `)
		}
		sb.WriteString("</td>\n<td>")
		if live {
			sb.WriteString(`<form method="post" action="/builds/`)
			sb.WriteString(idPath)
			sb.WriteString(`/cancel"><input type="hidden" name="csrf" value="`)
			sb.WriteString(csrf)
			sb.WriteString(`"><button type="submit">Cancel</button></form>`)
		}
		sb.WriteString("\n<form method=\"post\" action=\"/builds/")
		sb.WriteString(idPath)
		sb.WriteString(`/resubmit"><input type="hidden" name="csrf" value="`)
		sb.WriteString(csrf)
		sb.WriteString("\"><button type=\"submit\">Resubmit</button></form></td>\n</tr>\n")
	}
	return template.HTML(sb.String()) // every value above is escaped
}

// refusedURL is what safeHref makes of a URL it refuses.
const refusedURL = "#ZgotmplZ"

// safeHref is html/template's treatment of a URL in an href: relative URLs
// and http, https and mailto ones pass, normalized; any other scheme
// (javascript:, data:...) becomes "#ZgotmplZ", its marker for a refused
// URL.
func safeHref(u string) string {
	if scheme, _, ok := strings.Cut(u, ":"); ok && !strings.Contains(scheme, "/") {
		switch strings.ToLower(scheme) {
		case "http", "https", "mailto":
		default:
			return refusedURL
		}
	}
	return normalizeURL(u)
}

// normalizeURL percent-encodes the bytes that have no place in a URL,
// keeping existing escapes, as html/template does to values in URLs.
func normalizeURL(u string) string {
	var sb strings.Builder
	done := 0
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-._~!#$&*+,/:;=?@[]", c) >= 0:
			continue
		case c == '%' && i+2 < len(u) && isHex(u[i+1]) && isHex(u[i+2]):
			continue
		}
		sb.WriteString(u[done:i])
		fmt.Fprintf(&sb, "%%%02x", c)
		done = i + 1
	}
	if done == 0 {
		return u
	}
	sb.WriteString(u[done:])
	return sb.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
