package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/deploy/rollout"
)

// rolloutFlags are the flags fbs deploy plan, apply and status share.
type rolloutFlags struct {
	acceptNew    bool
	binary       string
	parallel     int
	checkTimeout time.Duration
}

func (f *rolloutFlags) add(cmd *cobra.Command, withBinary, withApply bool) {
	cmd.Flags().BoolVar(&f.acceptNew, "accept-new", false, "on first contact, add a host's key to its known_hosts file (a changed key is always refused)")
	if withBinary {
		cmd.Flags().StringVar(&f.binary, "binary", "", "the fbs executable to install (default [deploy] binary, then this fbs)")
	}
	if withApply {
		cmd.Flags().IntVar(&f.parallel, "parallel", 1, "how many worker hosts to upgrade at once")
		cmd.Flags().DurationVar(&f.checkTimeout, "check-timeout", time.Minute, "how long a started service has to pass its check (PING, /healthz, heartbeat)")
	}
}

// rollout loads the deploy file at path and makes its rollout.
func (a *app) rollout(path string, f *rolloutFlags, withBinary bool) (*rollout.Rollout, error) {
	file, err := loadDeployFile(path, a.env.Stderr)
	if err != nil {
		return nil, err
	}
	opts := rollout.Options{AcceptNew: f.acceptNew, Parallel: f.parallel, CheckTimeout: f.checkTimeout, Progress: a.env.Stderr}
	if withBinary {
		opts.Binary = f.binary
		if opts.Binary == "" && file.Binary == "" {
			exe, err := os.Executable()
			if err != nil {
				return nil, fmt.Errorf("find this fbs executable (give --binary): %w", err)
			}
			opts.Binary = exe
		}
	}
	return rollout.New(file, opts)
}

func (a *app) newDeployPlanCmd() *cobra.Command {
	var f rolloutFlags
	cmd := &cobra.Command{
		Use:   "plan FILE",
		Short: "Show per host what fbs deploy apply would change (binary, files, units, packages); changes nothing",
		Long: "plan connects to every host of the deploy file over SSH and shows what apply would do there:\n" +
			"the binary's version now and after, the diff of each file (secrets only say that they\n" +
			"change), the OS packages and users to add, and the units' state. It changes nothing.\n" +
			"The exit status is 1 when a host could not be inspected.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.rollout(args[0], &f, true)
			if err != nil {
				return err
			}
			plans, err := r.Plan(cmd.Context())
			if err != nil {
				return err
			}
			if err := rollout.WritePlan(a.env.Stdout, plans); err != nil {
				return err
			}
			for _, p := range plans {
				if p.Err != nil {
					return &exitCode{code: 1, err: errors.New("some hosts could not be inspected")}
				}
			}
			return nil
		},
	}
	f.add(cmd, true, false)
	return cmd
}

func (a *app) newDeployApplyCmd() *cobra.Command {
	var f rolloutFlags
	cmd := &cobra.Command{
		Use:   "apply FILE",
		Short: "Install and (re)start the service on every host of a deploy file, rolling, with rollback",
		Long: "apply rolls the deploy file out host by host: Redis hosts, then monitor, then web, one at a\n" +
			"time, each checked (PING, /healthz) before the next; then workers --parallel at a time,\n" +
			"each stopped with SIGTERM (it drains and hands its builds back), replaced, started and\n" +
			"waited for until its heartbeat shows the new version. A host that fails a step or a\n" +
			"check is rolled back to its previous binary and files and restarted, and the rollout\n" +
			"stops there with a report (exit status 1). Progress goes to stderr, the report to stdout.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.rollout(args[0], &f, true)
			if err != nil {
				return err
			}
			rep, err := r.Apply(cmd.Context())
			if rep != nil {
				if werr := rollout.WriteReport(a.env.Stdout, rep); werr != nil && err == nil {
					err = werr
				}
			}
			if err != nil {
				return &exitCode{code: 1, err: err}
			}
			return nil
		},
	}
	f.add(cmd, true, true)
	return cmd
}

func (a *app) newDeployStatusCmd() *cobra.Command {
	var f rolloutFlags
	cmd := &cobra.Command{
		Use:   "status FILE",
		Short: "Show per host the installed version, unit states, /healthz and the workers' heartbeats",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.rollout(args[0], &f, false)
			if err != nil {
				return err
			}
			st, err := r.Status(cmd.Context())
			if err != nil {
				return err
			}
			if err := rollout.WriteStatus(a.env.Stdout, st); err != nil {
				return err
			}
			for _, s := range st {
				if s.Err != nil {
					return &exitCode{code: 1, err: errors.New("some hosts could not be asked")}
				}
			}
			return nil
		},
	}
	f.add(cmd, false, false)
	return cmd
}
