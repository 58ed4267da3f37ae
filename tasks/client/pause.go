package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

// PauseQueue pauses the build queue q (build:<arch>:<release>) for by,
// with message: asynq's queue pause (no worker takes its tasks; new
// submissions are accepted and wait) and the record of who, when and why
// that /status shows. Pausing a paused queue replaces its record.
func (c *Client) PauseQueue(ctx context.Context, q, by, message string) (*builds.Pause, error) {
	if err := errors.Join(tasks.CheckPauseQueue(q), tasks.CheckPauseMessage(message)); err != nil {
		return nil, err
	}
	p := builds.Pause{Kind: builds.PauseQueue, Name: q, By: by, At: time.Now().UTC().Truncate(time.Second), Message: message}
	// The record first: a queue paused in asynq always says why.
	if err := c.store.SetPause(ctx, p); err != nil {
		return nil, err
	}
	if err := c.inspect.PauseQueue(q); err != nil && !strings.Contains(err.Error(), "already paused") {
		return nil, fmt.Errorf("pause queue %s: %w", q, err)
	}
	return &p, nil
}

// ResumeQueue lets workers take the tasks of queue q again; the tasks that
// waited run in their order. It returns a not-found error when q is not
// paused.
func (c *Client) ResumeQueue(ctx context.Context, q string) error {
	if err := tasks.CheckPauseQueue(q); err != nil {
		return err
	}
	unpaused := true
	if err := c.inspect.UnpauseQueue(q); err != nil {
		if !strings.Contains(err.Error(), "not paused") {
			return fmt.Errorf("resume queue %s: %w", q, err)
		}
		unpaused = false
	}
	err := c.store.Resume(ctx, builds.PauseQueue, q)
	if errors.Is(err, builds.ErrNotPaused) {
		if unpaused {
			return nil
		}
		return tasks.Errorf(tasks.CodeNotFound, tasks.FieldPauseQueue, "queue %s is not paused", q)
	}
	return err
}

// PauseWorker pauses the workers of host for by, with message: each
// finishes the builds it runs and takes nothing new until ResumeWorker.
// A worker sees the pause within a second or two and says so in its
// heartbeat (builds.WorkerInfo.Paused).
func (c *Client) PauseWorker(ctx context.Context, host, by, message string) (*builds.Pause, error) {
	if err := errors.Join(tasks.CheckPauseWorker(host), tasks.CheckPauseMessage(message)); err != nil {
		return nil, err
	}
	p := builds.Pause{Kind: builds.PauseWorker, Name: host, By: by, At: time.Now().UTC().Truncate(time.Second), Message: message}
	if err := c.store.SetPause(ctx, p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ResumeWorker lets the workers of host take builds again. It returns a
// not-found error when host is not paused.
func (c *Client) ResumeWorker(ctx context.Context, host string) error {
	if err := tasks.CheckPauseWorker(host); err != nil {
		return err
	}
	err := c.store.Resume(ctx, builds.PauseWorker, host)
	if errors.Is(err, builds.ErrNotPaused) {
		return tasks.Errorf(tasks.CodeNotFound, tasks.FieldPauseWorker, "worker %s is not paused", host)
	}
	return err
}
