package cli

import (
	"context"
	"fmt"
	"net"

	"github.com/gin-gonic/gin"
	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/conf"
	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/webapp"
)

// webConfig maps the service configuration onto the web app's, for a front
// end listening on listen.
func (a *app) webConfig(cfg *conf.Config, listen string) webapp.Config {
	public := cfg.Web.PublicURL
	if public == "" {
		public = "http://" + listen
	}
	return webapp.Config{
		PublicURL:  public,
		Releases:   cfg.Releases,
		Arches:     cfg.Arches,
		Kickstarts: cfg.Kickstarts.Library(),
		FileRoot:   cfg.Staging.FileRoot,
		Egress:     cfg.Security.Egress(),
		OIDC: webapp.OIDC{
			Issuer: cfg.OIDC.Issuer, ClientID: cfg.OIDC.ClientID, ClientSecretFile: cfg.OIDC.ClientSecretFile,
			RedirectURL: cfg.OIDC.RedirectURL, Scopes: cfg.OIDC.Scopes, GroupsClaim: cfg.OIDC.GroupsClaim,
			SubmitGroup: cfg.OIDC.SubmitGroup, AdminGroup: cfg.OIDC.AdminGroup,
		},
		LocalUser:        currentUser(),
		MaxTokenLifetime: tokenMaxLifetime(cfg),
		Visibility:       cfg.Web.Visibility,
		Logger:           a.logger,
	}
}

// listenWeb checks that the web app may serve on listen with cfg (local
// mode: loopback only) and binds it, so that `fbs serve` can refuse to
// start, before anything runs, when it cannot serve.
func (a *app) listenWeb(cfg *conf.Config, listen string) (net.Listener, webapp.Config, error) {
	wcfg := a.webConfig(cfg, listen)
	if err := webapp.CheckListen(listen, wcfg); err != nil {
		return nil, wcfg, err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, wcfg, fmt.Errorf("web: listen on %s: %w", listen, err)
	}
	return ln, wcfg, nil
}

// serveWeb serves the web app, plus whatever mounts register (the
// monitor's routes, the outbox), on ln (from listenWeb) until ctx ends.
// `fbs web` and `fbs serve` share it so both have one engine and one
// listener. It closes ln.
func (a *app) serveWeb(ctx context.Context, cfg *conf.Config, c *client.Client, ln net.Listener, wcfg webapp.Config, mounts ...func(gin.IRouter)) error {
	srv, err := webapp.New(c, wcfg)
	if err != nil {
		ln.Close()
		return err
	}
	engine := newEngine()
	srv.Register(engine)
	for _, m := range mounts {
		m(engine)
	}
	mode := "local mode (no sign-in, loopback only)"
	if !srv.LocalMode() {
		mode = "OIDC sign-in via " + wcfg.OIDC.Issuer
	}
	fmt.Fprintf(a.env.Stdout, "fbs web: serving %s on %s, %s\n", wcfg.PublicURL, ln.Addr(), mode)
	return serveHTTP(ctx, ln, engine, cfg.Web.Listener)
}

func (a *app) newWebCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "web",
		Short: "Run the web front end: build form, dashboard, sign-in and the JSON API",
		Long: "web serves the build request form, the dashboard, sign-in and API tokens, and the\n" +
			"JSON API under /api/v1 (plus the original service's POST /rest) on --listen\n" +
			"(default [web] listen). Without [oidc] issuer it runs in local mode, with one\n" +
			"implicit user and no sign-in, and then refuses to listen beyond loopback.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.load()
			if err != nil {
				return err
			}
			if listen == "" {
				listen = cfg.Web.Listen
			}
			ctx := cmd.Context()
			ln, wcfg, err := a.listenWeb(cfg, listen)
			if err != nil {
				return err
			}
			c, closeFn, err := a.serviceClient(ctx)
			if err != nil {
				ln.Close()
				return err
			}
			defer closeFn()
			// The monitor's build pages share the engine (the form
			// redirects to /builds/<id>) and who is asking.
			acc := newAccess(cfg, c.Redis(), !wcfg.OIDC.Enabled(), wcfg.PublicURL)
			wcfg.Identifier = acc.ident
			mon, err := monitor.New(c.Redis(), acc.monitor(monitor.Config{PublicURL: cfg.Monitor.PublicURL, Logger: a.logger}))
			if err != nil {
				ln.Close()
				return err
			}
			defer mon.Close()
			return a.serveWeb(ctx, cfg, c, ln, wcfg, mon.Register)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "host:port to listen on (default [web] listen, 127.0.0.1:5000)")
	return cmd
}
