package builds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/rediskey"
)

// ErrNotFinal is returned by Purge for a build that is queued or running:
// retention never removes those.
var ErrNotFinal = errors.New("build has not ended")

// Retention says which ended builds are old enough to remove ([retention]).
type Retention struct {
	// MaxAge is how long after it finished a build in each final state is
	// kept; a state missing or 0 keeps its builds for ever.
	MaxAge map[tasks.State]time.Duration
	// PerSchedule keeps the newest PerSchedule builds of each schedule and
	// lets older ones go whatever their age; 0 means no limit.
	PerSchedule int
}

// Expired is an ended build retention removes, and why.
type Expired struct {
	Build *tasks.Build
	// Reason says which rule it fell under: "succeeded 720h0m0s ago"
	// or "schedule S keeps 5".
	Reason string
}

// readPage is how many records Expired reads with one MGET.
const readPage = 500

// Expired returns the ended builds that r lets go at now, oldest first.
// It never returns a queued or running build, nor a build of a multi-arch
// group one of whose builds is still queued or running.
func (s *Store) Expired(ctx context.Context, r Retention, now time.Time) ([]Expired, error) {
	busy, err := s.busyGroups(ctx)
	if err != nil {
		return nil, err
	}
	found := map[string]Expired{}
	keep := func(b *tasks.Build, reason string) {
		if !b.State.Final() || (b.Group != "" && busy[b.Group]) {
			return
		}
		if _, ok := found[b.ID]; !ok {
			found[b.ID] = Expired{Build: b, Reason: reason}
		}
	}
	for _, st := range []tasks.State{tasks.StateSucceeded, tasks.StateFailed, tasks.StateCancelled} {
		age := r.MaxAge[st]
		if age <= 0 {
			continue
		}
		cutoff := now.Add(-age)
		// IDs are ULIDs: a build created after the cutoff cannot have
		// finished before it, so only older IDs are read.
		var before ulid.ULID
		if err := before.SetTime(ulid.Timestamp(cutoff)); err != nil {
			return nil, fmt.Errorf("retention cutoff %s: %w", cutoff, err)
		}
		ids, err := s.rdb.ZRangeByLex(ctx, keyState(st), &redis.ZRangeBy{Min: "-", Max: "(" + before.String()}).Result()
		if err != nil {
			return nil, fmt.Errorf("list %s builds older than %s: %w", st, cutoff.Format(time.RFC3339), err)
		}
		err = s.eachRecord(ctx, ids, func(b *tasks.Build) {
			end := b.Finished
			if end.IsZero() {
				end = b.Created
			}
			if b.State == st && end.Before(cutoff) {
				keep(b, fmt.Sprintf("%s %s ago", st, now.Sub(end).Round(time.Second)))
			}
		})
		if err != nil {
			return nil, err
		}
	}
	if r.PerSchedule > 0 {
		if err := s.expiredBySchedule(ctx, r.PerSchedule, keep); err != nil {
			return nil, err
		}
	}
	out := make([]Expired, 0, len(found))
	for _, e := range found {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Expired) int { return strings.Compare(a.Build.ID, b.Build.ID) })
	return out, nil
}

