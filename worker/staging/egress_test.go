package staging

import (
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	reached := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			reached <- struct{}{}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
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
	select {
	case <-reached:
		t.Fatal("the canary was reached")
	default:
	}
	// Allowed by name, the same canary is reached (and fails as FTP).
	_, err = Open(context.Background(), "ftp://localhost:"+port+"/dir", Options{Remote: true, Egress: egress.New(egress.Config{AllowHosts: []string{"localhost"}})})
	if err == nil || errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), "connect to") {
		t.Fatalf("Open allowed by name: %v, want a connection failure past the policy", err)
	}
	<-reached
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
