package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/worker/progress"
	"github.com/fedora-fbs/fbs/worker/staging"
)

// minProgressInterval is the shortest --progress-interval: more often
// only floods a log file.
const minProgressInterval = 100 * time.Millisecond

// newStageCmd is "fbs stage put FILE... URL": the staging code and its
// guarantees (temporary name + rename, size and SHA256 verified, resumed
// uploads) for users re-pushing artifacts by hand.
func newStageCmd(out io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stage",
		Short: "Transfer files to a staging area",
	}
	var opts staging.Options
	var buildID string
	var every time.Duration
	put := &cobra.Command{
		Use:   "put FILE... URL",
		Short: "Upload files to a staging URL, verified and resumable",
		Long: "put uploads each FILE to URL (file:///dir, sftp://user@host[:port]/dir,\n" +
			"ftp://[user@]host[:port]/dir, ftps://..., or a bare host for anonymous FTP into pub/),\n" +
			"under a hidden temporary name renamed once its size and SHA256 match; an upload cut\n" +
			"short resumes when run again. It prints one line per file: name size sha256 url.\n" +
			"Its progress goes to standard error: on a terminal one line rewritten in place,\n" +
			"elsewhere a line every --progress-interval.",
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, url := args[:len(args)-1], args[len(args)-1]
			o := opts
			// The user's own upload, from this machine: any host they can reach.
			o.Remote, o.Egress = false, egress.Open()
			if every < minProgressInterval {
				return fmt.Errorf("--progress-interval %s: must be at least %s", every, minProgressInterval)
			}
			lines := newLineWriter(cmd.ErrOrStderr())
			o.Logf = func(format string, a ...any) { lines.Line(fmt.Sprintf(format, a...), false) }
			o.Progress = &progress.Reporter{
				Log:      func(format string, a ...any) { lines.Line(fmt.Sprintf(format, a...), true) },
				Interval: every,
			}
			st, err := staging.Open(cmd.Context(), url, o)
			if err != nil {
				return err
			}
			arts, err := st.Put(cmd.Context(), buildID, files)
			cerr := st.Close()
			lines.Close()
			for _, a := range arts {
				fmt.Fprintf(out, "%s %d %s %s\n", a.Name, a.Size, a.SHA256, a.URL)
			}
			if err != nil {
				return err
			}
			return cerr
		},
	}
	f := put.Flags()
	f.StringVar(&opts.SSHKey, "ssh-key", "", "SSH private key for sftp:// (default ~/.ssh/id_ed25519, id_ecdsa, id_rsa; ssh-agent keys are tried too)")
	f.StringVar(&opts.KnownHosts, "known-hosts", "", "known_hosts file for sftp:// (default ~/.ssh/known_hosts)")
	f.StringVar(&buildID, "build", "", "put the files into URL/BUILD-ID/ instead of URL itself")
	f.DurationVar(&every, "progress-interval", progress.Interval, "how often to report each file's progress (at least 100ms)")
	cmd.AddCommand(put)
	return cmd
}
