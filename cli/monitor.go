package cli

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/monitor/notify"
	"github.com/fedora-fbs/fbs/tasks/reaper"
	"github.com/fedora-fbs/fbs/webapp"
)

func (a *app) newMonitorCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "monitor",
		Short: "Serve the build monitor: build pages, live logs, status and metrics",
		Long: "monitor serves the build pages with their logs following live, the full logs,\n" +
			"the status page (queues, workers, recent builds), their JSON, /healthz and\n" +
			"/metrics, all read from Redis, so it can run on any host.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.load()
			if err != nil {
				return err
			}
			if listen == "" {
				listen = cfg.Monitor.Listen
			}
			if listen == "" {
				return errors.New("monitor: no address to listen on: give --listen or [monitor] listen")
			}
			ctx := cmd.Context()
			rdb, err := a.waitRedis(ctx, a.redis())
			if err != nil {
				return err
			}
			defer rdb.Close()
			// Without OIDC and on loopback only, the monitor serves the
			// machine's local user, as `fbs serve` does; elsewhere its
			// viewers show who they are with a session cookie of the web
			// app (same host name), an API token or a mailed link.
			local := cfg.OIDC.Issuer == "" && webapp.CheckListen(listen, webapp.Config{}) == nil
			acc := newAccess(cfg, rdb, local, cfg.Monitor.PublicURL)
			mon, err := monitor.New(rdb, acc.monitor(monitor.Config{PublicURL: cfg.Monitor.PublicURL, Logger: a.logger}))
			if err != nil {
				return err
			}
			defer mon.Close()
			// The monitor sends the mails, and reaps builds of dead workers
			// like every worker does.
			mail, err := notify.New(rdb, acc.notify(a.notifyConfig(cfg, cfg.Monitor.PublicURL)))
			if err != nil {
				return err
			}
			if err := mail.Start(context.WithoutCancel(ctx)); err != nil {
				return err
			}
			defer mail.Shutdown()
			reap, err := reaper.New(rdb, reaper.Config{
				Interval: cfg.Worker.ReapInterval, LostBuilds: cfg.Worker.LostBuilds,
				BuildTimeout: cfg.Worker.BuildTimeout, Logger: a.logger, LeaseTTL: cfg.Worker.LeaseTTL,
			})
			if err != nil {
				return err
			}
			reap.Start(context.WithoutCancel(ctx))
			defer reap.Stop()
			// Retention runs on every monitor, one at a time.
			gc, err := a.startRetention(context.WithoutCancel(ctx), cfg, rdb)
			if err != nil {
				return err
			}
			defer gc.Stop()
			sched, schedClient, err := a.startSchedules(context.WithoutCancel(ctx), cfg, rdb, cfg.OIDC.Issuer != "")
			if err != nil {
				return err
			}
			defer schedClient.Close()
			defer sched.Stop()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("monitor: listen on %s: %w", listen, err)
			}
			where := cfg.Monitor.PublicURL
			if where == "" {
				where = "http://" + ln.Addr().String()
			}
			fmt.Fprintf(a.env.Stdout, "fbs monitor: serving on %s (status page: %s/status)\n", ln.Addr(), where)
			return serveHTTP(ctx, ln, mon.Handler(), cfg.Monitor)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "host:port to listen on (default [monitor] listen, 127.0.0.1:5100)")
	return cmd
}
