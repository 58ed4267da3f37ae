package cli

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/conf"
	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/monitor/notify"
	"github.com/fedora-fbs/fbs/tasks/broker"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/tasks/redisproc"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/worker"
)

func (a *app) newServeCmd() *cobra.Command {
	var brokerAddr, listen string
	var inMemory bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the whole service in one process on its embedded defaults",
		Long: "serve runs the web app, the monitor, the mail sender and a worker for this host's\n" +
			"arch and every configured release in one process, web and monitor on one listener\n" +
			"(--listen, default [web] listen, http://127.0.0.1:5000). With no Redis configured\n" +
			"it runs redis-server as its child, with its data under <data_dir>/redis (append-only,\n" +
			"a unix socket there), so builds, logs and mails survive a restart; without\n" +
			"redis-server (or with --in-memory) it runs an in-memory broker on --broker-listen,\n" +
			"which keeps nothing. With no [smtp] host, mails go to an outbox directory listed at\n" +
			"/outbox. Ctrl-C (or SIGTERM) stops taking builds and lets running ones finish for up\n" +
			"to [worker] drain_timeout; a second one stops at once, handing them back to the queue.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.load()
			if err != nil {
				return err
			}
			if listen == "" {
				listen = cfg.Web.Listen
			}
			// Signals are counted here: the first stops taking builds
			// and drains, the second stops at once.
			sigs := make(chan os.Signal, 2)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			// Refuse what cannot be served safely before anything
			// runs: a web listener beyond loopback in local mode, an
			// embedded broker beyond loopback, a port in use.
			lb := localBroker{url: cfg.Redis.URL, persistent: cfg.Redis.URL != ""}
			if lb.url == "" && !inMemory {
				lb.redisBin, lb.missing = redisproc.Find()
			}
			// --broker-listen is checked even when the redis-server
			// child makes it unused: a wrong address is refused, not
			// ignored until redis-server goes missing.
			if lb.url == "" {
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
			again := make(chan struct{}) // closed on the second signal
			finished := make(chan struct{})
			defer close(finished)
			go countSignals(sigs, finished, stop, again)
			if err := lb.start(ctx, a, cfg, brokerAddr); err != nil {
				return err
			}
			defer lb.stop(a)
			url := lb.url
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
			gc, err := a.startRetention(context.WithoutCancel(ctx), cfg, rdb)
			if err != nil {
				return err
			}
			defer gc.Stop()
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
			w, closeWorker, werr := a.startWorker(context.WithoutCancel(ctx), url, true)
			if werr != nil {
				stop() // a worker that failed takes the web server down with it
				return errors.Join(<-webErr, werr)
			}
			defer closeWorker()
			<-ctx.Done()
			// Drain order: the web server stops taking submissions (ctx
			// ended), the worker drains, the mail sender sends what the
			// last builds queued, then the broker stops (deferred first,
			// so run last).
			a.sayStopping(cfg, w.Running(), lb.persistent)
			drained := make(chan struct{})
			go func() {
				select {
				case <-again:
					a.sayStoppingNow(w.HandBack(), lb.persistent)
				case <-drained:
				}
			}()
			w.Shutdown()
			close(drained)
			err = <-webErr
			fctx, cancel := context.WithTimeout(context.Background(), mailFlushTimeout)
			defer cancel()
			go func() {
				select {
				case <-again:
					cancel()
				case <-fctx.Done():
				}
			}()
			if ferr := mail.Flush(fctx); ferr != nil {
				a.logger.Warn("mails not sent before stopping", "err", ferr, "kept", lb.persistent)
			}
			mail.Shutdown()
			return err
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "host:port of the web app and monitor (default [web] listen)")
	cmd.Flags().StringVar(&brokerAddr, "broker-listen", "127.0.0.1:6380", "address of the in-memory broker when no Redis is configured and redis-server is missing or --in-memory is given")
	cmd.Flags().BoolVar(&inMemory, "in-memory", false, "with no Redis configured, use the in-memory broker even if redis-server is installed (nothing survives a stop)")
	return cmd
}

