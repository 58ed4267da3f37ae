// Package egress is the one outbound-address policy of fbs: which hosts a
// build request may make fbs connect to. A request names URLs (a kickstart,
// a boot ISO, staging, lorax repositories and proxy) that a web server, a
// submitter's machine or a worker then dials; without a policy, a request
// could make a server reach its own loopback services, the cloud metadata
// address or the private network it sits in.
//
// By default loopback, link-local (169.254/16, fe80::/10, the metadata
// address), private (10/8, 172.16/12, 192.168/16), unique-local (fc00::/7),
// CGNAT (100.64/10), "this network" (0/8), unspecified and multicast
// addresses are refused, also when written as IPv4-mapped IPv6 addresses.
// The operator allows named hosts or networks with [security] allow_hosts
// and allow_networks.
//
// The policy is applied twice: at submit, to every URL a request carries
// (CheckHost resolves names, so a name that points inside is refused at
// once), and again on every connection fbs itself makes for a request
// (Policy.DialContext and Policy.Control check the address actually
// dialled), so a name that resolves to a refused address at build time —
// DNS rebinding — is refused too. Tools that connect by themselves (lorax,
// dnf, livemedia-creator) cannot be checked at dial time; the worker
// checks the URLs it hands them just before it runs them.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// ErrRefused is what every refusal of the policy wraps.
var ErrRefused = errors.New("refused by the outbound address policy")

// DialTimeout bounds connecting through Policy.DialContext.
const DialTimeout = 30 * time.Second

// RefusedError is a refusal: the host asked for and the address it has.
type RefusedError struct {
	// Host is the name or address asked for.
	Host string
	// Addr is the refused address (Host itself when it is an address).
	Addr netip.Addr
	// Kind says what the address is ("loopback", "private"...).
	Kind string
}

func (e *RefusedError) Error() string {
	if !e.Addr.IsValid() {
		return fmt.Sprintf("host %q is %s: %v", e.Host, e.Kind, ErrRefused)
	}
	if e.Host != "" && e.Host != e.Addr.String() {
		return fmt.Sprintf("host %s has %s address %s: %v", e.Host, e.Kind, e.Addr, ErrRefused)
	}
	return fmt.Sprintf("%s address %s: %v", e.Kind, e.Addr, ErrRefused)
}

// Unwrap makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// Config is the [security] section as the policy uses it.
type Config struct {
	// AllowHosts are host names (or addresses) reachable whatever their
	// addresses are; compared case-insensitively, without port.
	AllowHosts []string
	// AllowNetworks are networks (CIDR, or a single address) whose
	// addresses are reachable.
	AllowNetworks []netip.Prefix
}

// Policy decides which hosts and addresses fbs may connect to for a
// request. The nil *Policy is the default policy: nothing allowed beyond
// public addresses. A Policy is safe for concurrent use.
type Policy struct {
	hosts map[string]bool
	nets  []netip.Prefix
	open  bool
}

// New returns the policy of cfg.
func New(cfg Config) *Policy {
	p := &Policy{hosts: map[string]bool{}}
	for _, h := range cfg.AllowHosts {
		if h = normHost(h); h != "" {
			p.hosts[h] = true
		}
	}
	for _, n := range cfg.AllowNetworks {
		p.nets = append(p.nets, n.Masked())
	}
	return p
}

// Open returns a policy that allows every address: for a build that runs
// on its submitter's own machine (`fbs build --local`), whose network the
// submitter may reach anyway.
func Open() *Policy { return &Policy{open: true} }

