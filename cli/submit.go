package cli

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/conf/spec"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/tasks/submission"
	"github.com/fedora-fbs/fbs/webapp/apiclient"
	"github.com/fedora-fbs/fbs/worker"
)

// Each of the CLI's submissions prepares its spec for where the build goes,
// which decides what the spec may name: the kickstart is always read and
// flattened here, so its %includes of local files work in distributed mode
// too; only a build that runs here may take a local ISO.

// prepareForQueue prepares a build for `fbs submit` through Redis: the
// staging URL is checked as a worker will, against this host's file_root.
func (a *app) prepareForQueue(ctx context.Context, specPath string) (*submission.Prepared, error) {
	cfg, err := a.load()
	if err != nil {
		return nil, err
	}
	return a.prepare(ctx, specPath, submission.Config{
		Releases:   cfg.Releases,
		Arches:     cfg.Arches,
		Staging:    &tasks.StagingPolicy{Remote: true, FileRoot: cfg.Staging.FileRoot},
		Egress:     cfg.Security.Egress(),
		Kickstarts: cfg.Kickstarts.Library(),
	})
}

// prepareForServer prepares a build for `fbs submit --server`: the server,
// which has its own file_root, checks the staging URL.
func (a *app) prepareForServer(ctx context.Context, specPath string) (*submission.Prepared, error) {
	cfg, err := a.load()
	if err != nil {
		return nil, err
	}
	return a.prepare(ctx, specPath, submission.Config{Kickstarts: cfg.Kickstarts.Library()})
}

// prepareLocalBuild prepares a build for `fbs build --local`, which runs
// here: the spec may name a local ISO.
func (a *app) prepareLocalBuild(ctx context.Context, specPath string) (*tasks.Payload, error) {
	cfg, err := a.load()
	if err != nil {
		return nil, err
	}
	pr, err := a.prepare(ctx, specPath, submission.Config{LocalFiles: true, HostArch: worker.HostArch(), Kickstarts: cfg.Kickstarts.Library()})
	if err != nil {
		return nil, err
	}
	return pr.Payload, nil
}

// prepare reads the spec file and runs it through the submission path; its
// problems are reported as the parser's are, with file, line and key.
func (a *app) prepare(ctx context.Context, specPath string, cfg submission.Config) (*submission.Prepared, error) {
	res, err := spec.ParseFile(specPath)
	if err != nil {
		return nil, err
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(a.env.Stderr, "warning:", w)
	}
	// The kickstart is read on this machine, for its user: any address
	// the user can reach.
	cfg.LocalKickstarts, cfg.FetchEgress = true, egress.Open()
	pr, err := submission.New(cfg).Prepare(ctx, submission.Request{Spec: res.Spec, Owner: currentUser(), Dir: filepath.Dir(specPath)}, nil)
	var fe tasks.Errors
	if errors.As(err, &fe) {
		out := make(spec.Errors, len(fe))
		for i, e := range fe {
			out[i] = res.ErrorAt(e.Field, e.Message)
		}
		return nil, out
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", specPath, err)
	}
	for _, w := range pr.Warnings {
		fmt.Fprintln(a.env.Stderr, "warning:", w)
	}
	for _, p := range pr.Payloads {
		p.SubmittedAt = time.Time{}
	}
	return pr, nil
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
	var poll time.Duration
	cmd := &cobra.Command{
		Use:   "submit SPEC",
		Short: "Validate a build spec, flatten its kickstart here and queue the build",
		Long: "submit validates SPEC, flattens its kickstart on this machine and enqueues the build\n" +
			"in the queue of its arch and release. It prints the build ID alone on the first line.\n" +
			"With --wait it then follows the build's log and exits non-zero unless it succeeded;\n" +
			"with --server, it shows the progress of downloads and transfers instead of the log.\n\n" +
			"A spec whose arch names several arches (arch=x86_64,aarch64) makes a group: one build\n" +
			"per arch, all queued or none. submit then prints the group ID alone on the first line\n" +
			"and a line \"<build ID> <arch>\" for each build; --wait follows every build's log, each\n" +
			"line prefixed with its arch, and exits non-zero unless all of them succeeded.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if server != "" {
				if poll < 100*time.Millisecond {
					return fmt.Errorf("--poll-interval %s: want at least 100ms", poll)
				}
				return a.submitToServer(ctx, args[0], server, token, wait, poll)
			}
			pr, err := a.prepareForQueue(ctx, args[0])
			if err != nil {
				return err
			}
			return a.withClient(ctx, func(c *client.Client) error {
				if pr.IsGroup() {
					return a.submitGroup(ctx, c, pr, wait)
				}
				p := pr.Payload
				b, err := c.Submit(ctx, p)
				if err != nil {
					return err
				}
				fmt.Fprintln(a.env.Stdout, b.ID)
				a.warnUnserved(ctx, c, &p.Spec)
				if !wait {
					return nil
				}
				return a.follow(ctx, c, b.ID)
			})
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the build and exit non-zero unless it succeeds")
	cmd.Flags().StringVar(&server, "server", "", "submit through the fbs web API at this URL instead of Redis")
	cmd.Flags().StringVar(&token, "token", "", "API token for --server (default $FBS_TOKEN)")
	cmd.Flags().DurationVar(&poll, "poll-interval", 2*time.Second, "with --server --wait, how often to ask the server how the build goes")
	return cmd
}