// mailFlushTimeout bounds how long a stopping `fbs serve` waits for the
// mails its last builds queued.
const mailFlushTimeout = 30 * time.Second

// countSignals ends the service's context on the first signal and closes
// again on the second; it returns when finished is closed.
func countSignals(sigs <-chan os.Signal, finished <-chan struct{}, stop context.CancelFunc, again chan<- struct{}) {
	for n := 1; ; n++ {
		select {
		case <-sigs:
		case <-finished:
			return
		}
		if n == 1 {
			stop()
			continue
		}
		close(again)
		return
	}
}

// sayStopping tells the person at the terminal what a stop waits for and
// how to stop at once.
func (a *app) sayStopping(cfg *conf.Config, running []string, persistent bool) {
	if len(running) == 0 {
		fmt.Fprintf(a.env.Stdout, "fbs serve: stopping (no build running)\n")
		return
	}
	fate := "hand them back to the queue: they run again when fbs serve starts"
	if !persistent {
		fate = "stop them: the in-memory broker keeps nothing, so they are lost"
	}
	fmt.Fprintf(a.env.Stdout, "fbs serve: stopping: waiting for %d running build(s) to finish (%s), at most %s ([worker] drain_timeout); "+
		"press Ctrl-C again (or send SIGTERM) to stop now and %s\n",
		len(running), strings.Join(running, ", "), cfg.Worker.DrainTimeout, fate)
}

// sayStoppingNow reports what a second signal did.
func (a *app) sayStoppingNow(handed []string, persistent bool) {
	switch {
	case len(handed) == 0:
		fmt.Fprintf(a.env.Stdout, "fbs serve: stopping now\n")
	case persistent:
		fmt.Fprintf(a.env.Stdout, "fbs serve: stopping now: handed %s back to the queue\n", strings.Join(handed, ", "))
	default:
		fmt.Fprintf(a.env.Stdout, "fbs serve: stopping now: %s stopped and lost (in-memory broker)\n", strings.Join(handed, ", "))
	}
}

// localBroker is the broker of `fbs serve`: the configured Redis, else a
// redis-server child, else the in-memory broker.
type localBroker struct {
	url        string
	persistent bool   // builds, logs and mails survive a stop
	redisBin   string // redis-server to run as a child
	missing    error  // why there is none
	child      *redisproc.Server
	memory     *broker.Embedded
}

func (lb *localBroker) start(ctx context.Context, a *app, cfg *conf.Config, brokerAddr string) error {
	switch {
	case lb.url != "":
		return nil
	case lb.redisBin != "":
		dir := filepath.Join(cfg.Worker.DataDir, "redis")
		child, err := redisproc.Start(ctx, redisproc.Config{Dir: dir, Bin: lb.redisBin, Logger: a.logger})
		if err != nil {
			return err
		}
		lb.child, lb.url, lb.persistent = child, child.URL(), true
		fmt.Fprintf(a.env.Stdout, "fbs serve: Redis at %s (redis-server %d, data in %s, append-only: builds, logs and mails survive a restart)\n",
			lb.url, child.Pid(), dir)
		return nil
	default:
		b, err := broker.Start(brokerAddr)
		if err != nil {
			return err
		}
		lb.memory, lb.url = b, b.URL()
		why := "--in-memory"
		if lb.missing != nil {
			why = "redis-server not found (install it: apt-get install redis-server, or dnf install redis)"
		}
		a.logger.Warn("in-memory broker: builds, logs and unsent mails are lost when fbs serve stops", "reason", why)
		fmt.Fprintf(a.env.Stdout, "fbs serve: embedded broker at %s (in memory: %s; builds, logs and unsent mails are lost when fbs serve stops)\n",
			lb.url, why)
		return nil
	}
}

// stop ends the broker fbs serve started, after everything else.
func (lb *localBroker) stop(a *app) {
	if lb.memory != nil {
		lb.memory.Close()
	}
	if err := lb.child.Stop(); err != nil {
		a.logger.Error("stop redis-server", "err", err)
	}
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
