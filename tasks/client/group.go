package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks"
)

// SubmitGroup records and enqueues the builds of one multi-arch request,
// one payload per arch, all carrying the same Group ID (as
// submission.Prepare makes them): the group record, every member's record,
// the group's submission mail (one for the group, when it has a
// recipient), then every member's task. Either all of it happens or none:
// if an enqueue fails, the members already enqueued are taken off their
// queues and every record is removed again.
func (c *Client) SubmitGroup(ctx context.Context, payloads []*tasks.Payload) (*tasks.GroupStatus, error) {
	g, err := c.checkGroup(payloads)
	if err != nil {
		return nil, err
	}
	queued := make([]*asynq.Task, len(payloads))
	for i, p := range payloads {
		if queued[i], err = tasks.NewBuildTask(p, p.ID, c.cfg.BuildTimeout); err != nil {
			return nil, fmt.Errorf("submit group %s: %w", g.ID, err)
		}
	}
	if err := c.store.CreateGroup(ctx, g); err != nil {
		return nil, fmt.Errorf("submit group %s: %w", g.ID, err)
	}
	u := &groupUndo{c: c, group: g.ID}
	members := make([]*tasks.Build, len(payloads))
	for i, p := range payloads {
		b := &tasks.Build{
			ID: p.ID, Spec: p.Spec, KickstartName: p.KickstartName, Owner: p.Owner,
			State: tasks.StateQueued, Queue: p.Spec.Queue(), TaskID: p.ID, Created: p.SubmittedAt,
			Schedule: p.Schedule, Group: p.Group,
		}
		if err := c.store.Create(ctx, b, queued[i].Payload()); err != nil {
			return nil, u.run(ctx, fmt.Errorf("submit group %s: %w", g.ID, err))
		}
		u.records = append(u.records, b)
		members[i] = b
	}
	if payloads[0].Spec.Email != "" {
		if err := EnqueueNotify(ctx, c.queue, g.ID, tasks.MailGroupSubmitted); err != nil {
			return nil, u.run(ctx, err)
		}
		u.mail = true
	}
	for i, t := range queued {
		if _, err := c.queue.EnqueueContext(ctx, t); err != nil {
			return nil, u.run(ctx, fmt.Errorf("submit group %s: enqueue build %s (%s): %w", g.ID, members[i].ID, members[i].Spec.Arch, err))
		}
		u.enqueued = append(u.enqueued, members[i])
	}
	return tasks.NewGroupStatus(g, members), nil
}

// checkGroup checks the payloads of a group and returns its record.
func (c *Client) checkGroup(payloads []*tasks.Payload) (*tasks.Group, error) {
	if len(payloads) < 2 {
		return nil, fmt.Errorf("submit group: %d builds: a group has at least two", len(payloads))
	}
	first := payloads[0]
	if !tasks.ValidBuildID(first.Group) {
		return nil, fmt.Errorf("submit group: bad group ID %q", first.Group)
	}
	g := &tasks.Group{ID: first.Group, Owner: first.Owner, Created: first.SubmittedAt}
	if g.Created.IsZero() {
		g.Created = time.Now().UTC()
	}
	var arches []string
	for _, p := range payloads {
		if p.ID == "" {
			p.ID = tasks.NewBuildID()
		}
		if p.SubmittedAt.IsZero() {
			p.SubmittedAt = g.Created
		}
		if err := p.Spec.Validate(); err != nil {
			return nil, fmt.Errorf("submit group %s: build %s: %w", g.ID, p.ID, err)
		}
		switch {
		case p.Group != g.ID:
			return nil, fmt.Errorf("submit group %s: build %s belongs to group %q", g.ID, p.ID, p.Group)
		case p.Owner != g.Owner:
			return nil, fmt.Errorf("submit group %s: build %s has another owner", g.ID, p.ID)
		case len(p.Spec.Arches()) != 1:
			return nil, fmt.Errorf("submit group %s: build %s names several arches (%s)", g.ID, p.ID, p.Spec.Arch)
		case slices.Contains(arches, p.Spec.Arch):
			return nil, fmt.Errorf("submit group %s: arch %s twice", g.ID, p.Spec.Arch)
		case p.Spec.Email != first.Spec.Email:
			return nil, fmt.Errorf("submit group %s: build %s mails another address", g.ID, p.ID)
		}
		if p.Spec.Email != "" {
			if err := tasks.CheckEmail(p.Spec.Email); err != nil {
				return nil, fmt.Errorf("submit group %s: email: %w", g.ID, err)
			}
		}
		arches = append(arches, p.Spec.Arch)
		g.Builds = append(g.Builds, p.ID)
	}
	return g, nil
}

// groupUndo is what a group submission has written so far, to remove it
// again when a later step fails.
type groupUndo struct {
	c        *Client
	group    string
	records  []*tasks.Build
	enqueued []*tasks.Build
	mail     bool
}

// run removes everything u holds and returns cause, with any trouble
// undoing added. A member a worker took in the instant between its
// enqueue and the undo is told to stop; its worker then finds no record
// and drops it.
func (u *groupUndo) run(ctx context.Context, cause error) error {
	// A fresh context: ctx may be what failed.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var errs []error
	for _, b := range u.enqueued {
		if err := u.c.inspect.DeleteTask(b.Queue, b.TaskID); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			if cerr := u.c.inspect.CancelProcessing(b.TaskID); cerr != nil {
				errs = append(errs, fmt.Errorf("take build %s off its queue: %w", b.ID, err))
			}
		}
	}
	if u.mail {
		if err := u.c.inspect.DeleteTask(tasks.NotifyQueue, tasks.NotifyTaskID(u.group, tasks.MailGroupSubmitted)); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			errs = append(errs, fmt.Errorf("remove its submission mail: %w", err))
		}
	}
	for _, b := range u.records {
		if err := u.c.store.Delete(dctx, b.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove record of build %s: %w", b.ID, err))
		}
	}
	if err := u.c.store.DeleteGroup(dctx, u.group); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w (and undoing the submission failed: %v)", cause, errors.Join(errs...))
	}
	return cause
}

// Group returns group id with its members' records and its state.
func (c *Client) Group(ctx context.Context, id string) (*tasks.GroupStatus, error) {
	g, err := c.store.Group(ctx, id)
	if err != nil {
		return nil, err
	}
	members, err := c.store.Members(ctx, g)
	if err != nil {
		return nil, err
	}
	return tasks.NewGroupStatus(g, members), nil
}

// CancelGroup cancels every member of group id that has not ended (as
// Cancel does each) and returns the group as it is then. Members that
// had ended stay as they were; a member that ends meanwhile is no error.
// A group whose every member has ended gives ErrFinished.
func (c *Client) CancelGroup(ctx context.Context, id string) (*tasks.GroupStatus, error) {
	gs, err := c.Group(ctx, id)
	if err != nil {
		return nil, err
	}
	if gs.State.Final() {
		return nil, fmt.Errorf("cancel group %s: every build: %w (%s)", id, ErrFinished, gs.State)
	}
	var errs []error
	for _, b := range gs.Builds {
		if b.State.Final() {
			continue
		}
		if _, err := c.Cancel(ctx, b.ID); err != nil && !errors.Is(err, ErrFinished) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("cancel group %s: %w", id, errors.Join(errs...))
	}
	return c.Group(ctx, id)
}
