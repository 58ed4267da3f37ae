package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/deploy"
)

// newDeployCmd is the parent of the fbs deploy commands, which read a
// deploy file (package deploy) and act on its hosts.
func (a *app) newDeployCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Deploy the service to many hosts from one deploy file",
		Long: "deploy reads a deploy file (fbs's form, or the original service's deploy.conf) naming\n" +
			"the hosts of the service and their roles (web, monitor, worker, redis), and renders,\n" +
			"plans and applies what each host runs: the fbs binary, /etc/fbs/fbs.conf, secret\n" +
			"files and systemd units. See doc/howto.md, \"Deploying fbs\".",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		a.newDeployRenderCmd(),
		a.newDeployPlanCmd(),
		a.newDeployApplyCmd(),
		a.newDeployStatusCmd(),
	)
	return cmd
}

// loadDeployFile loads a deploy file and prints its warnings to w.
func loadDeployFile(path string, w io.Writer) (*deploy.File, error) {
	f, err := deploy.Load(path)
	if err != nil {
		return nil, err
	}
	for _, warn := range f.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
	return f, nil
}
