package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/tasks/client"
)

// newWorkersCmd lists the workers whose heartbeat is current, as the
// monitor sees them. `fbs deploy status` runs it on a host over SSH, with
// the host's own configuration, to read the heartbeats without reaching
// Redis from the deploying machine.
func (a *app) newWorkersCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "workers",
		Short: "List the live workers: host, version, arch, releases, running builds and whether they take builds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd.Context(), func(c *client.Client) error {
				ws, err := c.Store().Workers(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(a.env.Stdout)
					for _, w := range ws {
						if err := enc.Encode(w); err != nil {
							return err
						}
					}
					return nil
				}
				tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tVERSION\tARCH\tRELEASES\tBUILDS\tDRAINING\tSTATE")
				for _, w := range ws {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%s\n", w.ID, w.Version, w.Arch, strings.Join(w.Releases, ","),
						strings.Join(w.Builds, ","), w.Draining, w.State())
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per worker (the heartbeat as stored)")
	return cmd
}
