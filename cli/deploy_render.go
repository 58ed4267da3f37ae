package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/deploy"
)

func (a *app) newDeployRenderCmd() *cobra.Command {
	var host, out string
	cmd := &cobra.Command{
		Use:   "render FILE --out DIR [--host H]",
		Short: "Write the files fbs deploy would install on a host, for review",
		Long: "render writes, under DIR, exactly the files fbs deploy apply would install on host H\n" +
			"(DIR/etc/fbs/fbs.conf, DIR/etc/fbs/secrets/..., DIR/etc/systemd/system/fbs-*.service),\n" +
			"or, without --host, those of every host under DIR/HOST/. It connects to nothing.\n" +
			"Secret files are written mode 0600; stdout lists paths only, never their content.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := loadDeployFile(args[0], a.env.Stderr)
			if err != nil {
				return err
			}
			// A review copy holds exactly what would be installed: no
			// file left from an earlier render.
			if es, err := os.ReadDir(out); err == nil && len(es) > 0 {
				return fmt.Errorf("--out %s is not empty: render writes into a new or empty directory", out)
			}
			hosts := f.Hosts
			if host != "" {
				h, err := f.Host(host)
				if err != nil {
					return err
				}
				hosts = []*deploy.Host{h}
			}
			for _, h := range hosts {
				dir := out
				if host == "" {
					dir = filepath.Join(out, h.Name)
				}
				if err := renderHost(f, h, dir, a.env.Stdout); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&host, "host", "", "the host to render (default: every host, each under DIR/HOST)")
	cmd.Flags().StringVar(&out, "out", "", "the directory to write into (required)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// renderHost writes h's files under dir and lists their paths on w.
func renderHost(f *deploy.File, h *deploy.Host, dir string, w io.Writer) error {
	files, err := f.Render(h)
	if err != nil {
		return err
	}
	for _, file := range files {
		p := filepath.Join(dir, filepath.FromSlash(file.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("render %s: %w", h.Name, err)
		}
		mode := file.Mode.Perm()
		if file.Secret {
			mode = 0o600
		}
		if err := writeFileMode(p, file.Content, mode); err != nil {
			return fmt.Errorf("render %s: %w", h.Name, err)
		}
		note := ""
		if file.Secret {
			note = " (secret)"
		}
		fmt.Fprintf(w, "%s\t%s %s:%s%s\n", p, file.Mode.Perm(), file.Owner, file.Group, note)
	}
	return nil
}

// writeFileMode writes b to p with exactly mode, whatever the umask and
// whatever mode an older p had: a secret is never readable by others, not
// even while it is written.
func writeFileMode(p string, b []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}
