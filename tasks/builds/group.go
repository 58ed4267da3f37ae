package builds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/rediskey"
)

// ErrGroupNotFound is returned for an unknown group ID.
var ErrGroupNotFound = fmt.Errorf("group: %w", ErrNotFound)

// CreateGroup stores a new group record. It fails if a group with that ID
// exists.
func (s *Store) CreateGroup(ctx context.Context, g *tasks.Group) error {
	data, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("encode group %s: %w", g.ID, err)
	}
	ok, err := s.rdb.SetNX(ctx, rediskey.Group(g.ID), data, 0).Result()
	if err != nil {
		return fmt.Errorf("store group %s: %w", g.ID, err)
	}
	if !ok {
		return fmt.Errorf("store group %s: %w", g.ID, ErrConflict)
	}
	return nil
}

// DeleteGroup removes a group record (not its members); used to undo a
// group submission.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	if err := s.rdb.Del(ctx, rediskey.Group(id)).Err(); err != nil {
		return fmt.Errorf("delete group %s: %w", id, err)
	}
	return nil
}

// Group returns the record of group id.
func (s *Store) Group(ctx context.Context, id string) (*tasks.Group, error) {
	if !tasks.ValidBuildID(id) {
		return nil, fmt.Errorf("group %q: %w", id, ErrGroupNotFound)
	}
	data, err := s.rdb.Get(ctx, rediskey.Group(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("group %s: %w", id, ErrGroupNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read group %s: %w", id, err)
	}
	var g tasks.Group
	if err := json.Unmarshal(data, &g); err != nil {
		return nil, fmt.Errorf("decode group %s: %w", id, err)
	}
	return &g, nil
}

// Members returns the records of group g's builds, in g's order, read in
// one round trip. A member whose record is gone is left out.
func (s *Store) Members(ctx context.Context, g *tasks.Group) ([]*tasks.Build, error) {
	if len(g.Builds) == 0 {
		return nil, nil
	}
	keys := make([]string, len(g.Builds))
	for i, id := range g.Builds {
		keys[i] = rediskey.Build(id)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("read builds of group %s: %w", g.ID, err)
	}
	out := make([]*tasks.Build, 0, len(vals))
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		b, err := decode(g.Builds[i], []byte(str))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// purgeGroupScript deletes a group record (KEYS[1]) only if none of its
// members' records (KEYS[2..]) exists; it returns 1 when it deleted it.
var purgeGroupScript = redis.NewScript(`
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
return redis.call('DEL', KEYS[1])
`)

// PurgeGroup removes the record of group id once none of its builds
// remains (retention removed the last), checking and deleting in one
// script so a member still there keeps it. It reports whether it removed
// the record; a group already gone is not an error.
func (s *Store) PurgeGroup(ctx context.Context, id string) (bool, error) {
	g, err := s.Group(ctx, id)
	if errors.Is(err, ErrGroupNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("purge %w", err)
	}
	keys := make([]string, 0, 1+len(g.Builds))
	keys = append(keys, rediskey.Group(id))
	for _, b := range g.Builds {
		keys = append(keys, rediskey.Build(b))
	}
	n, err := purgeGroupScript.Run(ctx, s.rdb, keys).Int()
	if err != nil {
		return false, fmt.Errorf("purge group %s: %w", id, err)
	}
	return n == 1, nil
}
