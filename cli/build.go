package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/conf"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/worker/builder"
	"github.com/fedora-fbs/fbs/worker/buildlog"
	"github.com/fedora-fbs/fbs/worker/pipeline"
	"github.com/fedora-fbs/fbs/worker/siderepo"
	"github.com/fedora-fbs/fbs/worker/staging"
)

func (a *app) newBuildCmd() *cobra.Command {
	var local bool
	cmd := &cobra.Command{
		Use:   "build --local SPEC",
		Short: "Run a whole build on this machine, without a broker",
		Long: "build --local runs the whole pipeline for SPEC in this process: fetch, flatten, build,\n" +
			"checksum and transfer to the staging area. It prints progress, then where the log and\n" +
			"the images are, and exits 0 only if the build succeeded.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !local {
				return errors.New("build runs on this machine only: give --local (use `fbs submit` to queue a build)")
			}
			return a.buildLocal(cmd.Context(), args[0])
		},
	}
	cmd.Flags().BoolVar(&local, "local", false, "run the build here (required)")
	return cmd
}

// pipelineConfig is the pipeline configuration of this host.
func pipelineConfig(cfg *conf.Config, local bool) (pipeline.Config, error) {
	side, err := siderepo.New(siderepo.Config{
		HubURL:      cfg.Koji.HubURL,
		PackagesURL: cfg.Koji.PackagesURL,
		CacheDir:    filepath.Join(cfg.Worker.DataDir, "cache", "rpms"),
		CacheMax:    int64(cfg.Koji.CacheMaxGB) << 30,
		Parallel:    cfg.Koji.Parallel,
		Createrepo:  cfg.Tools["createrepo_c"],
	})
	if err != nil {
		return pipeline.Config{}, fmt.Errorf("[koji]: %w", err)
	}
	passwords, err := cfg.Staging.Passwords()
	if err != nil {
		return pipeline.Config{}, err
	}
	return pipeline.Config{
		SideRepos: side,
		DVDRepos:  cfg.DVD.RepoURLs,
		DataDir:   cfg.Worker.DataDir,
		ISODir:    cfg.Worker.ISODir,
		Tools:     builder.Tools(cfg.Tools),
		Staging: staging.Options{
			FileRoot:   cfg.Staging.FileRoot,
			SSHKey:     cfg.Staging.SSHKey,
			KnownHosts: cfg.Staging.KnownHosts,
			HostKeys:   cfg.Staging.HostKeyMap(),
			Passwords:  passwords,
			CAFile:     cfg.Staging.CAFile,
		},
		Local:      local,
		Egress:     cfg.Security.Egress(),
		KeepBuilds: cfg.Worker.KeepBuilds,
		Kickstarts: cfg.Kickstarts.Library(),
	}, nil
}

func (a *app) buildLocal(ctx context.Context, specPath string) error {
	p, err := a.prepareLocalBuild(ctx, specPath)
	if err != nil {
		return err
	}
	cfg := a.cfg
	pc, err := pipelineConfig(cfg, true)
	if err != nil {
		return err
	}
	// The build runs here, for this machine's user, from a spec file they
	// wrote: it may reach whatever they can.
	pc.Egress = egress.Open()
	pc.Logger = a.logger
	pipe, err := pipeline.New(pc)
	if err != nil {
		return err
	}
	logPath := pipe.LogPath(p.ID)
	if err := mkdirFor(logPath); err != nil {
		return err
	}
	// The log hides what a worker's does.
	l, err := buildlog.Create(logPath, buildlog.Options{Redact: pipeline.LogRedactor(p)})
	if err != nil {
		return err
	}
	out := a.env.Stdout
	fmt.Fprintf(out, "build %s: %s image for Fedora %s on %s\n", p.ID, p.Spec.Type, p.Spec.Release, p.Spec.Arch)
	start := time.Now()
	res, runErr := pipe.Run(ctx, p, l, pipeline.Observer{Stage: func(t tasks.StageTiming, done bool) {
		if done {
			fmt.Fprintf(out, "  %-10s done in %s\n", t.Stage, t.Duration.Round(time.Millisecond))
		} else {
			fmt.Fprintf(out, "  %-10s ...\n", t.Stage)
		}
	}})
	if runErr != nil {
		l.Printf("build failed: %v", runErr)
	} else {
		l.Printf("build succeeded")
	}
	if err := l.Close(); err != nil && runErr == nil {
		runErr = err
	}
	fmt.Fprintf(out, "log: %s\n", logPath)
	if res.Staged != "" {
		fmt.Fprintf(out, "staged: %s\n", res.Staged)
	}
	for _, art := range res.Artifacts {
		fmt.Fprintf(out, "  %s  %d bytes  sha256 %s\n", art.URL, art.Size, art.SHA256)
	}
	for _, art := range res.Logs {
		fmt.Fprintf(out, "  tool log %s  %d bytes\n", art.URL, art.Size)
	}
	if runErr != nil {
		for _, t := range res.Tail {
			fmt.Fprintln(a.env.Stderr, "  |", t)
		}
		if e := res.ToolError; e != nil {
			fmt.Fprintf(a.env.Stderr, "the tool's error, %s:\n", e)
			for _, t := range e.Lines {
				fmt.Fprintln(a.env.Stderr, "  |", t)
			}
		}
		return &exitCode{code: 1, err: fmt.Errorf("build %s failed after %s: %w", p.ID, time.Since(start).Round(time.Second), runErr)}
	}
	fmt.Fprintf(out, "build %s succeeded in %s\n", p.ID, time.Since(start).Round(time.Millisecond))
	return nil
}

func mkdirFor(path string) error {
	return mkdirAll(filepath.Dir(path))
}
