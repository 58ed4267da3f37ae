package cli

import (
	"context"
	"net"
	"net/http"
	"path/filepath"

	"github.com/gin-gonic/gin"

	"github.com/fedora-fbs/fbs/cli/httpserve"
	"github.com/fedora-fbs/fbs/conf"
	"github.com/fedora-fbs/fbs/monitor/notify"
	"github.com/fedora-fbs/fbs/tasks"
)

// serveHTTP serves h on ln until ctx ends with the limits of section l
// ([web] or [monitor]): every fbs listener is served by httpserve.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, l conf.Listener) error {
	return httpserve.Serve(ctx, ln, h, httpserve.Config{BodyTimeout: l.BodyTimeout, MaxConnsPerIP: l.MaxConnsPerIP})
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
		OutboxDir:  filepath.Join(cfg.Worker.DataDir, "outbox"),
		PublicURL:  publicURL,
		Logger:     a.logger,
		RetryDelay: tasks.NotifyBackoff(cfg.SMTP.RetryBackoff),
	}
}
