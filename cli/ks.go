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

// newKSCmd returns `fbs ks`: flatten, validate, list and sync kickstarts
// with the kickstarts package. Flatten and validate run with the user's
// rights: local files anywhere, URLs on any address (the server-side rules
// are for flattening for others); standard kickstarts are the
// configuration's ([kickstarts] sync_dir and dir) for --release. Sync
// fetches under the configured outbound-address policy ([security]), as
// every URL of a request is. Results go to out, warnings to the command's
// stderr; failures are returned as errors (exit status 1).
func (a *app) newKSCmd(out io.Writer) *cobra.Command {
	var siteDir, release string
	cmd := &cobra.Command{
		Use:   "ks",
		Short: "Flatten, validate, list and sync kickstarts",
		Args:  cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&siteDir, "site-dir", "", "directory of site kickstarts (default: [kickstarts] dir)")
	// library is where --release's standard kickstarts are.
	library := func() (kickstarts.Library, error) {
		cfg, err := a.load()
		if err != nil {
			return kickstarts.Library{}, err
		}
		lib := cfg.Kickstarts.Library()
		if siteDir != "" {
			lib.SiteDir = siteDir
		}
		return lib, nil
	}
	releaseHelp := "Fedora release the kickstart is for (41, rawhide): its syntax and its standard kickstarts"

	var output, version string
	flatten := &cobra.Command{
		Use:   "flatten FILE",
		Short: "Print a kickstart with its %includes resolved and its commands merged",
		Long: "Flatten reads FILE (a path, an http/https/ftp URL or a standard kickstart name) and\n" +
			"everything it includes, and prints one self-contained kickstart, as pykickstart's ksflatten does.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lib, err := library()
			if err != nil {
				return err
			}
			r, err := kickstarts.Flatten(cmd.Context(), args[0], kickstarts.Options{Version: version, Release: release, Library: lib, Egress: egress.Open()})
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
	flatten.Flags().StringVar(&version, "version", "", "kickstart syntax version, e.g. F42 or DEVEL (default: --release's, else the newest supported)")
	flatten.Flags().StringVar(&release, "release", "", releaseHelp)

	var vversion string
	validate := &cobra.Command{
		Use:   "validate FILE",
		Short: "Report problems in a kickstart with file:line; exit status 1 on errors",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lib, err := library()
			if err != nil {
				return err
			}
			probs, err := kickstarts.Validate(cmd.Context(), args[0], kickstarts.Options{Version: vversion, Release: release, Library: lib, Egress: egress.Open()})
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
	validate.Flags().StringVar(&vversion, "version", "", "kickstart syntax version, e.g. F42 or DEVEL (default: --release's, else the newest supported)")
	validate.Flags().StringVar(&release, "release", "", releaseHelp)

	list := &cobra.Command{
		Use:   "list",
		Short: "List the standard kickstarts a release offers (synced from Fedora, site, embedded)",
		Long: "List shows the standard kickstarts config= and %include may name for --release: Fedora's\n" +
			"synced by `fbs ks sync` for it, then the site's ([kickstarts] dir), then fbs's embedded ones.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			lib, err := library()
			if err != nil {
				return err
			}
			entries, err := kickstarts.Standard(lib, release)
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
	list.Flags().StringVar(&release, "release", "", "list this release's (default: the site's and the embedded ones)")

	var from string
	sync := &cobra.Command{
		Use:   "sync --release R [--from URL|DIR]",
		Short: "Fetch Fedora's kickstarts for a release into [kickstarts] sync_dir",
		Long: "Sync replaces the release's copy of Fedora's kickstarts (sync_dir/R) with the fedora-kickstarts\n" +
			"repository's branch for it (f41, main for rawhide) as a .tar.gz archive over http(s), by default\n" +
			"from pagure.io, or with a local checkout given as --from DIR. URLs are fetched under the\n" +
			"[security] outbound-address policy, at most 32 MiB in 2 minutes; the copy switches in one step.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if release == "" {
				return fmt.Errorf("ks sync: --release is required (e.g. 41 or rawhide)")
			}
			cfg, err := a.load()
			if err != nil {
				return err
			}
			src := from
			if src == "" {
				src = kickstarts.SyncURL(release)
			}
			r, err := kickstarts.SyncRelease(cmd.Context(), cfg.Kickstarts.Library(), release, src, kickstarts.Options{Egress: cfg.Security.Egress()})
			if err != nil {
				return fmt.Errorf("ks sync --release %s: %w", release, err)
			}
			fmt.Fprintf(out, "release %s: %d kickstarts (%d files) in %s\n", release, r.Kickstarts, r.Files, r.Dir)
			return nil
		},
	}
	sync.Flags().StringVar(&release, "release", "", "the release to sync (41, rawhide); required")
	sync.Flags().StringVar(&from, "from", "", "an http(s) URL of a .tar.gz archive of the repository, or a local checkout (default: the release's branch on pagure.io)")
	cmd.AddCommand(flatten, validate, list, sync)
	return cmd
}