// showProgress returns what `fbs submit --server --wait` does with each
// record of a build it reads: print its progress (tasks.Progress.Line,
// the line the worker writes to the log, which the local path follows)
// each time it moved, a progress line rewritten in place on a terminal;
// prefixed "[arch] " when several builds are waited for, as the local
// path prefixes a group's log lines.
func showProgress(out *lineWriter, several bool) func(*tasks.Build) error {
	var last time.Time
	return func(b *tasks.Build) error {
		p := b.Progress
		if p == nil || p.Updated.Equal(last) || b.State.Final() {
			return nil
		}
		last = p.Updated
		text := p.Line()
		if several {
			text = "[" + b.Spec.Arch + "] " + text
		}
		return out.Line(text, true)
	}
}

// warnUnserved tells the submitter when no live worker can run the build
// yet: it waits in its queue until one can.
func (a *app) warnUnserved(ctx context.Context, c *client.Client, sp *tasks.Spec) {
	ws, err := c.Store().Workers(ctx)
	if err != nil {
		return
	}
	if why := builds.Unserved(ws, sp.Arch, sp.Release, sp.Kind()); why != "" {
		fmt.Fprintf(a.env.Stderr, "warning: %s; the build waits in its queue until a worker that can run it starts\n", why)
	}
}

// submitToServer submits through the web API: the kickstart is flattened
// here all the same, the server checks the rest.
func (a *app) submitToServer(ctx context.Context, specPath, server, token string, wait bool, poll time.Duration) error {
	if token == "" {
		token, _ = a.env.LookupEnv("FBS_TOKEN")
	}
	ac, err := apiclient.New(server, token, nil)
	if err != nil {
		return err
	}
	pr, err := a.prepareForServer(ctx, specPath)
	if err != nil {
		return err
	}
	p := pr.Payload
	req := apiclient.FromPayload(p)
	// The server splits the arches again: it sees the request as written.
	req.Spec.Arch = pr.Arches()
	res, err := ac.Submit(ctx, req)
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(a.env.Stderr, "warning:", w)
	}
	ids := []string{res.Build.ID}
	if g := res.Group; g != nil {
		ids = ids[:0]
		fmt.Fprintln(a.env.Stdout, g.ID)
		for _, b := range g.Builds {
			fmt.Fprintln(a.env.Stdout, b.ID, b.Spec.Arch)
			ids = append(ids, b.ID)
		}
	} else {
		fmt.Fprintln(a.env.Stdout, res.Build.ID)
	}
	if !wait {
		return nil
	}
	var failed []string
	out := newLineWriter(a.env.Stdout)
	defer out.Close()
	for _, id := range ids {
		b, err := ac.Watch(ctx, id, poll, showProgress(out, len(ids) > 1))
		if err != nil {
			return err
		}
		if b.State != tasks.StateSucceeded {
			failed = append(failed, fmt.Sprintf("build %s (%s) %s: %s", b.ID, b.Spec.Arch, b.State, b.Error))
		}
	}
	if len(failed) > 0 {
		return &exitCode{code: 1, err: errors.New(strings.Join(failed, "; "))}
	}
	return nil
}

// withClient runs act with a build client and closes the connection when
// act returns. It loads the configuration first, so its errors name the
// file, and fails at once when Redis does not answer.
func (a *app) withClient(ctx context.Context, act func(*client.Client) error) error {
	c, closeFn, err := a.buildClient(ctx, client.ConnectRedis)
	if err != nil {
		return err
	}
	defer closeFn()
	return act(c)
}

// serviceClient connects a build client for a long-running service (fbs
// web) and returns it and its closer: unlike withClient, it waits
// up to redisStartWait for a Redis that is down, restarting or loading.
func (a *app) serviceClient(ctx context.Context) (*client.Client, func(), error) {
	return a.buildClient(ctx, a.waitRedis)
}

// redisStartWait is how long fbs web, fbs monitor and fbs worker wait at
// start for Redis to answer.
const redisStartWait = time.Minute

// waitRedis is client.WaitRedis with the services' wait and logger; a.load
// must have run.
func (a *app) waitRedis(ctx context.Context, url string) (redis.UniversalClient, error) {
	return client.WaitRedis(ctx, url, redisStartWait, a.logger)
}

func (a *app) buildClient(ctx context.Context, connect func(context.Context, string) (redis.UniversalClient, error)) (*client.Client, func(), error) {
	cfg, err := a.load()
	if err != nil {
		return nil, nil, err
	}
	rdb, err := connect(ctx, a.redis())
	if err != nil {
		return nil, nil, err
	}
	c := client.New(rdb, client.Config{BuildTimeout: cfg.Worker.BuildTimeout})
	return c, func() { c.Close(); rdb.Close() }, nil
}

// follow prints the log of build id until it ends and turns its final
// state into the exit status. On a terminal, the progress lines of a
// transfer or download are one line rewritten in place.
func (a *app) follow(ctx context.Context, c *client.Client, id string) error {
	out := newLineWriter(a.env.Stdout)
	state, err := c.Follow(ctx, id, 0, func(l builds.LogLine) error {
		_, progress := tasks.ParseProgressLine(l.Text)
		return out.Line(l.Text, progress)
	})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
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
