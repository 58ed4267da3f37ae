package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"text/tabwriter"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/conf"
	"github.com/fedora-fbs/fbs/monitor/retention"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/worker/staging"
)

// retentionConfig maps [retention] (and [staging]'s credentials, to reach
// staged directories) onto the collector's configuration.
func (a *app) retentionConfig(cfg *conf.Config) (retention.Config, error) {
	passwords, err := cfg.Staging.Passwords()
	if err != nil {
		return retention.Config{}, err
	}
	return retention.Config{
		Builds:       builds.Retention{MaxAge: cfg.Retention.MaxAge(), PerSchedule: cfg.Retention.PerSchedule},
		OutboxDir:    a.notifyConfig(cfg, "").OutboxDir,
		OutboxMaxAge: cfg.Retention.OutboxMaxAge(),
		Staging: staging.Options{
			FileRoot: cfg.Staging.FileRoot, SSHKey: cfg.Staging.SSHKey, KnownHosts: cfg.Staging.KnownHosts,
			HostKeys: cfg.Staging.HostKeyMap(), Passwords: passwords, CAFile: cfg.Staging.CAFile,
			Egress: cfg.Security.Egress(),
		},
		Interval: cfg.Retention.Interval,
		Logger:   a.logger,
	}, nil
}

// startRetention starts the retention collector of `fbs monitor` and `fbs
// serve`; the caller stops it.
func (a *app) startRetention(ctx context.Context, cfg *conf.Config, rdb redis.UniversalClient) (*retention.Collector, error) {
	rc, err := a.retentionConfig(cfg)
	if err != nil {
		return nil, err
	}
	col, err := retention.New(rdb, rc)
	if err != nil {
		return nil, err
	}
	col.Start(ctx)
	return col, nil
}

func (a *app) newGCCmd() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove ended builds, logs, staged results and outbox mails past [retention]",
		Long: "gc does now what `fbs monitor` and `fbs serve` do every [retention] interval: it\n" +
			"removes the ended builds [retention] lets go, with their logs, mail marks and the\n" +
			"directories fbs staged for them (only those holding fbs's .fbs-staged marker), the\n" +
			"records of multi-arch groups none of whose builds remains, and old outbox mails. Queued and running builds, and builds of a multi-arch group not\n" +
			"yet ended, stay. --dry-run lists what would go and removes nothing.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, err := a.load()
			if err != nil {
				return err
			}
			return a.withClient(ctx, func(c *client.Client) error {
				rc, err := a.retentionConfig(cfg)
				if err != nil {
					return err
				}
				col, err := retention.New(c.Redis(), rc)
				if err != nil {
					return err
				}
				out := a.env.Stdout
				if dryRun {
					p, err := col.Plan(ctx)
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "KIND\tWHAT\tWHY")
					for _, e := range p.Builds {
						fmt.Fprintf(tw, "build\t%s\t%s\n", e.Build.ID, e.Reason)
						if e.Build.Staged != "" {
							fmt.Fprintf(tw, "staged\t%s\tif it holds %s\n", e.Build.Staged, staging.MarkerName)
						}
					}
					for _, g := range p.Groups {
						fmt.Fprintf(tw, "group\t%s\t%s\n", g.Group.ID, g.Reason)
					}
					for _, m := range p.Mails {
						fmt.Fprintf(tw, "mail\t%s\t%s\n", m.Name, m.Date.Local().Format("2006-01-02 15:04"))
					}
					tw.Flush()
					fmt.Fprintf(out, "would remove %d builds, %d groups and %d mails (dry run: nothing removed)\n", len(p.Builds), len(p.Groups), len(p.Mails))
					return nil
				}
				res, err := col.Collect(ctx)
				if err != nil {
					return err
				}
				for _, k := range res.Kept {
					fmt.Fprintf(out, "kept %s\n", k)
				}
				kinds := slices.Sorted(maps.Keys(res.Removed))
				fmt.Fprint(out, "removed:")
				if len(kinds) == 0 {
					fmt.Fprint(out, " nothing")
				}
				for _, k := range kinds {
					fmt.Fprintf(out, " %d %s", res.Removed[k], k)
				}
				fmt.Fprintln(out)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be removed; remove nothing")
	return cmd
}
