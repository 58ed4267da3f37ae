package cli

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/monitor/notify"
	"github.com/fedora-fbs/fbs/tasks/broker"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/worker"
)

func (a *app) newServeCmd() *cobra.Command {
	var brokerAddr, listen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the whole service in one process on its embedded defaults",
		Long: "serve runs the web app, the monitor, the mail sender and a worker for this host's\n" +
			"arch and every configured release in one process, web and monitor on one listener\n" +
			"(--listen, default [web] listen, http://127.0.0.1:5000). With no Redis configured\n" +
			"it starts an embedded Redis-compatible broker (in memory) on --broker-listen; with\n" +
			"no [smtp] host, mails go to an outbox directory listed at /outbox.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.load()
			if err != nil {
				return err
			}
			if listen == "" {
				listen = cfg.Web.Listen
			}
			// Refuse what cannot be served safely before anything
			// runs: a web listener beyond loopback in local mode, an
			// embedded broker beyond loopback, a port in use.
			url := cfg.Redis.URL
			if url == "" {
				if err := broker.CheckAddr(brokerAddr); err != nil {
					return err
				}
			}
			ln, wcfg, err := a.listenWeb(cfg, listen)
			if err != nil {
				return err
			}
			defer ln.Close()
			// The web server failing stops everything else.
			ctx, stop := context.WithCancel(cmd.Context())
			defer stop()
			if url == "" {
				b, err := broker.Start(brokerAddr)
				if err != nil {
					return err
				}
				defer b.Close()
				url = b.URL()
				fmt.Fprintf(a.env.Stdout, "fbs serve: embedded broker at %s (in memory)\n", url)
			}
			if len(cfg.Worker.Releases) == 0 {
				cfg.Worker.Releases = cfg.Releases
			}
			if cfg.Worker.Arch == "" {
				cfg.Worker.Arch = worker.HostArch()
			}
			rdb, err := client.ConnectRedis(ctx, url)
			if err != nil {
				return err
			}
			defer rdb.Close()
			c := client.New(rdb, client.Config{BuildTimeout: cfg.Worker.BuildTimeout})
			defer c.Close()

			public := cfg.Web.PublicURL
			if public == "" {
				public = "http://" + listen
			}
			acc := newAccess(cfg, rdb, !wcfg.OIDC.Enabled(), public)
			wcfg.Identifier = acc.ident
			mon, err := monitor.New(rdb, acc.monitor(monitor.Config{PublicURL: public, Logger: a.logger}))
			if err != nil {
				return err
			}
			defer mon.Close()
			mcfg := acc.notify(a.notifyConfig(cfg, public))
			mail, err := notify.New(rdb, mcfg)
			if err != nil {
				return err
			}
			if err := mail.Start(context.WithoutCancel(ctx)); err != nil {
				return err
			}
			defer mail.Shutdown()
			sched, schedClient, err := a.startSchedules(context.WithoutCancel(ctx), cfg, rdb, wcfg.OIDC.Enabled())
			if err != nil {
				return err
			}
			defer schedClient.Close()
			defer sched.Stop()

			fmt.Fprintf(a.env.Stdout, "fbs serve: worker for %s, releases %v, data in %s\n", cfg.Worker.Arch, cfg.Worker.Releases, cfg.Worker.DataDir)
			fmt.Fprintf(a.env.Stdout, "fbs serve: submitted builds may stage under file://%s\n", cfg.Staging.FileRoot)
			if cfg.SMTP.Host == "" {
				fmt.Fprintf(a.env.Stdout, "fbs serve: mails go to %s, listed at %s/outbox\n", mcfg.OutboxDir, public)
			}
			webErr := make(chan error, 1)
			go func() {
				err := a.serveWeb(ctx, cfg, c, ln, wcfg, mon.Register, outboxRoutes(mcfg.OutboxDir, acc.ident))
				if err != nil {
					stop()
				}
				webErr <- err
			}()
			werr := a.runWorker(context.WithoutCancel(ctx), url, true, ctx.Done())
			stop() // a worker that failed takes the web server down with it
			return errors.Join(<-webErr, werr)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "host:port of the web app and monitor (default [web] listen)")
	cmd.Flags().StringVar(&brokerAddr, "broker-listen", "127.0.0.1:6380", "address of the embedded broker when no Redis is configured")
	return cmd
}

// outboxPage is parsed on first use, not when fbs starts.
var outboxPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("outbox").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fbs outbox</title></head>
<body><h1>Outbox</h1>
<p>Mails fbs would have sent; no mail server is configured.</p>
{{if .}}<table><tr><th>Date</th><th>To</th><th>Subject</th></tr>
{{range .}}<tr><td>{{.Date.Format "2006-01-02 15:04:05"}}</td><td>{{.To}}</td><td><a href="/outbox/{{.Name}}">{{.Subject}}</a></td></tr>
{{end}}</table>{{else}}<p>No mail yet.</p>{{end}}
</body></html>
`))
})

// outboxRoutes lists the mails of local mode at /outbox and shows each one,
// to admins only (the local user is one): the mails hold every build's
// address and links that open it.
func outboxRoutes(dir string, ident *webapp.Identifier) func(gin.IRouter) {
	adminOnly := func(c *gin.Context) {
		if u, err := ident.Identify(c.Request); err != nil || u == nil || !u.Admin {
			c.AbortWithStatus(http.StatusNotFound)
			return
		}
		c.Next()
	}
	return func(r gin.IRouter) {
		r.GET("/outbox", adminOnly, func(c *gin.Context) {
			msgs, err := notify.Outbox(dir)
			if err != nil {
				c.String(http.StatusInternalServerError, "outbox: %v", err)
				return
			}
			c.Header("Content-Type", "text/html; charset=utf-8")
			if err := outboxPage().Execute(c.Writer, msgs); err != nil {
				c.Error(err)
			}
		})
		r.GET("/outbox/:name", adminOnly, func(c *gin.Context) {
			f, err := notify.OpenMessage(dir, c.Param("name"))
			if errors.Is(err, fs.ErrNotExist) {
				c.String(http.StatusNotFound, "no such mail")
				return
			}
			if err != nil {
				c.String(http.StatusInternalServerError, "outbox: %v", err)
				return
			}
			defer f.Close()
			c.Header("Content-Type", "text/plain; charset=utf-8")
			c.Header("Content-Disposition", "inline; filename="+filepath.Base(c.Param("name")))
			if _, err := io.Copy(c.Writer, f); err != nil {
				c.Error(err)
			}
		})
	}
}
