package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
)

func (a *app) newQueueCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "Pause, resume and list paused build queues (arch × release)",
	}
	var message string
	pause := &cobra.Command{
		Use:   "pause QUEUE",
		Short: "Pause a build queue: its builds are accepted and wait until it is resumed",
		Long: "pause stops every worker from taking builds of QUEUE (build:<arch>:<release>, e.g.\n" +
			"build:x86_64:42). Running builds go on; submissions are accepted and wait.\n" +
			"/status shows the pause with who, when and --message.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				p, err := c.PauseQueue(cmd.Context(), args[0], currentUser(), message)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.env.Stdout, "queue %s paused by %s\n", p.Name, p.By)
				return nil
			})
		},
	}
	pause.Flags().StringVar(&message, "message", "", "why, shown on /status")
	resume := &cobra.Command{
		Use:   "resume QUEUE",
		Short: "Resume a paused build queue: the builds that waited run in their order",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				if err := c.ResumeQueue(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(a.env.Stdout, "queue %s resumed\n", args[0])
				return nil
			})
		},
	}
	cmd.AddCommand(pause, resume, a.newPausedCmd())
	return cmd
}

// newWorkerPauseCmds are `fbs worker pause` and `fbs worker resume`.
func (a *app) newWorkerPauseCmds() []*cobra.Command {
	var message string
	var wait time.Duration
	pause := &cobra.Command{
		Use:   "pause HOST",
		Short: "Pause the workers of HOST: they finish what they run and take nothing new",
		Long: "pause tells the workers of HOST (their host name, as `fbs queue paused` and\n" +
			"/status list them) to take no new builds; running builds go on to their end.\n" +
			"It waits up to --wait for a live worker of HOST to say it is paused.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withClient(ctx, func(c *client.Client) error {
				p, err := c.PauseWorker(ctx, args[0], currentUser(), message)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.env.Stdout, "worker %s paused by %s\n", p.Name, p.By)
				if wait <= 0 {
					return nil
				}
				deadline := time.Now().Add(wait)
				for {
					ws, err := c.Store().Workers(ctx)
					if err != nil {
						return err
					}
					live, paused := 0, 0
					for _, w := range ws {
						if w.Host == p.Name {
							live++
							if w.Paused {
								paused++
							}
						}
					}
					switch {
					case live == 0:
						fmt.Fprintf(a.env.Stdout, "no live worker on %s now: it starts paused\n", p.Name)
						return nil
					case paused == live:
						fmt.Fprintf(a.env.Stdout, "%d worker(s) on %s paused; running builds go on\n", live, p.Name)
						return nil
					case time.Now().After(deadline):
						return fmt.Errorf("worker pause %s: %d of %d workers said they are paused within %s", p.Name, paused, live, wait)
					}
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(200 * time.Millisecond):
					}
				}
			})
		},
	}
	pause.Flags().StringVar(&message, "message", "", "why, shown on /status")
	pause.Flags().DurationVar(&wait, "wait", 15*time.Second, "how long to wait for the workers to say they are paused (0: do not wait)")
	resume := &cobra.Command{
		Use:   "resume HOST",
		Short: "Resume the paused workers of HOST",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				if err := c.ResumeWorker(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(a.env.Stdout, "worker %s resumed\n", args[0])
				return nil
			})
		},
	}
	return []*cobra.Command{pause, resume}
}

// newPausedCmd lists the paused queues and workers.
func (a *app) newPausedCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "paused",
		Short: "List the paused queues and workers, with who paused them, when and why",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				ps, err := c.Store().Pauses(cmd.Context())
				if err != nil {
					return err
				}
				printPauses(a.env.Stdout, ps)
				return nil
			})
		},
	}
}

func printPauses(w io.Writer, ps []builds.Pause) {
	if len(ps) == 0 {
		fmt.Fprintln(w, "nothing is paused")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tBY\tSINCE\tMESSAGE")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Kind, p.Name, p.By, p.At.Local().Format("2006-01-02 15:04:05"), p.Message)
	}
	tw.Flush()
}
