package tasks

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Staging URL schemes.
const (
	SchemeFile = "file"
	SchemeSFTP = "sftp"
	SchemeFTP  = "ftp"
	SchemeFTPS = "ftps"
)

// StagingURL is a parsed staging location: where a build's images go.
// The grammar is file:///dir, sftp://[user@]host[:port]/dir (/~/dir for a
// directory below the login directory), ftp:// and ftps://
// [user@]host[:port]/dir, or a bare host[:port] meaning anonymous FTP into
// /pub (the original service's form).
type StagingURL struct {
	Scheme string
	// User is empty for anonymous FTP, and for sftp:// when the URL names
	// nobody (the transfer then logs in as the worker's user).
	User string
	// Password is only ever taken from a local user's URL; HasPassword
	// says the URL carried one, even an empty one.
	Password    string
	HasPassword bool
	// Host is a name or address, without brackets or port.
	Host string
	Port int
	// Dir is the remote directory: absolute, or relative to the login
	// directory ("." for the login directory itself); for file:// a local
	// absolute path.
	Dir string
}

// DefaultStagingPort is the port a scheme uses when the URL names none.
func DefaultStagingPort(scheme string) int {
	switch scheme {
	case SchemeSFTP:
		return 22
	case SchemeFTP, SchemeFTPS:
		return 21
	}
	return 0
}

// HostPort is host:port as net.Dial wants it.
func (u *StagingURL) HostPort() string { return net.JoinHostPort(u.Host, strconv.Itoa(u.Port)) }

// String is the URL without any password, for artifacts, logs and errors.
func (u *StagingURL) String() string {
	if u.Scheme == SchemeFile {
		return (&url.URL{Scheme: SchemeFile, Path: u.Dir}).String()
	}
	out := &url.URL{Scheme: u.Scheme, Host: u.Host}
	if u.Port != DefaultStagingPort(u.Scheme) {
		out.Host = u.HostPort()
	} else if strings.Contains(u.Host, ":") {
		out.Host = "[" + u.Host + "]"
	}
	if u.User != "" {
		out.User = url.User(u.User)
	}
	out.Path = "/" + strings.TrimPrefix(u.Dir, "/")
	if !strings.HasPrefix(u.Dir, "/") {
		// A relative remote directory (relative to the login directory)
		// is written as /~/dir, the form sftp(1) users know.
		out.Path = "/~/" + u.Dir
		if u.Dir == "" || u.Dir == "." {
			out.Path = "/~/"
		}
	}
	return out.String()
}

// ParseStagingURL parses a staging location. Errors never quote a password.
func ParseStagingURL(raw string) (*StagingURL, error) {
	if raw == "" {
		return nil, errors.New("empty staging URL")
	}
	if !strings.Contains(raw, "://") {
		// The original service's bare host: anonymous FTP into pub/.
		h, p, err := splitHostPort(raw, 21)
		if err != nil || !bareHostRE().MatchString(raw) {
			shown := strconv.Quote(raw)
			if strings.Contains(raw, "@") {
				shown = "value" // user:password@host typed without a scheme
			}
			return nil, fmt.Errorf("staging %s: neither a URL (file://, sftp://, ftp://, ftps://) nor a bare FTP host name", shown)
		}
		return &StagingURL{Scheme: SchemeFTP, Host: h, Port: p, Dir: "/pub"}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, which may hold a password.
		return nil, fmt.Errorf("staging URL %s: malformed", redact(raw))
	}
	t := &StagingURL{Scheme: strings.ToLower(u.Scheme)}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("staging URL %s: query and fragment are not allowed", redactURL(u))
	}
	switch t.Scheme {
	case SchemeFile:
		if u.User != nil || (u.Host != "" && u.Host != "localhost") {
			return nil, fmt.Errorf("staging URL %s: file:// takes no host or user (file:///dir)", redactURL(u))
		}
		if u.Path == "" || !path.IsAbs(u.Path) {
			return nil, fmt.Errorf("staging URL %s: file:// needs an absolute directory (file:///dir)", redactURL(u))
		}
		t.Dir = filepath.Clean(filepath.FromSlash(u.Path))
		return t, nil
	case SchemeSFTP, SchemeFTP, SchemeFTPS:
	default:
		return nil, fmt.Errorf("staging URL %s: unknown scheme %q (want file, sftp, ftp or ftps)", redactURL(u), u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("staging URL %s: no host", redactURL(u))
	}
	t.Host, t.Port, err = splitHostPort(u.Host, DefaultStagingPort(t.Scheme))
	if err != nil {
		return nil, fmt.Errorf("staging URL %s: %v", redactURL(u), err)
	}
	if u.User != nil {
		t.User = u.User.Username()
		t.Password, t.HasPassword = u.User.Password()
		if t.User == "" {
			return nil, fmt.Errorf("staging URL %s: empty user name", redactURL(u))
		}
	}
	p := u.Path
	switch {
	case p == "" || p == "/":
		t.Dir = "/"
		if t.Scheme == SchemeSFTP {
			t.Dir = "."
		}
	case t.Scheme == SchemeSFTP && (p == "/~" || strings.HasPrefix(p, "/~/")):
		t.Dir = strings.TrimPrefix(strings.TrimPrefix(p, "/~"), "/")
		if t.Dir == "" {
			t.Dir = "."
		}
	default:
		t.Dir = p
	}
	if t.Dir != "." && t.Dir != "/" {
		clean := path.Clean(t.Dir)
		if strings.HasPrefix(clean, "../") || clean == ".." {
			return nil, fmt.Errorf("staging URL %s: directory leaves the login directory", redactURL(u))
		}
		t.Dir = clean
	}
	return t, nil
}

