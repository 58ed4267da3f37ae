package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/worker"
	"github.com/fedora-fbs/fbs/worker/pipeline"
)

func (a *app) newWorkerCmd() *cobra.Command {
	var releases []string
	var arch string
	var concurrency int
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Serve the build queues of this host's arch and the given releases",
		Long: "worker takes builds from build:<arch>:<release> for this host's arch and each release\n" +
			"given, and runs them. SIGTERM drains it: no new builds, running builds finish for up to\n" +
			"[worker] drain_timeout, then are stopped and handed back to the queue.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.load()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("release") {
				cfg.Worker.Releases = releases
			}
			if arch != "" {
				cfg.Worker.Arch = arch
			}
			if concurrency > 0 {
				cfg.Worker.Concurrency = concurrency
			}
			return a.runWorker(cmd.Context(), a.redis(), false, cmd.Context().Done())
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&releases, "release", nil, "releases to serve, comma separated (default [worker] releases)")
	f.StringVar(&arch, "arch", "", "arch to serve: this host's (the default), or i686 on x86_64")
	f.IntVar(&concurrency, "concurrency", 0, "builds run at once (default [worker] concurrency)")
	cmd.AddCommand(a.newWorkerPauseCmds()...)
	return cmd
}

// runWorker runs a worker until stop is closed, then drains it.
func (a *app) runWorker(ctx context.Context, redisURL string, local bool, stop <-chan struct{}) error {
	w, closeRedis, err := a.startWorker(ctx, redisURL, local)
	if err != nil {
		return err
	}
	defer closeRedis()
	<-stop
	w.Shutdown()
	return nil
}

// startWorker starts a worker on its own Redis connection, which the
// returned func closes after the worker's Shutdown.
func (a *app) startWorker(ctx context.Context, redisURL string, local bool) (*worker.Server, func(), error) {
	cfg := a.cfg
	wcfg := worker.Config{
		Arch: cfg.Worker.Arch, Releases: cfg.Worker.Releases, Concurrency: cfg.Worker.Concurrency,
		BuildTimeout: cfg.Worker.BuildTimeout, DrainTimeout: cfg.Worker.DrainTimeout,
		LostBuilds: cfg.Worker.LostBuilds, TaskCheckInterval: cfg.Worker.PollInterval,
		LeaseTTL: cfg.Worker.LeaseTTL, ReapInterval: cfg.Worker.ReapInterval, MinFree: cfg.Worker.MinFree,
		TransferRetryFor: cfg.Staging.RetryFor, TransferBackoff: cfg.Staging.RetryBackoff, TransferBackoffMax: cfg.Staging.RetryBackoffMax, Logger: a.logger,
	}
	pc, err := pipelineConfig(cfg, local)
	if err != nil {
		return nil, nil, err
	}
	pc.Logger = a.logger
	pipe, err := pipeline.New(pc)
	if err != nil {
		return nil, nil, err
	}
	rdb, err := a.waitRedis(ctx, redisURL)
	if err != nil {
		return nil, nil, err
	}
	w, err := worker.New(rdb, pipe, wcfg)
	if err != nil {
		rdb.Close()
		return nil, nil, err
	}
	if err := w.Start(context.WithoutCancel(ctx)); err != nil {
		rdb.Close()
		return nil, nil, err
	}
	fmt.Fprintf(a.env.Stderr, "fbs worker %d serving %v\n", os.Getpid(), cfg.Worker.Releases)
	return w, func() { rdb.Close() }, nil
}
