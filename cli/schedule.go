package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/conf"
	"github.com/fedora-fbs/fbs/monitor/scheduler"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/tasks/schedules"
	"github.com/fedora-fbs/fbs/tasks/submission"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// newScheduleCmd is `fbs schedule`: periodic builds, kept in Redis and run
// by the schedulers of `fbs monitor` and `fbs serve`.
func (a *app) newScheduleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Add, list, show, pause, resume and delete periodic builds",
		Long: "schedule manages periodic builds: a spec built at the times of a cron expression\n" +
			"(UTC) by the schedulers of `fbs monitor` and `fbs serve`, as the user who added it.\n" +
			"A spec naming several arches (arch=x86_64,aarch64) builds one group per run, as\n" +
			"`fbs submit` does. A run is skipped while the schedule's previous build or group is\n" +
			"queued or running, and, with --rebuild-age, while its last success is younger than that.",
	}
	cmd.AddCommand(a.newScheduleAddCmd(), a.newScheduleListCmd(), a.newScheduleShowCmd(),
		a.newSchedulePauseCmd(true), a.newSchedulePauseCmd(false), a.newScheduleDeleteCmd())
	return cmd
}

// scheduleIDArg checks that the one argument is a schedule ID.
func scheduleIDArg(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%s takes one schedule ID", cmd.Name())
	}
	if !tasks.ValidScheduleID(args[0]) {
		return fmt.Errorf("%q is not a schedule ID (26 characters, as `fbs schedule add` prints)", args[0])
	}
	return nil
}

// withSchedules is withClient for the schedule commands: act gets the
// schedule store.
func (a *app) withSchedules(ctx context.Context, act func(*schedules.Store) error) error {
	return a.withClient(ctx, func(c *client.Client) error {
		return act(schedules.NewStore(c.Redis()))
	})
}

