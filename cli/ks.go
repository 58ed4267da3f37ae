package cli

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/kickstarts"
	"github.com/fedora-fbs/fbs/tasks/egress"
)

// newKSCmd returns `fbs ks`: flatten, validate and list kickstarts with the
// kickstarts package, with the user's rights: local files anywhere, URLs on
// any address (the server-side rules are for flattening for others). Results
// go to out, warnings to the command's stderr; failures are returned as
// errors (exit status 1).
func newKSCmd(out io.Writer) *cobra.Command {
	var siteDir string
	cmd := &cobra.Command{
		Use:   "ks",
		Short: "Flatten, validate and list kickstarts",
		Args:  cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&siteDir, "site-dir", "", "directory of site kickstarts, also resolvable by name")

	var output, version string
	flatten := &cobra.Command{
		Use:   "flatten FILE",
		Short: "Print a kickstart with its %includes resolved and its commands merged",
		Long: "Flatten reads FILE (a path, an http/https/ftp URL or a standard kickstart name) and\n" +
			"everything it includes, and prints one self-contained kickstart, as pykickstart's ksflatten does.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := kickstarts.Flatten(cmd.Context(), args[0], kickstarts.Options{Version: version, SiteDir: siteDir, Egress: egress.Open()})
			if err != nil {
				return fmt.Errorf("flatten %s: %w", args[0], err)
			}
			for _, w := range r.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			if output == "" || output == "-" {
				_, err = io.WriteString(out, r.Text)
				return err
			}
			if err := os.WriteFile(output, []byte(r.Text), 0o644); err != nil {
				return fmt.Errorf("write flattened kickstart: %w", err)
			}
			return nil
		},
	}
	flatten.Flags().StringVarP(&output, "output", "o", "", "write the flattened kickstart to this file instead of stdout")
	flatten.Flags().StringVar(&version, "version", "", "kickstart syntax version, e.g. F42 (default: the newest supported)")

	var vversion string
	validate := &cobra.Command{
		Use:   "validate FILE",
		Short: "Report problems in a kickstart with file:line; exit status 1 on errors",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			probs, err := kickstarts.Validate(cmd.Context(), args[0], kickstarts.Options{Version: vversion, SiteDir: siteDir, Egress: egress.Open()})
			for _, p := range probs {
				fmt.Fprintln(out, p)
			}
			if err != nil {
				return fmt.Errorf("validate %s: %w", args[0], err)
			}
			errs := 0
			for _, p := range probs {
				if p.Severity == "error" {
					errs++
				}
			}
			if errs > 0 {
				return fmt.Errorf("validate %s: %d error(s)", args[0], errs)
			}
			return nil
		},
	}
	validate.Flags().StringVar(&vversion, "version", "", "kickstart syntax version, e.g. F42 (default: the newest supported)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the standard kickstarts (embedded and site) with their descriptions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			entries, err := kickstarts.Standard(siteDir)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSOURCE\tDESCRIPTION")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, e.Source, e.Description)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(flatten, validate, list)
	return cmd
}
