package staging

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyCheck is how an SFTP server's host key is judged: by a pinned
// fingerprint when the configuration has one for the host, else by the
// known_hosts file (hashed entries and [host]:port forms included).
type hostKeyCheck struct {
	pinned     string // "SHA256:..." or empty
	knownHosts string // path, used when pinned is empty
	cb         ssh.HostKeyCallback
}

func newHostKeyCheck(t *target, opts *Options) (*hostKeyCheck, error) {
	if fp, ok := t.lookup(opts.HostKeys); ok {
		return &hostKeyCheck{pinned: fp}, nil
	}
	path := opts.KnownHosts
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("find known_hosts: %w", err)
		}
		path = filepath.Join(home, ".ssh", "known_hosts")
	}
	cb, err := knownhosts.New(path)
	if err != nil {
		return nil, fmt.Errorf("read known_hosts %s: %w (set [staging] known_hosts, or pin the host's fingerprint)", path, err)
	}
	return &hostKeyCheck{knownHosts: path, cb: cb}, nil
}

// algorithms returns the host key algorithms to ask the server for: those
// of the keys known_hosts holds for it, so a server that also has a key of
// another type is not mistaken for a changed one. Nil means any.
func (h *hostKeyCheck) algorithms(hostport string, remote net.Addr) []string {
	if h.cb == nil {
		return nil
	}
	// Probe with a throwaway key: the KeyError lists the known keys.
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil
	}
	probe, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if err := h.cb(hostport, remote, probe.PublicKey()); !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range ke.Want {
		for _, a := range algorithmsForKeyType(k.Key.Type()) {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

func algorithmsForKeyType(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{t}
}

// callback is the ssh.HostKeyCallback; its errors say what to do.
func (h *hostKeyCheck) callback(hostport string) ssh.HostKeyCallback {
	return func(_ string, remote net.Addr, key ssh.PublicKey) error {
		got := ssh.FingerprintSHA256(key)
		if h.pinned != "" {
			if got != h.pinned {
				return fmt.Errorf("host key of %s is %s %s, not the pinned fingerprint %s: refusing to connect", hostport, key.Type(), got, h.pinned)
			}
			return nil
		}
		err := h.cb(hostport, remote, key)
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &re):
			return fmt.Errorf("host key of %s (%s %s) is revoked in %s:%d: refusing to connect", hostport, key.Type(), got, re.Revoked.Filename, re.Revoked.Line)
		case errors.As(err, &ke) && len(ke.Want) == 0:
			return fmt.Errorf("host %s is unknown: its %s key %s is not in %s; add it there (ssh-keyscan) or pin the fingerprint in [staging] host keys", hostport, key.Type(), got, h.knownHosts)
		case errors.As(err, &ke):
			w := ke.Want[0]
			return fmt.Errorf("HOST KEY MISMATCH for %s: the server offered %s %s but %s:%d has %s %s; refusing to connect (the key changed, or someone is in the middle)",
				hostport, key.Type(), got, w.Filename, w.Line, w.Key.Type(), ssh.FingerprintSHA256(w.Key))
		}
		return fmt.Errorf("check host key of %s: %w", hostport, err)
	}
}