// expiredBySchedule offers keep the builds of each schedule past its
// newest n, but not a build of a multi-arch group another build of which
// is among the newest n: a group's builds go together.
func (s *Store) expiredBySchedule(ctx context.Context, n int, keep func(*tasks.Build, string)) error {
	prefix := rediskey.BuildsOfSchedule("")
	iter := s.rdb.Scan(ctx, 0, rediskey.BuildsOfSchedule("*"), 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		schedule := strings.TrimPrefix(key, prefix)
		// Oldest first, all but the newest n.
		ids, err := s.rdb.ZRange(ctx, key, 0, int64(-n-1)).Result()
		if err != nil {
			return fmt.Errorf("list builds of schedule %s: %w", schedule, err)
		}
		if len(ids) == 0 {
			continue
		}
		newest, err := s.rdb.ZRange(ctx, key, int64(-n), -1).Result()
		if err != nil {
			return fmt.Errorf("list builds of schedule %s: %w", schedule, err)
		}
		kept := map[string]bool{}
		err = s.eachRecord(ctx, newest, func(b *tasks.Build) {
			if b.Group != "" {
				kept[b.Group] = true
			}
		})
		if err != nil {
			return err
		}
		reason := fmt.Sprintf("schedule %s keeps its newest %d", schedule, n)
		err = s.eachRecord(ctx, ids, func(b *tasks.Build) {
			if b.Group == "" || !kept[b.Group] {
				keep(b, reason)
			}
		})
		if err != nil {
			return err
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("list schedules with builds: %w", err)
	}
	return nil
}

// busyGroups returns the multi-arch groups that have a build queued or
// running: their builds all stay until the group has ended.
func (s *Store) busyGroups(ctx context.Context) (map[string]bool, error) {
	busy := map[string]bool{}
	for _, st := range []tasks.State{tasks.StateQueued, tasks.StateRunning} {
		ids, err := s.rdb.ZRange(ctx, keyState(st), 0, -1).Result()
		if err != nil {
			return nil, fmt.Errorf("list %s builds: %w", st, err)
		}
		err = s.eachRecord(ctx, ids, func(b *tasks.Build) {
			if b.Group != "" {
				busy[b.Group] = true
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return busy, nil
}

// ExpiredGroup is a multi-arch group whose record retention removes: none
// of its builds remains once the builds planned with it are gone.
type ExpiredGroup struct {
	Group *tasks.Group
	// Reason says why: "its last builds go with this run" or "none of its
	// 2 builds remains".
	Reason string
}

// groupGrace is how old a group must be before retention looks at it:
// client.SubmitGroup writes the group record before its members', so a
// younger group may still be being submitted.
const groupGrace = time.Hour

// ExpiredGroups returns the groups (older than an hour at now) none of
// whose builds remains once the builds of going are removed, oldest first.
// It reads every group record (a SCAN of the group keys and an MGET and
// one pipeline of EXISTS per page), so groups left behind by an older fbs,
// which removed builds but never their group, go too.
func (s *Store) ExpiredGroups(ctx context.Context, going []Expired, now time.Time) ([]ExpiredGroup, error) {
	gone := make(map[string]bool, len(going))
	for _, e := range going {
		gone[e.Build.ID] = true
	}
	cutoff := now.Add(-groupGrace)
	var out []ExpiredGroup
	check := func(keys []string) error {
		vals, err := s.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return fmt.Errorf("read %d group records: %w", len(keys), err)
		}
		var groups []*tasks.Group
		for i, v := range vals {
			str, ok := v.(string)
			if !ok {
				continue // removed meanwhile
			}
			var g tasks.Group
			if err := json.Unmarshal([]byte(str), &g); err != nil || !tasks.ValidBuildID(g.ID) || rediskey.Group(g.ID) != keys[i] {
				continue // a record fbs cannot read is left for a person
			}
			created := g.Created
			if id, err := ulid.ParseStrict(g.ID); created.IsZero() && err == nil {
				created = ulid.Time(id.Time())
			}
			if created.After(cutoff) {
				continue
			}
			groups = append(groups, &g)
		}
		if len(groups) == 0 {
			return nil
		}
		left := make([][]*redis.IntCmd, len(groups))
		_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, g := range groups {
				for _, id := range g.Builds {
					if !gone[id] {
						left[i] = append(left[i], p.Exists(ctx, rediskey.Build(id)))
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read which builds of %d groups remain: %w", len(groups), err)
		}
		for i, g := range groups {
			n := int64(0)
			for _, c := range left[i] {
				n += c.Val()
			}
			if n > 0 {
				continue
			}
			reason := fmt.Sprintf("none of its %d builds remains", len(g.Builds))
			if len(left[i]) < len(g.Builds) {
				reason = "its last builds go with this run"
			}
			out = append(out, ExpiredGroup{Group: g, Reason: reason})
		}
		return nil
	}
	var page []string
	iter := s.rdb.Scan(ctx, 0, rediskey.Group("*"), 1000).Iterator()
	for iter.Next(ctx) {
		if page = append(page, iter.Val()); len(page) == readPage {
			if err := check(page); err != nil {
				return nil, err
			}
			page = page[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	if len(page) > 0 {
		if err := check(page); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b ExpiredGroup) int { return strings.Compare(a.Group.ID, b.Group.ID) })
	return out, nil
}

// eachRecord reads the records of ids, readPage at a time, and calls fn
// with each that exists and decodes.
func (s *Store) eachRecord(ctx context.Context, ids []string, fn func(*tasks.Build)) error {
	for len(ids) > 0 {
		page := ids[:min(readPage, len(ids))]
		ids = ids[len(page):]
		keys := make([]string, len(page))
		for i, id := range page {
			keys[i] = rediskey.Build(id)
		}
		vals, err := s.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return fmt.Errorf("read %d build records: %w", len(page), err)
		}
		for i, v := range vals {
			str, ok := v.(string)
			if !ok {
				continue
			}
			b, err := decode(page[i], []byte(str))
			if err != nil {
				continue // a record fbs cannot read is left for a person
			}
			fn(b)
		}
	}
	return nil
}

// Purged is what Purge removed.
type Purged struct {
	// Build is the record as it was.
	Build *tasks.Build
	// Log is whether the build had a log stream.
	Log bool
}

// Purge removes an ended build: its record, summary, payload, log stream,
// lease and its entries in every index, in one transaction on the record
// as read, so a build that a worker took meanwhile is not touched. It
// returns ErrNotFound when the build is gone and ErrNotFinal for a build
// that has not ended.
func (s *Store) Purge(ctx context.Context, id string) (*Purged, error) {
	if !tasks.ValidBuildID(id) {
		return nil, fmt.Errorf("purge build %q: %w", id, ErrNotFound)
	}
	var purged *Purged
	key := rediskey.Build(id)
	txf := func(tx *redis.Tx) error {
		data, err := tx.Get(ctx, key).Bytes()
		if errors.Is(err, redis.Nil) {
			return fmt.Errorf("purge build %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("purge build %s: read record: %w", id, err)
		}
		b, err := decode(id, data)
		if err != nil {
			return err
		}
		if !b.State.Final() {
			return fmt.Errorf("purge build %s (%s): %w", id, b.State, ErrNotFinal)
		}
		var logDel *redis.IntCmd
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HIncrBy(ctx, rediskey.CountByState, string(b.State), -1)
			p.ZRem(ctx, rediskey.BuildsOf(b.Owner), id)
			p.ZRem(ctx, keyState(b.State), id)
			if b.Schedule != "" {
				p.ZRem(ctx, rediskey.BuildsOfSchedule(b.Schedule), id)
			}
			p.Del(ctx, key, rediskey.Summary(id), rediskey.Payload(id), rediskey.Lease(id))
			logDel = p.Del(ctx, LogKey(id))
			p.ZRem(ctx, rediskey.Builds, id)
			p.ZRem(ctx, rediskey.MailsDue, id)
			p.SRem(ctx, rediskey.Running, id)
			return nil
		})
		if err != nil {
			return err
		}
		purged = &Purged{Build: b, Log: logDel.Val() > 0}
		return nil
	}
	for range 5 {
		err := s.rdb.Watch(ctx, txf, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return purged, nil
	}
	return nil, fmt.Errorf("purge build %s: %w", id, ErrConflict)
}

// HoldNamedLease takes or renews the service-wide lease name for holder
// for ttl. It reports whether holder holds it now: false when another
// holder does.
func (s *Store) HoldNamedLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	n, err := holdLeaseScript.Run(ctx, s.rdb, []string{rediskey.NamedLease(name)}, holder, ttl.Milliseconds(), leaseIfFree).Int()
	if err != nil {
		return false, fmt.Errorf("hold lease %s: %w", name, err)
	}
	return n == 1, nil
}

// DropNamedLease lets the lease name go if holder holds it.
func (s *Store) DropNamedLease(ctx context.Context, name, holder string) error {
	err := dropLeaseScript.Run(ctx, s.rdb, []string{rediskey.NamedLease(name)}, holder).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("drop lease %s: %w", name, err)
	}
	return nil
}

// dropLeaseScript deletes the lease only if ARGV[1] holds it.
var dropLeaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)