func (a *app) newScheduleAddCmd() *cobra.Command {
	var cronExpr, rebuildAge string
	cmd := &cobra.Command{
		Use:   "add --cron EXPR [--rebuild-age D] SPEC",
		Short: "Add a schedule that builds SPEC at the times of a cron expression",
		Long: "add checks SPEC as `fbs submit` does and stores it as a schedule of the current user;\n" +
			"it prints the schedule's ID. A kickstart that is a file here is flattened now and\n" +
			"kept with the schedule; one named by URL or standard name is read again at each run.\n" +
			"EXPR is five fields (minute hour day month weekday, UTC), a descriptor such as\n" +
			"@daily, or @every D (e.g. @every 6h).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			age, err := tasks.ParseRebuildAge(rebuildAge)
			if err != nil {
				return flagError("--rebuild-age", err)
			}
			if _, err := tasks.ParseCron(cronExpr); err != nil {
				return flagError("--cron", err)
			}
			pr, err := a.prepareForQueue(ctx, args[0])
			if err != nil {
				return err
			}
			p := pr.Payload
			sc := &schedules.Schedule{Owner: currentUser(), Cron: cronExpr, Spec: p.Spec, RebuildAge: age}
			// A spec naming several arches builds a group at each run.
			sc.Spec.Arch = pr.Arches()
			if ref := p.Spec.KickstartRef(); ref != "" && localKickstart(args[0], ref) {
				// Kept flattened: the file is not on the monitor.
				name := filepath.Base(ref)
				sc.Spec.SetKickstartRef(name)
				sc.Kickstarts = map[string]string{name: p.Kickstart}
			}
			return a.withSchedules(ctx, func(store *schedules.Store) error {
				if err := store.Create(ctx, sc); err != nil {
					return err
				}
				fmt.Fprintln(a.env.Stdout, sc.ID)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&cronExpr, "cron", "", "when to build: a cron expression in UTC ('0 3 * * *', @daily, '@every 6h')")
	cmd.Flags().StringVar(&rebuildAge, "rebuild-age", "", "build only if the last success is older than this (20h, 2d); default: always")
	_ = cmd.MarkFlagRequired("cron")
	return cmd
}

// flagError names the flag a field error came from.
func flagError(flag string, err error) error {
	var te *tasks.Error
	if errors.As(err, &te) {
		return fmt.Errorf("%s: %s", flag, te.Message)
	}
	return fmt.Errorf("%s: %w", flag, err)
}

// localKickstart reports whether ref, the kickstart of the spec file at
// specPath, is a file on this machine (not a URL or a standard name).
func localKickstart(specPath, ref string) bool {
	if strings.Contains(ref, "://") {
		return false
	}
	if !filepath.IsAbs(ref) {
		ref = filepath.Join(filepath.Dir(specPath), ref)
	}
	st, err := os.Stat(ref)
	return err == nil && st.Mode().IsRegular()
}

func (a *app) newScheduleListCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List your schedules (--all: everyone's) with their latest run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withSchedules(ctx, func(store *schedules.Store) error {
				owner := currentUser()
				if all {
					owner = ""
				}
				list, err := store.List(ctx, owner)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tOWNER\tCRON\tSTATE\tTYPE\tQUEUE\tLAST RUN")
				for _, sc := range list {
					last := "-"
					if runs, err := store.Runs(ctx, sc.ID, 1); err == nil && len(runs) == 1 {
						last = runs[0].Time.Local().Format("2006-01-02 15:04:05") + " " + runs[0].String()
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", sc.ID, sc.Owner, sc.Cron, scheduleState(sc), sc.Spec.Type, scheduleQueues(sc), last)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "list every user's schedules")
	return cmd
}

// scheduleQueues names the queues a schedule's runs go to: one for a spec
// of one arch, one per arch, comma-separated, for a group.
func scheduleQueues(sc *schedules.Schedule) string {
	var qs []string
	for _, arch := range sc.Spec.Arches() {
		qs = append(qs, tasks.QueueName(arch, sc.Spec.Release))
	}
	return strings.Join(qs, ",")
}

func scheduleState(sc *schedules.Schedule) string {
	if sc.Paused {
		return "paused"
	}
	return "active"
}

// scheduleView is the JSON of `fbs schedule show --json`, as the API's.
type scheduleView struct {
	*schedules.Schedule
	Runs []schedules.Run `json:"runs"`
}

func (a *app) newScheduleShowCmd() *cobra.Command {
	var asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a schedule and its latest runs",
		Args:  scheduleIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withSchedules(ctx, func(store *schedules.Store) error {
				sc, err := store.Get(ctx, args[0])
				if err != nil {
					return err
				}
				runs, err := store.Runs(ctx, sc.ID, limit)
				if err != nil {
					return err
				}
				if asJSON {
					sc.Kickstarts = nil // the text is long; the API has it
					enc := json.NewEncoder(a.env.Stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(scheduleView{Schedule: sc, Runs: runs})
				}
				w := a.env.Stdout
				fmt.Fprintf(w, "schedule %s\nowner:       %s\ncron:        %s (UTC)\nstate:       %s\n", sc.ID, sc.Owner, sc.Cron, scheduleState(sc))
				age := "none (always build)"
				if sc.RebuildAge > 0 {
					age = sc.RebuildAge.String()
				}
				fmt.Fprintf(w, "rebuild_age: %s\nbuild:       %s %s for %s into %s\ncreated:     %s\n", age,
					sc.Spec.Type, sc.Spec.Release, sc.Spec.Arch, sc.Spec.Staging, sc.Created.Local().Format("2006-01-02 15:04:05"))
				if len(runs) == 0 {
					fmt.Fprintln(w, "runs:        none yet")
					return nil
				}
				fmt.Fprintln(w, "runs (newest first):")
				for _, r := range runs {
					fmt.Fprintf(w, "  %s  %s\n", r.Time.Local().Format("2006-01-02 15:04:05"), r)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the schedule and its runs as JSON")
	cmd.Flags().IntVar(&limit, "runs", 20, "show at most this many runs (0: all kept)")
	return cmd
}

func (a *app) newSchedulePauseCmd(pause bool) *cobra.Command {
	use, short, done := "pause ID", "Pause a schedule: it does not run until resumed", "paused"
	if !pause {
		use, short, done = "resume ID", "Resume a paused schedule", "resumed"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  scheduleIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withSchedules(ctx, func(store *schedules.Store) error {
				sc, err := store.SetPaused(ctx, args[0], pause)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.env.Stdout, "schedule %s %s\n", sc.ID, done)
				return nil
			})
		},
	}
}

func (a *app) newScheduleDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a schedule and its runs (the builds it made stay)",
		Args:  scheduleIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withSchedules(ctx, func(store *schedules.Store) error {
				if err := store.Delete(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(a.env.Stdout, "schedule %s deleted\n", args[0])
				return nil
			})
		},
	}
}

// startSchedules runs the schedulers of periodic builds in this process
// (`fbs monitor`, `fbs serve`): runs are prepared under the server's
// policy, as the web app prepares a submission, and, with sign-in, with
// the owner's rights of their latest sign-in. The caller stops the runner,
// then closes the build client.
func (a *app) startSchedules(ctx context.Context, cfg *conf.Config, rdb redis.UniversalClient, signIn bool) (*scheduler.Runner, *client.Client, error) {
	c := client.New(rdb, client.Config{BuildTimeout: cfg.Worker.BuildTimeout})
	scfg := scheduler.Config{
		Submission: submission.Config{
			Releases:    cfg.Releases,
			Arches:      cfg.Arches,
			Staging:     &tasks.StagingPolicy{Remote: true, FileRoot: cfg.Staging.FileRoot},
			Kickstarts:  cfg.Kickstarts.Library(),
			Egress:      cfg.Security.Egress(),
			FetchEgress: cfg.Security.Egress(),
		},
		SyncInterval: cfg.Schedules.SyncInterval,
		Logger:       a.logger,
	}
	if signIn {
		scfg.Rights = scheduler.SignInRights(auth.NewUsers(rdb, 0))
	}
	r, err := scheduler.New(rdb, c, scfg)
	if err == nil {
		err = r.Start(ctx)
	}
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return r, c, nil
}
