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
		PublicURL:     public,
		Releases:      cfg.Releases,
		KickstartsDir: cfg.Kickstarts.Dir,
		FileRoot:      cfg.Staging.FileRoot,
		OIDC: webapp.OIDC{
			Issuer: cfg.OIDC.Issuer, ClientID: cfg.OIDC.ClientID, ClientSecretFile: cfg.OIDC.ClientSecretFile,
			RedirectURL: cfg.OIDC.RedirectURL, Scopes: cfg.OIDC.Scopes, GroupsClaim: cfg.OIDC.GroupsClaim,
			SubmitGroup: cfg.OIDC.SubmitGroup, AdminGroup: cfg.OIDC.AdminGroup,
		},
		LocalUser:  currentUser(),
		Visibility: cfg.Access.Visibility,
		Logger:     a.logger,
	}
}

// serveWeb serves the web app, plus whatever mounts register (the
// monitor's routes, the outbox), on listen until ctx ends. `fbs web` and
// `fbs serve` share it so both have one engine and one listener.
func (a *app) serveWeb(ctx context.Context, c *client.Client, listen string, ident *webapp.Identifier, mounts ...func(gin.IRouter)) error {
	cfg, err := a.load()
	if err != nil {
		return err
	}
	wcfg := a.webConfig(cfg, listen)
	wcfg.Identifier = ident
	if err := webapp.CheckListen(listen, wcfg); err != nil {
		return err
	}
	srv, err := webapp.New(c, wcfg)
	if err != nil {
		return err
	}
	engine := newEngine()
	srv.Register(engine)
	for _, m := range mounts {
		m(engine)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w", listen, err)
	}
	mode := "local mode (no sign-in, loopback only)"
	if !srv.LocalMode() {
		mode = "OIDC sign-in via " + wcfg.OIDC.Issuer
	}
	fmt.Fprintf(a.env.Stdout, "fbs web: serving %s on %s, %s\n", wcfg.PublicURL, ln.Addr(), mode)
	return serveHTTP(ctx, ln, engine)
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
			c, closeFn, err := a.client(ctx)
			if err != nil {
				return err
			}
			defer closeFn()
			// The monitor's build pages share the engine: the form
			// redirects to /builds/<id>.
			wcfg := a.webConfig(cfg, listen)
			acc := newAccess(cfg, c.Redis(), !wcfg.OIDC.Enabled(), wcfg.PublicURL)
			mon, err := monitor.New(c.Redis(), acc.monitor(monitor.Config{PublicURL: cfg.Monitor.PublicURL, Logger: a.logger}))
			if err != nil {
				return err
			}
			defer mon.Close()
			return a.serveWeb(ctx, c, listen, acc.ident, mon.Register)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "host:port to listen on (default [web] listen, 127.0.0.1:5000)")
	return cmd
}