// StagingPolicy is what a staging location is checked against besides its
// grammar.
type StagingPolicy struct {
	// Remote is true when the request came from someone else (web, API,
	// queue) rather than the local user: it forbids passwords in the URL
	// and file:// outside FileRoot.
	Remote bool
	// FileRoot is [staging] file_root: remote requests may only stage
	// under it with file://. Empty refuses remote file:// staging.
	FileRoot string
}

// CheckStaging parses a staging location and checks it against p, without
// connecting anywhere. It is the one check of a staging URL at submit time;
// the transfer makes it again before it connects.
func CheckStaging(raw string, p StagingPolicy) (*StagingURL, error) {
	t, err := ParseStagingURL(raw)
	if err != nil {
		return nil, err
	}
	if !p.Remote {
		return t, nil
	}
	if t.HasPassword {
		return nil, fmt.Errorf("staging URL %s: a password in the URL is refused for remote submissions; the worker's configuration holds credentials by host", t)
	}
	if t.Scheme == SchemeFile {
		if err := UnderStagingRoot(t.Dir, p.FileRoot); err != nil {
			return nil, fmt.Errorf("staging URL %s: %w", t, err)
		}
	}
	return t, nil
}

// checkSpecStaging is the rule for the staging key of a spec, whoever
// submits it: the grammar, plus what a spec that is shown and mailed must
// not carry.
func checkSpecStaging(raw string) error {
	t, err := ParseStagingURL(raw)
	if err != nil {
		return err
	}
	if t.HasPassword {
		return fmt.Errorf("staging URL %s carries a password: specs are shown and mailed, give the worker the credentials instead", t)
	}
	if t.Scheme == SchemeSFTP && t.User == "" {
		return fmt.Errorf("staging URL %s has no user: write sftp://user@host/dir", t)
	}
	return nil
}

// UnderStagingRoot checks, by their cleaned names alone, that dir lies
// inside root, the [staging] file_root of remote file:// staging.
func UnderStagingRoot(dir, root string) error {
	if root == "" {
		return errors.New("file:// staging is not allowed for remote submissions on this worker (no [staging] file_root)")
	}
	root, dir = filepath.Clean(root), filepath.Clean(dir)
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return fmt.Errorf("%s is outside the staging root %s", dir, root)
	}
	return nil
}

// bareHostRE is a host name or IPv4 address, with an optional port.
var bareHostRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$`)
})

func splitHostPort(hp string, def int) (string, int, error) {
	host, portStr := hp, ""
	if h, p, err := net.SplitHostPort(hp); err == nil {
		host, portStr = h, p
	} else if strings.HasPrefix(hp, "[") && strings.HasSuffix(hp, "]") {
		host = hp[1 : len(hp)-1]
	}
	if host == "" || strings.ContainsAny(host, " /\\@[]") {
		return "", 0, fmt.Errorf("bad host %q", hp)
	}
	port := def
	if portStr != "" {
		n, err := strconv.Atoi(portStr)
		if err != nil || n <= 0 || n > 65535 {
			return "", 0, fmt.Errorf("bad port %q", portStr)
		}
		port = n
	}
	return host, port, nil
}

// redactURL renders u with any password replaced.
func redactURL(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment = "", ""
	return c.Redacted()
}

// redact hides a password in a URL that did not parse.
func redact(raw string) string { return RedactURL(raw) }
