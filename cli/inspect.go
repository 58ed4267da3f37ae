package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
)

func mkdirAll(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}

// buildIDArg checks that the one argument is a build ID.
func buildIDArg(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%s takes one build ID", cmd.Name())
	}
	if !tasks.ValidBuildID(args[0]) {
		return fmt.Errorf("%q is not a build ID (26 characters, as `fbs submit` prints)", args[0])
	}
	return nil
}

func (a *app) newStatusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Show a build's state, stage, timings, artifacts and errors",
		Args:  buildIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				b, err := c.Get(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(a.env.Stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(b)
				}
				printBuild(a.env.Stdout, b)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the build record as JSON")
	return cmd
}

func printBuild(w io.Writer, b *tasks.Build) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	row("build", b.ID)
	row("state", string(b.State))
	row("stage", string(b.Stage))
	row("image", fmt.Sprintf("%s for Fedora %s on %s", b.Spec.Type, b.Spec.Release, b.Spec.Arch))
	row("kickstart", b.KickstartName)
	row("owner", b.Owner)
	row("queue", b.Queue)
	row("worker", b.Worker)
	if b.Attempt > 1 {
		row("attempt", fmt.Sprint(b.Attempt))
	}
	row("submitted", b.Created.Format(time.RFC3339))
	if !b.Started.IsZero() {
		row("started", b.Started.Format(time.RFC3339))
		row("duration", b.Duration(time.Now()).Round(time.Second).String())
	}
	row("staged", b.Staged)
	row("error", b.Error)
	tw.Flush()
	for _, s := range b.Stages {
		fmt.Fprintf(w, "  stage %-10s %s\n", s.Stage, s.Duration.Round(time.Millisecond))
	}
	for _, art := range b.Artifacts {
		fmt.Fprintf(w, "  artifact %s  %d bytes  sha256 %s\n", art.URL, art.Size, art.SHA256)
	}
	for _, art := range b.Logs {
		fmt.Fprintf(w, "  tool log %s  %d bytes\n", art.URL, art.Size)
	}
	for _, e := range b.Events {
		fmt.Fprintf(w, "  event %s\n", e)
	}
	if len(b.Tail) > 0 {
		fmt.Fprintln(w, "last lines of the tool's output:")
		for _, t := range b.Tail {
			fmt.Fprintln(w, "  |", t)
		}
	}
	if e := b.ToolError; e != nil {
		fmt.Fprintf(w, "the tool's error, %s:\n", e)
		for _, t := range e.Lines {
			fmt.Fprintln(w, "  |", t)
		}
	}
}

func (a *app) newLogsCmd() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Print a build's log; -f follows it and exits with the build's result",
		Args:  buildIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withClient(ctx, func(c *client.Client) error {
				if _, err := c.Get(ctx, args[0]); err != nil {
					return err
				}
				if follow {
					return a.follow(ctx, c, args[0])
				}
				after := 0
				for {
					lines, _, err := c.Store().ReadLog(ctx, args[0], after, 10000, 0)
					if err != nil {
						return err
					}
					if len(lines) == 0 {
						return nil
					}
					for _, l := range lines {
						fmt.Fprintln(a.env.Stdout, l.Text)
						after = l.N
					}
				}
			})
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log until the build ends; exit non-zero unless it succeeded")
	return cmd
}

func (a *app) newCancelCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a queued or running build",
		Args:  buildIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				b, err := c.Cancel(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if b.State == tasks.StateCancelled {
					fmt.Fprintf(a.env.Stdout, "build %s cancelled\n", b.ID)
				} else {
					fmt.Fprintf(a.env.Stdout, "build %s: cancel sent to worker %s\n", b.ID, b.Worker)
				}
				return nil
			})
		},
	}
}

func (a *app) newListCmd() *cobra.Command {
	var state string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List builds, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				switch tasks.State(state) {
				case "", tasks.StateQueued, tasks.StateRunning, tasks.StateSucceeded, tasks.StateFailed, tasks.StateCancelled:
				default:
					return fmt.Errorf("--state %q: want queued, running, succeeded, failed or cancelled", state)
				}
				opts := builds.ListOptions{Limit: limit, State: tasks.State(state)}
				bs, err := c.List(cmd.Context(), opts)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATE\tSTAGE\tTYPE\tQUEUE\tOWNER\tSUBMITTED")
				for _, b := range bs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.ID, b.State, dash(string(b.Stage)), b.Spec.Type, b.Queue, b.Owner, b.Created.Local().Format("2006-01-02 15:04"))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only builds in this state ("+strings.Join([]string{"queued", "running", "succeeded", "failed", "cancelled"}, ", ")+")")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many builds")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
