package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ErrUnknownHost is a host known_hosts does not list, refused because the
// Target does not accept new hosts.
var ErrUnknownHost = errors.New("host key not in known_hosts")

// ErrHostKeyChanged is a host whose key is not the one known_hosts holds:
// another machine, or the host was reinstalled. It is always refused.
var ErrHostKeyChanged = errors.New("host key changed")

// hostKeyCallback checks host keys against the known_hosts file path,
// appending the keys of new hosts when acceptNew is set.
func hostKeyCallback(path string, acceptNew bool) (ssh.HostKeyCallback, error) {
	// A missing file knows no host; it is made when a host is accepted.
	check := func(string, net.Addr, ssh.PublicKey) error { return &knownhosts.KeyError{} }
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		if check, err = knownhosts.New(path); err != nil {
			return nil, fmt.Errorf("read known_hosts: %w", err)
		}
	}
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := check(hostname, remote, key)
		var ke *knownhosts.KeyError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ke) && len(ke.Want) > 0:
			return fmt.Errorf("%w: %s now offers %s %s, but %s:%d holds another key for it; if the host was reinstalled, remove that line yourself",
				ErrHostKeyChanged, hostname, key.Type(), ssh.FingerprintSHA256(key), ke.Want[0].Filename, ke.Want[0].Line)
		case errors.As(err, &ke):
			fp := ssh.FingerprintSHA256(key)
			if !acceptNew {
				return fmt.Errorf("%w: %s offers %s %s; check the fingerprint and run with --accept-new, or add it to %s",
					ErrUnknownHost, hostname, key.Type(), fp, path)
			}
			return appendKnownHost(path, hostname, key)
		}
		return fmt.Errorf("check host key of %s: %w", hostname, err)
	}, nil
}

// appendKnownHost adds a line for hostname (host:port as the SSH client
// passes it) to path.
func appendKnownHost(path, hostname string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("add %s to known_hosts: %w", hostname, err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("add %s to known_hosts: %w", hostname, err)
	}
	// First contacts with several hosts at once, from this process or
	// another, must not interleave their lines.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return fmt.Errorf("add %s to known_hosts: lock: %w", hostname, err)
	}
	_, werr := f.WriteString(knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key) + "\n")
	if err := f.Close(); werr != nil || err != nil {
		return fmt.Errorf("add %s to known_hosts: %w", hostname, errors.Join(werr, err))
	}
	return nil
}
