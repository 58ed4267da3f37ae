package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

// record is a worker's copy of a running build's record as it last wrote
// it, and the build's payload, so that it can write them again when Redis
// has lost them: a Redis without persistence that restarted, or a failover
// to a replica that had not got them. Builds, their log streams (see
// buildlog.Publisher) and then their results survive that.
type record struct {
	store   *builds.Store
	payload []byte
	log     *slog.Logger

	mu sync.Mutex
	b  *tasks.Build
}

func newRecord(store *builds.Store, b *tasks.Build, payload []byte, log *slog.Logger) *record {
	return &record{store: store, b: b, payload: payload, log: log}
}

// update is store.Update for the running build, also applied to the copy;
// a record Redis lost is written again from the copy with fn applied.
func (r *record) update(ctx context.Context, fn func(*tasks.Build) error) (*tasks.Build, error) {
	b, err := r.store.Update(ctx, r.id(), fn)
	if errors.Is(err, builds.ErrNotFound) {
		r.mu.Lock()
		c := *r.b
		r.mu.Unlock()
		if err := fn(&c); err != nil {
			return nil, err
		}
		r.set(&c)
		restored, err := r.restore(ctx)
		if err != nil {
			return nil, err
		}
		if !restored {
			// Written again meanwhile (by the lease keeper): update that.
			return r.update(ctx, fn)
		}
		return &c, nil
	}
	if err != nil {
		return nil, err
	}
	r.set(b)
	return b, nil
}

func (r *record) set(b *tasks.Build) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.b = b
}

// restore writes the record again if Redis has lost it; it reports whether
// it did.
func (r *record) restore(ctx context.Context) (bool, error) {
	r.mu.Lock()
	c := *r.b
	r.mu.Unlock()
	err := r.store.Create(ctx, &c, r.payload)
	if errors.Is(err, builds.ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	r.log.Warn("build record was lost from Redis; written again from the worker's copy", "build", c.ID)
	return true, nil
}

// spaceHandBacks is the record's count of hand-backs for space.
func (r *record) spaceHandBacks() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.b.SpaceHandBacks
}

func (r *record) id() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.b.ID
}
