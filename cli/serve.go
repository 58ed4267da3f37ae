package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/tasks/broker"
	"github.com/fedora-fbs/fbs/worker"
)

func (a *app) newServeCmd() *cobra.Command {
	var brokerAddr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the whole service in one process on its embedded defaults",
		Long: "serve runs a worker for this host's arch and every configured release, and the\n" +
			"reaper, in one process. With no Redis configured it starts an embedded\n" +
			"Redis-compatible broker (in memory) on --broker-listen, which `fbs submit --redis`\n" +
			"can reach; with --redis or [redis] url it uses that Redis.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.load()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			url := cfg.Redis.URL
			if url == "" {
				b, err := broker.Start(brokerAddr)
				if err != nil {
					return err
				}
				defer b.Close()
				url = b.URL()
				fmt.Fprintf(a.env.Stdout, "fbs serve: embedded broker at %s (in memory)\n", url)
				fmt.Fprintf(a.env.Stdout, "submit with: fbs submit --redis %s SPEC\n", url)
			}
			if len(cfg.Worker.Releases) == 0 {
				cfg.Worker.Releases = cfg.Releases
			}
			if cfg.Worker.Arch == "" {
				cfg.Worker.Arch = worker.HostArch()
			}
			fmt.Fprintf(a.env.Stdout, "fbs serve: worker for %s, releases %v, data in %s\n", cfg.Worker.Arch, cfg.Worker.Releases, cfg.Worker.DataDir)
			fmt.Fprintf(a.env.Stdout, "fbs serve: submitted builds may stage under file://%s\n", cfg.Staging.FileRoot)
			return a.runWorker(context.WithoutCancel(ctx), url, true, ctx.Done())
		},
	}
	cmd.Flags().StringVar(&brokerAddr, "broker-listen", "127.0.0.1:6380", "address of the embedded broker when no Redis is configured")
	return cmd
}
