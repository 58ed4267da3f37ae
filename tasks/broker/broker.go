// Package broker runs the embedded, in-process Redis-compatible broker that
// `fbs serve` uses when no Redis is configured, so a newcomer needs no
// broker to try fbs. Real deployments use a real Redis.
package broker

import (
	"fmt"
	"net"
	"strings"

	"github.com/alicebob/miniredis/v2"
)

// Embedded is an in-process Redis-compatible server (miniredis). It keeps
// everything in memory: builds queued in it are lost when the process ends.
type Embedded struct {
	m *miniredis.Miniredis
}

// CheckAddr tells whether the embedded broker may listen on addr: on
// loopback only (127.0.0.0/8, ::1 or localhost), since it has no password
// and whoever reaches it can queue builds and read every record.
func CheckAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("embedded broker address %q: %w", addr, err)
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("embedded broker address %q is not loopback-only: the embedded broker has no password, "+
			"so anyone who reaches it could queue builds and read every build; listen on 127.0.0.1, "+
			"or configure [redis] url for a broker other hosts may use", addr)
	}
	return nil
}

// Start runs an embedded broker listening on addr (host:port; port 0 picks
// a free one), which must be a loopback address (see CheckAddr).
func Start(addr string) (*Embedded, error) {
	if err := CheckAddr(addr); err != nil {
		return nil, err
	}
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("start embedded broker on %s: %w", addr, err)
	}
	return &Embedded{m: m}, nil
}

// Addr is the host:port the broker listens on.
func (e *Embedded) Addr() string { return e.m.Addr() }

// URL is the redis:// URL of the broker.
func (e *Embedded) URL() string { return "redis://" + e.m.Addr() + "/0" }

// Close stops the broker; safe to call more than once.
func (e *Embedded) Close() { e.m.Close() }