// ParseNetwork parses an allow_networks entry: a CIDR prefix or a single
// address (a prefix of its full length).
func ParseNetwork(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("network %q: want an address or address/bits", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("network %q: want an address or address/bits", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// normHost lowercases a host name and drops brackets and a final dot.
func normHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(h, ".")
}

// kind names what a refused address is, or "" when it is public.
func kind(a netip.Addr) string {
	b := a.As16() // an IPv4 address is in the last four bytes
	v4 := a.Is4()
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsPrivate():
		if a.Is6() {
			return "unique-local"
		}
		return "private"
	case a.IsUnspecified(), v4 && b[12] == 0: // 0.0.0.0/8
		return "unspecified"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case v4 && b[12] == 100 && b[13]&0xc0 == 64: // 100.64.0.0/10
		return "shared (CGNAT)"
	case v4 && b[12] >= 240: // 240.0.0.0/4 and the broadcast address
		return "reserved"
	}
	if e, ok := embeddedIPv4(a); ok {
		if k := kind(e); k != "" {
			return k + " (embedded in " + a.String() + ")"
		}
	}
	return ""
}

// embeddedIPv4 returns the IPv4 address an IPv6 address reaches through a
// translator or tunnel: NAT64 (64:ff9b::/96, 64:ff9b:1::/48), IPv4-compatible
// (::/96) and 6to4 (2002::/16).
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() || a.Is4In6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	switch {
	case b[0] == 0x20 && b[1] == 0x02:
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	case netip.MustParsePrefix("64:ff9b::/96").Contains(a), netip.MustParsePrefix("64:ff9b:1::/48").Contains(a),
		netip.MustParsePrefix("::/96").Contains(a):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	}
	return netip.Addr{}, false
}

