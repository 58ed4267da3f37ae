// Package broker runs the embedded, in-process Redis-compatible broker that
// `fbs serve` uses when no Redis is configured, so a newcomer needs no
// broker to try fbs. Real deployments use a real Redis.
package broker

import (
	"fmt"

	"github.com/alicebob/miniredis/v2"
)

// Embedded is an in-process Redis-compatible server (miniredis). It keeps
// everything in memory: builds queued in it are lost when the process ends.
type Embedded struct {
	m *miniredis.Miniredis
}

// Start runs an embedded broker listening on addr (host:port; port 0 picks
// a free one).
func Start(addr string) (*Embedded, error) {
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
