package egress_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/testing/netnstest"
)

func TestCheckHost(t *testing.T) {
	t.Parallel()
	def := egress.New(egress.Config{})
	allowed := egress.New(egress.Config{
		AllowHosts:    []string{"Mirror.Example.", "10.9.9.9"},
		AllowNetworks: []netip.Prefix{netip.MustParsePrefix("192.168.7.0/24"), netip.MustParsePrefix("127.0.0.1/32")},
	})
	for _, tt := range []struct {
		policy *egress.Policy
		host   string
		want   string // "" allowed; else a word of the refusal
	}{
		{nil, "127.0.0.1", "loopback"},
		{def, "127.0.0.1", "loopback"},
		{def, "127.8.9.1", "loopback"},
		{def, "::1", "loopback"},
		{def, "[::1]", "loopback"},
		{def, "::ffff:127.0.0.1", "loopback"},
		{def, "::ffff:169.254.169.254", "link-local"},
		{def, "169.254.169.254", "link-local"},
		{def, "fe80::1", "link-local"},
		{def, "10.1.2.3", "private"},
		{def, "172.16.0.1", "private"},
		{def, "192.168.1.1", "private"},
		{def, "fd00::1", "unique-local"},
		{def, "0.0.0.0", "unspecified"},
		{def, "0.1.2.3", "unspecified"},
		{def, "::", "unspecified"},
		{def, "100.64.0.1", "CGNAT"},
		{def, "100.127.255.254", "CGNAT"},
		{def, "100.128.0.1", ""},
		{def, "1.0.0.1", ""},
		{def, "239.1.2.3", "multicast"},
		{def, "localhost", "loopback"},
		{def, "a.localhost", "loopback"},
		{def, "93.184.215.14", ""},
		{def, "2001:db8::1", ""},
		{def, "::ffff:93.184.215.14", ""},
		{allowed, "mirror.example", ""},
		{allowed, "10.9.9.9", ""},
		{allowed, "10.9.9.8", "private"},
		{allowed, "192.168.7.200", ""},
		{allowed, "::ffff:192.168.7.200", ""},
		{allowed, "192.168.8.1", "private"},
		{allowed, "127.0.0.1", ""},
		{allowed, "127.0.0.2", "loopback"},
		// What inet_aton, libcurl and browsers read as IPv4 addresses.
		{def, "2130706433", "loopback"},
		{def, "0x7f.1", "loopback"},
		{def, "0x7f000001", "loopback"},
		{def, "017700000001", "loopback"},
		{def, "127.1", "loopback"},
		{def, "0177.0.0.1", "loopback"},
		{def, "127.000.000.001", "loopback"},
		{def, "127.0.0.1.", "loopback"},
		{def, "0xa9.0xfe.0xa9.0xfe", "link-local"},
		{def, "2852039166", "link-local"},
		{def, "1.2.3.4.5", "malformed"},
		{def, "999.1.1.1", "malformed"},
		{def, "08.0.0.1", "malformed"},
		{def, "1.0x100", ""},
		{def, "16843009", ""},
		{def, "①②⑦.0.0.1", "non-ASCII"},
		{def, "１２７.０.０.１", "non-ASCII"},
		{def, "127.0.0.1$releasever", "not a host name"},
		{def, "${host}", "not a host name"},
		{def, "a b", "not a host name"},
		// IPv6 addresses that reach an IPv4 address.
		{def, "::127.0.0.1", "loopback"},
		{def, "64:ff9b::7f00:1", "loopback"},
		{def, "64:ff9b::a9fe:a9fe", "link-local"},
		{def, "2002:7f00:1::", "loopback"},
		{def, "2002:c0a8:101::1", "private"},
		{def, "255.255.255.255", "reserved"},
		{def, "240.0.0.1", "reserved"},
		{egress.Open(), "169.254.169.254", ""},
		{egress.Open(), "2130706433", ""},
		{egress.Open(), "localhost", ""},
	} {
		err := tt.policy.CheckHost(context.Background(), tt.host)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckHost(%q) = %v, want allowed", tt.host, err)
		case tt.want != "" && (!errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckHost(%q) = %v, want a refusal as %s", tt.host, err, tt.want)
		}
		if lerr := tt.policy.CheckLiteral(tt.host); (lerr == nil) != (err == nil) {
			t.Errorf("CheckLiteral(%q) = %v, CheckHost = %v", tt.host, lerr, err)
		}
	}
}

func TestParseNetwork(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"10.0.0.0/8": "10.0.0.0/8", "10.1.2.3/8": "10.0.0.0/8", "127.0.0.1": "127.0.0.1/32", "fd00::/8": "fd00::/8", "::1": "::1/128"} {
		got, err := egress.ParseNetwork(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseNetwork(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10.0.0.0/33", "example.org", "10.0.0.0/x"} {
		if _, err := egress.ParseNetwork(in); err == nil {
			t.Errorf("ParseNetwork(%q) accepted", in)
		}
	}
}

// TestDialContext dials loopback canaries and a name that resolves to
// loopback (DNS rebinding, through /etc/hosts in the namespace's mount of
// ip netns exec): refused by default before any connection, reachable when
// allowed. It runs in a loopback-only network namespace.
func TestDialContext(t *testing.T) {
	if !netnstest.Isolate(t) {
		return
	}
	c := netnstest.NewCanary(t)
	addr, port := c.Addr, c.Port
	ctx := context.Background()

	for _, target := range []string{addr, "[::ffff:127.0.0.1]:" + port, "localhost:" + port} {
		_, err := egress.New(egress.Config{}).DialContext(ctx, "tcp", target)
		if !errors.Is(err, egress.ErrRefused) {
			t.Errorf("dial %s: %v, want a refusal of the policy", target, err)
		}
	}
	// A name that is not known as loopback until it is resolved: the
	// check happens on the address dialled.
	_, err := egress.New(egress.Config{}).DialContext(ctx, "tcp", net.JoinHostPort(netnstest.LoopbackName, port))
	if !errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), netnstest.LoopbackName) {
		t.Errorf("dial %s: %v, want a refusal naming it", netnstest.LoopbackName, err)
	}
	if err := egress.New(egress.Config{}).CheckHost(ctx, netnstest.LoopbackName); !errors.Is(err, egress.ErrRefused) {
		t.Errorf("CheckHost(%s) = %v, want a refusal", netnstest.LoopbackName, err)
	}
	if n := c.Hits(); n != 0 {
		t.Fatalf("the canary was reached %d times: the policy let a refused dial through", n)
	}
	for _, p := range []*egress.Policy{
		egress.New(egress.Config{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}),
		egress.New(egress.Config{AllowHosts: []string{"127.0.0.1"}}),
		egress.Open(),
	} {
		conn, err := p.DialContext(ctx, "tcp", addr)
		if err != nil {
			t.Fatalf("dial %s allowed: %v", addr, err)
		}
		conn.Close()
	}
	conn, err := egress.New(egress.Config{AllowHosts: []string{"localhost"}}).DialContext(ctx, "tcp", "localhost:"+port)
	if err != nil {
		t.Fatalf("dial localhost allowed by name: %v", err)
	}
	conn.Close()
	if !c.Reached(5 * time.Second) {
		t.Fatal("the canary was not reached when allowed")
	}
}
