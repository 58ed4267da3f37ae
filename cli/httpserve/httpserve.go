// Package httpserve runs fbs's HTTP listeners (`fbs web`, `fbs monitor`,
// `fbs serve`) one way, so that no client can hold a connection for as long
// as it likes:
//
//   - a request's headers must arrive within HeaderTimeout and its body
//     within BodyTimeout after that; a client that trickles either is cut
//     off;
//   - a request answered without reading its body (a 401, a 403, a 413) is
//     answered at once and its connection closed, instead of the server
//     first draining what the client sends;
//   - there is no write deadline: live log streams and full-log downloads
//     run for as long as their clients read them;
//   - one client address (an IPv6 client's /64) may hold at most
//     MaxConnsPerIP connections; more are closed as soon as they are
//     accepted.
//
// It knows nothing of routes, sign-in or gin: the handler decides who may
// do what; this package only bounds what a connection may cost.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Defaults of Config.
const (
	DefaultHeaderTimeout   = 10 * time.Second
	DefaultBodyTimeout     = time.Minute
	DefaultIdleTimeout     = 2 * time.Minute
	DefaultShutdownTimeout = 10 * time.Second
)

// Config bounds what one connection may cost. Zero values take the
// defaults, except MaxConnsPerIP, where zero means no limit.
type Config struct {
	// HeaderTimeout bounds reading a request's headers. Default 10s.
	HeaderTimeout time.Duration
	// BodyTimeout bounds reading a request's body, counted from when its
	// headers were read. Requests without a body (GETs, and so the live
	// log streams) have none. Default 1m.
	BodyTimeout time.Duration
	// IdleTimeout is how long a kept-alive connection may wait for its
	// next request. Default 2m.
	IdleTimeout time.Duration
	// MaxConnsPerIP caps the open connections of one client address (of
	// one /64 for IPv6); 0 means no limit.
	MaxConnsPerIP int
	// ShutdownTimeout bounds how long a stopping server waits for
	// requests in progress. Default 10s.
	ShutdownTimeout time.Duration
}

// withDefaults fills the zero durations and checks the rest.
func (c Config) withDefaults() (Config, error) {
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&c.HeaderTimeout, DefaultHeaderTimeout}, {&c.BodyTimeout, DefaultBodyTimeout},
		{&c.IdleTimeout, DefaultIdleTimeout}, {&c.ShutdownTimeout, DefaultShutdownTimeout},
	} {
		if *d.v == 0 {
			*d.v = d.def
		}
		if *d.v < 0 {
			return c, fmt.Errorf("http server: negative timeout %s", *d.v)
		}
	}
	if c.MaxConnsPerIP < 0 {
		return c, fmt.Errorf("http server: max connections per address %d: want 0 (no limit) or more", c.MaxConnsPerIP)
	}
	return c, nil
}

// Serve serves h on ln until ctx ends, then shuts down gracefully. The
// requests' contexts end first, so live log streams return at once instead
// of holding the shutdown. Serve closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		ln.Close()
		return err
	}
	if cfg.MaxConnsPerIP > 0 {
		ln = limitPerAddress(ln, cfg.MaxConnsPerIP)
	}
	base, stopStreams := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStreams()
	srv := &http.Server{
		Handler:           guardBody(h, cfg.BodyTimeout),
		ReadHeaderTimeout: cfg.HeaderTimeout,
		// No ReadTimeout or WriteTimeout: the body has its own deadline
		// (guardBody), and responses may stream for hours.
		IdleTimeout: cfg.IdleTimeout,
		BaseContext: func(net.Listener) context.Context { return base },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	stopStreams()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down %s: %w", ln.Addr(), err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}
