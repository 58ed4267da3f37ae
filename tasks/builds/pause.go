package builds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks/rediskey"
)

// PauseKind says what a pause stops: a queue or a worker.
type PauseKind string

// What can be paused.
const (
	// PauseQueue pauses an asynq build queue (build:<arch>:<release>): no
	// worker takes its tasks; submissions are still accepted and wait.
	PauseQueue PauseKind = "queue"
	// PauseWorker pauses the workers of a host: they finish what they run
	// and take nothing new.
	PauseWorker PauseKind = "worker"
)

// Pause is one paused queue or worker, and who paused it, when and why.
type Pause struct {
	Kind PauseKind `json:"kind"`
	// Name is the queue name or the worker's host name.
	Name    string    `json:"name"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Message string    `json:"message,omitempty"`
}

// ErrNotPaused is returned by Resume for something that is not paused.
var ErrNotPaused = errors.New("not paused")

func pauseField(kind PauseKind, name string) string { return string(kind) + ":" + name }

// SetPause records p, replacing an earlier pause of the same queue or
// worker.
func (s *Store) SetPause(ctx context.Context, p Pause) error {
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode pause of %s %s: %w", p.Kind, p.Name, err)
	}
	if err := s.rdb.HSet(ctx, rediskey.Pauses, pauseField(p.Kind, p.Name), data).Err(); err != nil {
		return fmt.Errorf("pause %s %s: %w", p.Kind, p.Name, err)
	}
	return nil
}

// Resume deletes the pause of the queue or worker name; ErrNotPaused if
// there is none.
func (s *Store) Resume(ctx context.Context, kind PauseKind, name string) error {
	n, err := s.rdb.HDel(ctx, rediskey.Pauses, pauseField(kind, name)).Result()
	if err != nil {
		return fmt.Errorf("resume %s %s: %w", kind, name, err)
	}
	if n == 0 {
		return fmt.Errorf("resume %s %s: %w", kind, name, ErrNotPaused)
	}
	return nil
}

// Paused returns the pause of the queue or worker name, or nil.
func (s *Store) Paused(ctx context.Context, kind PauseKind, name string) (*Pause, error) {
	data, err := s.rdb.HGet(ctx, rediskey.Pauses, pauseField(kind, name)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pause of %s %s: %w", kind, name, err)
	}
	var p Pause
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("decode pause of %s %s: %w", kind, name, err)
	}
	return &p, nil
}

// Pauses returns every pause, queues first, each kind by name.
func (s *Store) Pauses(ctx context.Context) ([]Pause, error) {
	m, err := s.rdb.HGetAll(ctx, rediskey.Pauses).Result()
	if err != nil {
		return nil, fmt.Errorf("list pauses: %w", err)
	}
	out := make([]Pause, 0, len(m))
	for field, v := range m {
		var p Pause
		if err := json.Unmarshal([]byte(v), &p); err != nil {
			return nil, fmt.Errorf("decode pause %s: %w", field, err)
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Pause) int {
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}
