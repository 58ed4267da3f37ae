package builds

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/rediskey"
)

// WorkerInfo is what a worker tells about itself in its heartbeat.
type WorkerInfo struct {
	// ID is host/pid, unique while the worker runs.
	ID          string   `json:"id"`
	Host        string   `json:"host"`
	PID         int      `json:"pid"`
	Arch        string   `json:"arch"`
	Releases    []string `json:"releases"`
	Queues      []string `json:"queues"`
	Concurrency int      `json:"concurrency"`
	Builds      []string `json:"builds"`
	Draining    bool     `json:"draining,omitempty"`
	// Paused is set while the worker's host is paused (fbs worker pause):
	// it finishes what it runs and takes nothing new.
	Paused bool `json:"paused,omitempty"`
	// LowSpace is set while the worker paused itself because its data dir
	// is low on space, and says how low: it takes no builds until there is
	// room again. It is the worker's own and leaves Paused alone.
	LowSpace string `json:"low_space,omitempty"`
	// Capabilities says, for every build kind, whether this worker can
	// run it, with the tools and versions it found or the one it lacks.
	// A worker of an older fbs has none and is taken to run every kind.
	Capabilities []tasks.Capability `json:"capabilities,omitempty"`
	// Version is the fbs release and revision the worker runs
	// (tasks/version.String); empty from a worker older than the field.
	// fbs deploy waits for it to change after an upgrade.
	Version   string    `json:"version,omitempty"`
	Started   time.Time `json:"started"`
	Heartbeat time.Time `json:"heartbeat"`
}

// Heartbeat records that worker w is alive; it is forgotten if no
// heartbeat comes for ttl.
func (s *Store) Heartbeat(ctx context.Context, w *WorkerInfo, ttl time.Duration) error {
	data, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("encode worker %s: %w", w.ID, err)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, rediskey.Worker(w.ID), data, ttl)
		p.SAdd(ctx, rediskey.Workers, w.ID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("heartbeat of worker %s: %w", w.ID, err)
	}
	return nil
}

// Leave removes worker id at once (a clean shutdown).
func (s *Store) Leave(ctx context.Context, id string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, rediskey.Worker(id))
		p.SRem(ctx, rediskey.Workers, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove worker %s: %w", id, err)
	}
	return nil
}

// Workers returns the workers alive, by host; it forgets the dead ones.
func (s *Store) Workers(ctx context.Context) ([]*WorkerInfo, error) {
	ids, err := s.rdb.SMembers(ctx, rediskey.Workers).Result()
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	var out []*WorkerInfo
	for _, id := range ids {
		data, err := s.rdb.Get(ctx, rediskey.Worker(id)).Bytes()
		if err != nil {
			s.rdb.SRem(ctx, rediskey.Workers, id)
			continue
		}
		var w WorkerInfo
		if json.Unmarshal(data, &w) == nil {
			out = append(out, &w)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Runs reports whether worker w can run builds of kind, and if not, why.
func (w *WorkerInfo) Runs(kind tasks.BuildKind) (bool, string) {
	for _, c := range w.Capabilities {
		if c.Kind == kind {
			return c.Missing == "", c.Missing
		}
	}
	if len(w.Capabilities) == 0 {
		return true, ""
	}
	return false, "does not know " + string(kind) + " builds"
}

// State says in a few words whether the worker takes builds: "running",
// "draining", "paused" (fbs worker pause), or "paused: " and why it
// paused itself.
func (w *WorkerInfo) State() string {
	switch {
	case w.Draining:
		return "draining"
	case w.Paused && w.LowSpace != "":
		return "paused; " + w.LowSpace
	case w.Paused:
		return "paused"
	case w.LowSpace != "":
		return "paused: " + w.LowSpace
	}
	return "running"
}

// Unserved says why none of the live workers ws can take a build of kind
// for arch and release, or returns "" when one can. Draining and paused
// workers take nothing new, nor do workers low on space.
func Unserved(ws []*WorkerInfo, arch, release string, kind tasks.BuildKind) string {
	queue := tasks.QueueName(arch, release)
	var lacking, held []string
	serving := 0
	for _, w := range ws {
		if !slices.Contains(w.Queues, queue) {
			continue
		}
		if st := w.State(); st != "running" {
			held = append(held, w.Host+" "+st)
			continue
		}
		serving++
		ok, why := w.Runs(kind)
		if ok {
			return ""
		}
		lacking = append(lacking, w.Host+": "+why)
	}
	if serving == 0 {
		why := ""
		if len(held) > 0 {
			why = "; " + strings.Join(held, "; ")
		}
		return fmt.Sprintf("no live worker serves %s for Fedora %s (queue %s%s)", arch, release, queue, why)
	}
	return fmt.Sprintf("no live worker of %s can run %s builds (%s)", queue, kind, strings.Join(lacking, "; "))
}
