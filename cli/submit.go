package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/conf/spec"
	"github.com/fedora-fbs/fbs/kickstarts"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/webapp/apiclient"
	"github.com/fedora-fbs/fbs/worker/staging"
)

// prepare reads a spec file and flattens its kickstart on this machine, so
// %includes of local files work in distributed mode too. local says the
// build runs here (`build --local`): only then may the spec name local
// files for the worker.
func (a *app) prepare(ctx context.Context, specPath string, local bool) (*tasks.Payload, error) {
	return a.prepareFor(ctx, specPath, local, true)
}

// prepareFor is prepare; checkStaging false leaves the staging check to a
// server that has its own file_root (`submit --server`).
func (a *app) prepareFor(ctx context.Context, specPath string, local, checkStaging bool) (*tasks.Payload, error) {
	cfg, err := a.load()
	if err != nil {
		return nil, err
	}
	res, err := spec.ParseFile(specPath)
	if err != nil {
		return nil, err
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(a.env.Stderr, "warning:", w)
	}
	s := res.Spec
	if !local {
		if s.KSISO != nil && isLocalPath(s.KSISO.ISO) {
			return nil, fmt.Errorf("%s: [ksiso] iso: %q is a path on this machine; a worker only takes an http(s) URL or the name of an ISO in its iso_dir (use `fbs build --local` to build from a local ISO)", specPath, s.KSISO.ISO)
		}
		if checkStaging {
			if err := staging.Check(s.Staging, staging.Options{Remote: true, FileRoot: cfg.Staging.FileRoot}); err != nil {
				return nil, fmt.Errorf("%s: [DEFAULT] staging: %w", specPath, err)
			}
		}
	} else if s.KSISO != nil && isLocalPath(s.KSISO.ISO) && !filepath.IsAbs(s.KSISO.ISO) {
		s.KSISO.ISO = filepath.Join(filepath.Dir(specPath), s.KSISO.ISO)
	}
	p := &tasks.Payload{ID: tasks.NewBuildID(), Spec: s, Owner: currentUser()}
	if ref := s.KickstartRef(); ref != "" {
		resolved := resolveKickstart(specPath, ref)
		kopts := kickstarts.Options{SiteDir: cfg.Kickstarts.Dir, AllowPrivate: true}
		// Validate first: its problems point into the files as written.
		problems, err := kickstarts.Validate(ctx, resolved, kopts)
		if err != nil {
			return nil, fmt.Errorf("%s: kickstart %s: %w", specPath, ref, err)
		}
		if kickstarts.HasErrors(problems) {
			var msgs []string
			for _, p := range problems {
				msgs = append(msgs, p.String())
			}
			return nil, fmt.Errorf("%s: kickstart %s is not valid:\n  %s", specPath, ref, strings.Join(msgs, "\n  "))
		}
		r, err := kickstarts.Flatten(ctx, resolved, kopts)
		if err != nil {
			return nil, fmt.Errorf("%s: kickstart %s: %w", specPath, ref, err)
		}
		for _, w := range r.Warnings {
			fmt.Fprintf(a.env.Stderr, "warning: %s:%d: %s\n", w.File, w.Line, w.Message)
		}
		p.Kickstart, p.KickstartName = r.Text, ref
	}
	return p, nil
}

// isLocalPath reports whether an iso= value names a file rather than a URL
// or a bare name in the worker's iso_dir.
func isLocalPath(v string) bool {
	if u, err := url.Parse(v); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		return false
	}
	return strings.ContainsRune(v, '/')
}

// resolveKickstart makes a relative kickstart path relative to the spec
// file's directory when such a file exists there; URLs and standard names
// pass through.
func resolveKickstart(specPath, ref string) string {
	if strings.Contains(ref, "://") || filepath.IsAbs(ref) {
		return ref
	}
	p := filepath.Join(filepath.Dir(specPath), ref)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ref
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "local"
}

func (a *app) newSubmitCmd() *cobra.Command {
	var wait bool
	var server, token string
	cmd := &cobra.Command{
		Use:   "submit SPEC",
		Short: "Validate a build spec, flatten its kickstart here and queue the build",
		Long: "submit validates SPEC, flattens its kickstart on this machine and enqueues the build\n" +
			"in the queue of its arch and release. It prints the build ID alone on the first line.\n" +
			"With --wait it then follows the build's log and exits non-zero unless it succeeded.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if server != "" {
				return a.submitToServer(ctx, args[0], server, token, wait)
			}
			p, err := a.prepare(ctx, args[0], false)
			if err != nil {
				return err
			}
			c, closeFn, err := a.client(ctx)
			if err != nil {
				return err
			}
			defer closeFn()
			b, err := c.Submit(ctx, p)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.env.Stdout, b.ID)
			if !wait {
				return nil
			}
			return a.follow(ctx, c, b.ID)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the build and exit non-zero unless it succeeds")
	cmd.Flags().StringVar(&server, "server", "", "submit through the fbs web API at this URL instead of Redis")
	cmd.Flags().StringVar(&token, "token", "", "API token for --server (default $FBS_TOKEN)")
	return cmd
}

// submitToServer submits through the web API: the kickstart is flattened
// here all the same, the server checks the rest.
func (a *app) submitToServer(ctx context.Context, specPath, server, token string, wait bool) error {
	if token == "" {
		token, _ = a.env.LookupEnv("FBS_TOKEN")
	}
	ac, err := apiclient.New(server, token, nil)
	if err != nil {
		return err
	}
	p, err := a.prepareFor(ctx, specPath, false, false)
	if err != nil {
		return err
	}
	res, err := ac.Submit(ctx, apiclient.FromPayload(p))
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(a.env.Stderr, "warning:", w)
	}
	fmt.Fprintln(a.env.Stdout, res.Build.ID)
	if !wait {
		return nil
	}
	b, err := ac.Wait(ctx, res.Build.ID, 2*time.Second)
	if err != nil {
		return err
	}
	if b.State != tasks.StateSucceeded {
		return &exitCode{code: 1, err: fmt.Errorf("build %s %s: %s", b.ID, b.State, b.Error)}
	}
	return nil
}

// client connects to Redis and returns a build client and its closer.
func (a *app) client(ctx context.Context) (*client.Client, func(), error) {
	cfg, err := a.load()
	if err != nil {
		return nil, nil, err
	}
	rdb, err := client.ConnectRedis(ctx, a.redis())
	if err != nil {
		return nil, nil, err
	}
	c := client.New(rdb, client.Config{BuildTimeout: cfg.Worker.BuildTimeout})
	return c, func() { c.Close(); rdb.Close() }, nil
}

// follow prints the log of build id until it ends and turns its final
// state into the exit status.
func (a *app) follow(ctx context.Context, c *client.Client, id string) error {
	state, err := c.Follow(ctx, id, 0, func(l builds.LogLine) error {
		_, err := fmt.Fprintln(a.env.Stdout, l.Text)
		return err
	})
	if err != nil {
		return err
	}
	if state != tasks.StateSucceeded {
		b, gerr := c.Get(ctx, id)
		if gerr == nil && b.Error != "" {
			return &exitCode{code: 1, err: fmt.Errorf("build %s %s: %s", id, state, b.Error)}
		}
		return &exitCode{code: 1, err: fmt.Errorf("build %s %s", id, state)}
	}
	return nil
}
