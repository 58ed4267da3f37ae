package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/client"
	"github.com/fedora-fbs/fbs/tasks/submission"
)

// submitGroup submits the builds of a multi-arch request through Redis,
// prints the group ID and one "<build ID> <arch>" line per build, and with
// wait follows them all.
func (a *app) submitGroup(ctx context.Context, c *client.Client, pr *submission.Prepared, wait bool) error {
	gs, err := c.SubmitGroup(ctx, pr.Payloads)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.env.Stdout, gs.ID)
	for _, b := range gs.Builds {
		fmt.Fprintln(a.env.Stdout, b.ID, b.Spec.Arch)
	}
	for _, p := range pr.Payloads {
		a.warnUnserved(ctx, c, &p.Spec)
	}
	if !wait {
		return nil
	}
	return a.followGroup(ctx, c, gs)
}

// followGroup prints the logs of every build of gs as they come, each line
// prefixed with its build's arch, until all have ended, and turns their
// final states into the exit status: zero only if every build succeeded.
func (a *app) followGroup(ctx context.Context, c *client.Client, gs *tasks.GroupStatus) error {
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		states = make([]tasks.State, len(gs.Builds))
		errs   = make([]error, len(gs.Builds))
	)
	for i, b := range gs.Builds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			states[i], errs[i] = c.Follow(ctx, b.ID, 0, func(l builds.LogLine) error {
				mu.Lock()
				defer mu.Unlock()
				_, err := fmt.Fprintf(a.env.Stdout, "[%s] %s\n", b.Spec.Arch, l.Text)
				return err
			})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var failed []string
	for i, b := range gs.Builds {
		if states[i] == tasks.StateSucceeded {
			continue
		}
		msg := fmt.Sprintf("build %s (%s) %s", b.ID, b.Spec.Arch, states[i])
		if rec, err := c.Get(ctx, b.ID); err == nil && rec.Error != "" {
			msg += ": " + rec.Error
		}
		failed = append(failed, msg)
	}
	if len(failed) > 0 {
		return &exitCode{code: 1, err: fmt.Errorf("group %s: %s", gs.ID, strings.Join(failed, "; "))}
	}
	return nil
}
