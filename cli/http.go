package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fedora-fbs/fbs/conf"
	"github.com/fedora-fbs/fbs/monitor/notify"
)

// httpShutdown bounds how long a stopping server waits for requests.
const httpShutdown = 10 * time.Second

// serveHTTP serves h on ln until ctx ends, then shuts down gracefully. The
// requests' contexts end first, so live log streams return at once instead
// of holding the shutdown.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	base, stopStreams := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStreams()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	stopStreams()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpShutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down %s: %w", ln.Addr(), err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// newEngine returns a gin engine for a service: panics recovered, and a
// 404 rather than a redirect for paths that are no route. (Main has put
// gin in release mode: no debug output.)
func newEngine() *gin.Engine {
	e := gin.New()
	e.Use(gin.Recovery())
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	return e
}

// notifyConfig maps the configuration onto the mail sender's, which has
// its own SMTP settings: [smtp] is read here, not in monitor/notify.
func (a *app) notifyConfig(cfg *conf.Config, publicURL string) notify.Config {
	return notify.Config{
		SMTP: notify.SMTP{
			Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, TLS: notify.TLSMode(cfg.SMTP.TLS),
			Username: cfg.SMTP.Username, Password: cfg.SMTP.Password, From: cfg.SMTP.From,
		},
		OutboxDir: filepath.Join(cfg.Worker.DataDir, "outbox"),
		PublicURL: publicURL,
		Logger:    a.logger,
	}
}
