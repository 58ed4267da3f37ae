package staging

import (
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/testing/netnstest"
)

// TestOpenRefused opens every remote staging scheme at a loopback canary,
// by address, by localhost and by a name that resolves to loopback only
// when dialled: each is refused by the policy before the canary is
// reached. It runs in a loopback-only network namespace.
func TestOpenRefused(t *testing.T) {
	if !netnstest.Isolate(t) {
		return
	}
	c := netnstest.NewCanary(t)
	port := c.Port
	known := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(known, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "localhost", "[::ffff:127.0.0.1]", netnstest.LoopbackName} {
		for _, raw := range []string{
			"sftp://fbs@" + host + ":" + port + "/dir",
			"ftp://" + host + ":" + port + "/dir",
			"ftps://" + host + ":" + port + "/dir",
		} {
			for _, remote := range []bool{true, false} {
				_, err := Open(context.Background(), raw, Options{Remote: remote, KnownHosts: known, SSHKey: testKey(t)})
				if !errors.Is(err, egress.ErrRefused) {
					t.Errorf("Open(%s): %v, want a refusal of the policy", raw, err)
				}
			}
		}
	}
	// The original service's bare host is anonymous FTP.
	if _, err := Open(context.Background(), "127.0.0.1:"+port, Options{Remote: true}); !errors.Is(err, egress.ErrRefused) {
		t.Errorf("Open(bare host): %v, want a refusal", err)
	}
	if n := c.Hits(); n != 0 {
		t.Fatalf("the canary was reached %d times", n)
	}
	// Allowed by name, the same canary is reached (and fails as FTP).
	_, err := Open(context.Background(), "ftp://localhost:"+port+"/dir", Options{Remote: true, Egress: egress.New(egress.Config{AllowHosts: []string{"localhost"}})})
	if err == nil || errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), "connect to") {
		t.Fatalf("Open allowed by name: %v, want a connection failure past the policy", err)
	}
	if !c.Reached(5 * time.Second) {
		t.Fatal("the canary was not reached when allowed")
	}
}

// testKey writes an unencrypted ed25519 private key and returns its path.
func testKey(t *testing.T) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