// checkForm refuses host names that other parsers read as addresses Go
// does not, and names with characters no name has: the IPv4 forms of inet_aton, libcurl and browsers (a name
// whose last label is a number: "2130706433", "0x7f.1", "127.1",
// "0177.0.0.1"), checked as the address they mean, and non-ASCII names,
// which IDNA maps ("①②⑦.0.0.1" is 127.0.0.1 to libcurl) and which must be
// written in their xn-- form. Tools such as lorax resolve names
// themselves, so the name must mean the same to them as to fbs.
func (p *Policy) checkForm(host string) error {
	for i := 0; i < len(host); i++ {
		if host[i] >= 0x80 {
			return &RefusedError{Host: host, Kind: "a non-ASCII name (write it as xn--...)"}
		}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	// Anything but letters, digits, '-', '_' and '.' is not a name, and
	// may be read otherwise by a tool: dnf replaces $releasever in
	// "127.0.0.1$releasever" to make 127.0.0.142.
	for i := 0; i < len(host); i++ {
		if c := host[i] | 0x20; !(c >= 'a' && c <= 'z' || host[i] >= '0' && host[i] <= '9' || strings.IndexByte("-_.", host[i]) >= 0) {
			return &RefusedError{Host: host, Kind: "not a host name"}
		}
	}
	if !endsInNumber(host) {
		return nil
	}
	a, ok := parseInetAton(strings.Split(host, "."))
	if !ok {
		return &RefusedError{Host: host, Kind: "a malformed IPv4 address"}
	}
	return p.checkAddr(host, a)
}

// endsInNumber reports a host whose last label is a number: an IPv4
// address (valid or not) to inet_aton, libcurl and browsers, never a name.
func endsInNumber(host string) bool {
	return numericLabel(host[strings.LastIndex(host, ".")+1:])
}

// numericLabel reports a label that inet_aton reads as a number: decimal,
// octal (leading 0) or hexadecimal (0x).
func numericLabel(l string) bool {
	if l == "" {
		return false
	}
	if len(l) > 1 && (l[:2] == "0x" || l[:2] == "0X") {
		l = l[2:]
		for i := 0; i < len(l); i++ {
			if !strings.ContainsRune("0123456789abcdefABCDEF", rune(l[i])) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return true
}

// parseInetAton parses the labels of a numeric host as inet_aton does:
// 1 to 4 numbers, the last filling the remaining bytes.
func parseInetAton(labels []string) (netip.Addr, bool) {
	if len(labels) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, l := range labels {
		if !numericLabel(l) {
			return netip.Addr{}, false
		}
		base, digits := 10, l
		switch {
		case len(l) > 1 && (l[:2] == "0x" || l[:2] == "0X"):
			base, digits = 16, l[2:]
		case len(l) > 1 && l[0] == '0':
			base, digits = 8, l[1:]
		}
		var n uint64
		for _, c := range digits {
			d := strings.IndexRune("0123456789abcdef", c|0x20)
			if d < 0 || d >= base {
				return netip.Addr{}, false
			}
			n = n*uint64(base) + uint64(d)
			if n > 0xffffffff {
				return netip.Addr{}, false
			}
		}
		if i < len(labels)-1 {
			if n > 0xff {
				return netip.Addr{}, false
			}
			v = v<<8 | n
		} else {
			rest := uint(8 * (4 - i))
			if rest < 32 && n >= 1<<rest {
				return netip.Addr{}, false
			}
			v = v<<rest | n
		}
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// CheckAddr refuses a that is not public and not in an allowed network.
func (p *Policy) CheckAddr(a netip.Addr) error { return p.checkAddr("", a) }

func (p *Policy) checkAddr(host string, a netip.Addr) error {
	if p != nil && p.open {
		return nil
	}
	// An IPv4-mapped IPv6 address reaches the IPv4 address it maps.
	u := a.Unmap()
	k := kind(u)
	if k == "" {
		return nil
	}
	if p != nil {
		for _, n := range p.nets {
			if n.Contains(u) || n.Contains(a) {
				return nil
			}
		}
	}
	return &RefusedError{Host: host, Addr: a, Kind: k}
}

// allowedName reports whether host is allowed by name.
func (p *Policy) allowedName(host string) bool {
	return p != nil && (p.open || p.hosts[normHost(host)])
}

// CheckHost checks a host (name or address, without port): allowed by
// name, else every address it resolves to must be allowed. A name that
// does not resolve is an error too.
func (p *Policy) CheckHost(ctx context.Context, host string) error {
	host = normHost(host)
	if host == "" {
		return errors.New("no host")
	}
	if !p.allowedName(host) {
		if err := p.checkForm(host); err != nil {
			return err
		}
	}
	if _, err := netip.ParseAddr(host); err == nil || p.allowedName(host) || isLocalhost(host) || endsInNumber(host) {
		return p.CheckLiteral(host)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, a := range addrs {
		// The resolver gives IPv4 answers as IPv4-mapped addresses.
		if err := p.checkAddr(host, a.Unmap()); err != nil {
			return err
		}
	}
	return nil
}

// CheckLiteral checks a host without resolving it: an address literal,
// "localhost", or a name allowed by name pass or fail here; any other name
// passes, to be checked when resolved. It is for checks that must not
// depend on the DNS of the machine they run on.
func (p *Policy) CheckLiteral(host string) error {
	host = normHost(host)
	if p.allowedName(host) {
		return nil
	}
	if err := p.checkForm(host); err != nil {
		return err
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return p.checkAddr(host, a)
	}
	if isLocalhost(host) {
		return &RefusedError{Host: host, Addr: netip.MustParseAddr("127.0.0.1"), Kind: "loopback"}
	}
	return nil
}

// isLocalhost reports names that are loopback by definition (RFC 6761),
// whatever a resolver says.
func isLocalhost(host string) bool {
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// Control is a net.Dialer Control hook that refuses a connection to an
// address the policy does not allow. It sees the address being connected
// to, after name resolution, so no DNS answer gets around it. It knows no
// names: use DialContext where hosts are allowed by name.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	return p.checkAddr("", ap.Addr())
}

// Dialer returns a dialer with timeout that checks every address it
// connects to.
func (p *Policy) Dialer(timeout time.Duration) *net.Dialer {
	d := &net.Dialer{Timeout: timeout}
	if p == nil || !p.open {
		d.Control = p.Control
	}
	return d
}

// DialContext connects to address (host:port) if the policy allows it: a
// host allowed by name is dialled as it is; any other has the address it
// resolves to checked as the connection is made. Refusals wrap ErrRefused
// and name the host.
func (p *Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	if p.allowedName(host) {
		return (&net.Dialer{Timeout: DialTimeout}).DialContext(ctx, network, address)
	}
	if err := p.CheckLiteral(host); err != nil {
		return nil, err
	}
	d := p.Dialer(DialTimeout)
	ctl := d.Control
	d.Control = func(network, addr string, c syscall.RawConn) error {
		err := ctl(network, addr, c)
		var re *RefusedError
		if errors.As(err, &re) {
			re.Host = host
		}
		return err
	}
	c, err := d.DialContext(ctx, network, address)
	if err != nil {
		var re *RefusedError
		if errors.As(err, &re) {
			// Say the policy refused, not "connection failed".
			return nil, re
		}
		return nil, err
	}
	return c, nil
}
