package tasks

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DefaultLinkTTL is how long a build link in a mail works ([web] link_ttl).
const DefaultLinkTTL = 30 * 24 * time.Hour

// Visibility says who may see a build ([web] visibility).
type Visibility int

const (
	// VisibilityPrivate shows a build (page, record, log, live stream) to
	// its owner and admins only, and to holders of a link from its mails.
	// It is the default.
	VisibilityPrivate Visibility = iota
	// VisibilityPublic shows every build to anyone, without its email
	// address and the user part of its staging URLs, which only its owner
	// and admins see.
	VisibilityPublic
)

// ParseVisibility reads a visibility as written in the configuration:
// "private" or "public".
func ParseVisibility(s string) (Visibility, error) {
	switch s {
	case "private":
		return VisibilityPrivate, nil
	case "public":
		return VisibilityPublic, nil
	}
	return 0, fmt.Errorf("%q is not one of private, public", s)
}

// String returns the visibility as written in the configuration.
func (v Visibility) String() string {
	switch v {
	case VisibilityPrivate:
		return "private"
	case VisibilityPublic:
		return "public"
	}
	return fmt.Sprintf("Visibility(%d)", int(v))
}

// Viewer is who looks at a build: a user's name and whether they are an
// admin. The zero Viewer is anonymous.
type Viewer struct {
	Name  string
	Admin bool
}

// Owns reports whether v may see everything of build owner's builds: v is
// owner or an admin.
func (v Viewer) Owns(owner string) bool { return v.Admin || (v.Name != "" && v.Name == owner) }

// CanSee reports whether v may read build b (page, record, log, stream)
// under visibility vis. This is the one rule every listener applies.
func (v Viewer) CanSee(b *Build, vis Visibility) bool {
	return vis == VisibilityPublic || v.Owns(b.Owner)
}

// ShownTo returns b as viewer v may see it: b itself for its owner and
// admins, else a copy without the email address and without the user part
// of every staging URL (the spec's, the staged directory's, artifacts',
// and wherever the URL is quoted in the error, tail and events).
func (b *Build) ShownTo(v Viewer) *Build {
	if v.Owns(b.Owner) {
		return b
	}
	c := *b
	c.Spec.Email = ""
	hide := StagingUserHider(b.Spec.Staging)
	c.Spec.Staging = hide(b.Spec.Staging)
	c.Staged = hide(b.Staged)
	c.Error = hide(b.Error)
	c.Artifacts = make([]Artifact, len(b.Artifacts))
	for i, a := range b.Artifacts {
		a.URL = hide(a.URL)
		c.Artifacts[i] = a
	}
	c.Tail = hideAll(hide, b.Tail)
	c.Events = hideAll(hide, b.Events)
	return &c
}

func hideAll(hide func(string) string, l []string) []string {
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = hide(s)
	}
	return out
}

// StagingUserHider returns a function that removes the user part of
// staging URL staging ("sftp://alice@host/dir" → "sftp://host/dir")
// wherever it occurs in a text: in the URL itself, the URLs of files below
// it, and messages quoting them. Without a user part it changes nothing.
func StagingUserHider(staging string) func(string) string {
	u, err := url.Parse(staging)
	if err != nil || u.User == nil || u.Host == "" {
		return func(s string) string { return s }
	}
	// The user part as written in the URL, as Go escapes it and as
	// printed unescaped in messages; each is followed by "@host".
	var forms []string
	if _, rest, ok := strings.Cut(staging, "://"); ok {
		authority, _, _ := strings.Cut(rest, "/")
		if i := strings.LastIndex(authority, "@"); i > 0 {
			forms = append(forms, authority[:i]+"@"+u.Host)
		}
	}
	for _, f := range []string{u.User.String(), u.User.Username()} {
		if f := f + "@" + u.Host; !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	return func(s string) string {
		for _, f := range forms {
			s = strings.ReplaceAll(s, f, u.Host)
		}
		return s
	}
}
