// Package builds keeps build records in Redis beside the asynq tasks that
// carry them: one JSON record per build and its summary (tasks.Summary,
// written with it in one transaction, for lists), an index newest first,
// the set of running builds the reaper watches, the per-build lease of the
// worker that runs it, the payload needed to queue a build again, the log
// streams (log.go), the workers' heartbeats (workers.go) and the
// service-wide counters. Store is the only code that reads or writes those
// keys; their names, types and lifetimes are listed in tasks/rediskey.
package builds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/rediskey"
)

// ErrNotFound is returned for an unknown build ID.
var ErrNotFound = errors.New("build not found")

// ErrConflict is returned by Update when fn refuses the change because the
// record is not in a state that allows it (for example a stale worker).
var ErrConflict = errors.New("build record changed by someone else")

// keyState is the index of the builds in state st.
func keyState(st tasks.State) string { return rediskey.BuildsIn(string(st)) }

// LogKey is the Redis stream that carries the log lines of build id.
func LogKey(id string) string { return rediskey.Log(id) }

// Store reads and writes build records.
type Store struct {
	rdb redis.UniversalClient
}

// NewStore returns a store over rdb; the caller owns rdb.
func NewStore(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

// Create stores a new build record and its payload. It fails if a build with
// that ID exists.
func (s *Store) Create(ctx context.Context, b *tasks.Build, payload []byte) error {
	data, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("encode build %s: %w", b.ID, err)
	}
	sum, err := json.Marshal(b.Summary())
	if err != nil {
		return fmt.Errorf("encode summary of build %s: %w", b.ID, err)
	}
	ok, err := s.rdb.SetNX(ctx, rediskey.Build(b.ID), data, 0).Result()
	if err != nil {
		return fmt.Errorf("store build %s: %w", b.ID, err)
	}
	if !ok {
		return fmt.Errorf("store build %s: %w", b.ID, ErrConflict)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, rediskey.Payload(b.ID), payload, 0)
		// The summary is written with the indexes: no list can reach the
		// build before it has one.
		p.Set(ctx, rediskey.Summary(b.ID), sum, 0)
		// Score 0 for all: the indexes are ordered by ID, and IDs sort by
		// time. Owner and state indexes let filtered lists read only what
		// they return.
		p.ZAdd(ctx, rediskey.Builds, redis.Z{Score: 0, Member: b.ID})
		p.ZAdd(ctx, rediskey.BuildsOf(b.Owner), redis.Z{Score: 0, Member: b.ID})
		p.ZAdd(ctx, keyState(b.State), redis.Z{Score: 0, Member: b.ID})
		p.HIncrBy(ctx, rediskey.CountByState, string(b.State), 1)
		if b.State.Final() && b.Spec.Email != "" {
			// A record written again after Redis lost it may have ended.
			p.ZAdd(ctx, rediskey.MailsDue, redis.Z{Score: float64(time.Now().UnixMilli()), Member: b.ID})
		}
		if b.Schedule != "" {
			p.ZAdd(ctx, rediskey.BuildsOfSchedule(b.Schedule), redis.Z{Score: 0, Member: b.ID})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index build %s: %w", b.ID, err)
	}
	return nil
}

// Delete removes a build record entirely; used to undo a Create whose
// enqueue failed, so nothing is left half-submitted.
func (s *Store) Delete(ctx context.Context, id string) error {
	b, err := s.Get(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if b != nil {
			p.HIncrBy(ctx, rediskey.CountByState, string(b.State), -1)
			p.ZRem(ctx, rediskey.BuildsOf(b.Owner), id)
			p.ZRem(ctx, keyState(b.State), id)
			if b.Schedule != "" {
				p.ZRem(ctx, rediskey.BuildsOfSchedule(b.Schedule), id)
			}
		}
		p.Del(ctx, rediskey.Build(id), rediskey.Summary(id), rediskey.Payload(id), rediskey.Lease(id), LogKey(id))
		p.ZRem(ctx, rediskey.Builds, id)
		p.ZRem(ctx, rediskey.MailsDue, id)
		p.SRem(ctx, rediskey.Running, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete build %s: %w", id, err)
	}
	return nil
}

// Get returns the record of build id.
func (s *Store) Get(ctx context.Context, id string) (*tasks.Build, error) {
	if !tasks.ValidBuildID(id) {
		return nil, fmt.Errorf("build %q: %w", id, ErrNotFound)
	}
	data, err := s.rdb.Get(ctx, rediskey.Build(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("build %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read build %s: %w", id, err)
	}
	return decode(id, data)
}

func decode(id string, data []byte) (*tasks.Build, error) {
	var b tasks.Build
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("decode build %s: %w", id, err)
	}
	return &b, nil
}

// Payload returns the encoded task payload of build id.
func (s *Store) Payload(ctx context.Context, id string) ([]byte, error) {
	data, err := s.rdb.Get(ctx, rediskey.Payload(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("payload of build %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read payload of build %s: %w", id, err)
	}
	return data, nil
}

// Update applies fn to the record of build id atomically: if someone else
// changes the record meanwhile, fn runs again on the new record. fn returns
// an error to leave the record unchanged; Update returns that error.
func (s *Store) Update(ctx context.Context, id string, fn func(*tasks.Build) error) (*tasks.Build, error) {
	key := rediskey.Build(id)
	var out *tasks.Build
	txf := func(tx *redis.Tx) error {
		data, err := tx.Get(ctx, key).Bytes()
		if errors.Is(err, redis.Nil) {
			return fmt.Errorf("build %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("read build %s: %w", id, err)
		}
		b, err := decode(id, data)
		if err != nil {
			return err
		}
		was := b.State
		if err := fn(b); err != nil {
			return err
		}
		next, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("encode build %s: %w", id, err)
		}
		sum, err := json.Marshal(b.Summary())
		if err != nil {
			return fmt.Errorf("encode summary of build %s: %w", id, err)
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			// Record and summary change in one transaction, on the
			// record as read (WATCH): they never disagree.
			p.Set(ctx, key, next, 0)
			p.Set(ctx, rediskey.Summary(id), sum, 0)
			// A build waiting for a transfer retry holds no lease: it is
			// not for the reaper.
			if b.State == tasks.StateRunning && b.Waiting == "" {
				p.SAdd(ctx, rediskey.Running, id)
			} else {
				p.SRem(ctx, rediskey.Running, id)
			}
			if was != b.State {
				p.HIncrBy(ctx, rediskey.CountByState, string(was), -1)
				p.HIncrBy(ctx, rediskey.CountByState, string(b.State), 1)
				p.ZRem(ctx, keyState(was), id)
				p.ZAdd(ctx, keyState(b.State), redis.Z{Score: 0, Member: id})
			}
			if !was.Final() && b.State.Final() && b.Spec.Email != "" {
				// The completion mail is queued after this write, by
				// its writer; until then the build is due one, so a
				// writer that dies in between does not lose it.
				p.ZAdd(ctx, rediskey.MailsDue, redis.Z{Score: float64(time.Now().UnixMilli()), Member: id})
			}
			return nil
		})
		out = b
		return err
	}
	for i := 0; i < 50; i++ {
		err := s.rdb.Watch(ctx, txf, key)
		if errors.Is(err, redis.TxFailedErr) {
			// Another writer won: wait a jittered, growing moment so that
			// writers that keep colliding on a busy host spread out
			// instead of retrying in lock step.
			if err := sleepCtx(ctx, retryWait(i)); err != nil {
				return nil, fmt.Errorf("update build %s: %w", id, err)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, fmt.Errorf("update build %s: %w", id, ErrConflict)
}

// retryWait is how long the n-th retry of a collided update waits: a
// random part of 100 µs doubled per retry, at most 25.6 ms.
func retryWait(n int) time.Duration {
	return time.Duration(rand.Int64N(int64(100*time.Microsecond) << min(n, 8)))
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MailQueued records that the completion mail of build id is queued (or
// that it has none to queue): the build is no longer due one.
func (s *Store) MailQueued(ctx context.Context, id string) error {
	if err := s.rdb.ZRem(ctx, rediskey.MailsDue, id).Err(); err != nil {
		return fmt.Errorf("mark completion mail of build %s queued: %w", id, err)
	}
	return nil
}

// MailsDue returns up to limit builds that ended before before and whose
// completion mail is not known to be queued, oldest first.
func (s *Store) MailsDue(ctx context.Context, before time.Time, limit int64) ([]string, error) {
	ids, err := s.rdb.ZRangeByScore(ctx, rediskey.MailsDue, &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(before.UnixMilli(), 10), Count: limit}).Result()
	if err != nil {
		return nil, fmt.Errorf("list builds due a completion mail: %w", err)
	}
	return ids, nil
}

// ListOptions selects builds for List.
type ListOptions struct {
	// Before lists builds older than this build ID (cursor); "" starts at the newest.
	Before string
	// Limit caps the number of builds returned (default 50).
	Limit int
	// Owner, when set, lists only that owner's builds (from its index).
	Owner string
	// State, when set, lists only builds in that state (from its index).
	State tasks.State
	// Match, when set, keeps only the builds for which it returns true.
	Match func(*tasks.Build) bool
}

// List returns builds newest first. Owner and State read their own index,
// so a list filtered by them costs what it returns; Match is checked on
// every record read.
func (s *Store) List(ctx context.Context, opts ListOptions) ([]*tasks.Build, error) {
	var out []*tasks.Build
	read := scanRead{key: rediskey.Build, readAhead: opts.Match != nil || (opts.Owner != "" && opts.State != "")}
	err := s.scan(ctx, opts, read, func(id, raw string) (bool, error) {
		b, err := decode(id, []byte(raw))
		if err != nil {
			return false, err
		}
		if (opts.State != "" && b.State != opts.State) || (opts.Owner != "" && b.Owner != opts.Owner) {
			return false, nil
		}
		if opts.Match != nil && !opts.Match(b) {
			return false, nil
		}
		out = append(out, b)
		return true, nil
	})
	return out, err
}

// Page is one page of a listing as the stored JSON of its records, for
// callers that pass records on unchanged (the web API) or decode them in
// one go.
type Page struct {
	// Records is a JSON array of the records, newest first, each exactly
	// as stored.
	Records json.RawMessage
	// Count is the number of records in Records.
	Count int
	// Last is the ID of the oldest record in Records ("" when it is
	// empty): the cursor of the next page.
	Last string
}

// ListJSON is List for callers that pass records on as JSON (the web API):
// the records come as one JSON array, each as stored, in one allocation of
// the exact size. It takes no Match and at most one of Owner and State, the
// filters an index answers. A build that changes state between the read of
// the state index and the read of its record is left out, as List leaves
// it out: a page never disagrees with its filter.
func (s *Store) ListJSON(ctx context.Context, opts ListOptions) (*Page, error) {
	return s.listJSON(ctx, opts, rediskey.Build, nil)
}

// ListSummaries is ListJSON for summaries (tasks.Summary): a page of them
// is about a quarter of the bytes of a page of records.
func (s *Store) ListSummaries(ctx context.Context, opts ListOptions) (*Page, error) {
	return s.listJSON(ctx, opts, rediskey.Summary, s.summaryOfRecord)
}

// summaryOfRecord makes the summary of a build stored before summaries
// were: lists fall back to it where a summary is missing.
func (s *Store) summaryOfRecord(ctx context.Context, id string) (string, bool, error) {
	b, err := s.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return "", false, nil // deleted meanwhile
	}
	if err != nil {
		return "", false, err
	}
	sum, err := json.Marshal(b.Summary())
	if err != nil {
		return "", false, fmt.Errorf("encode summary of build %s: %w", id, err)
	}
	return string(sum), true, nil
}

func (s *Store) listJSON(ctx context.Context, opts ListOptions, key func(string) string, missing func(context.Context, string) (string, bool, error)) (*Page, error) {
	if opts.Match != nil || (opts.Owner != "" && opts.State != "") {
		return nil, errors.New("list builds: ListJSON filters by one index only")
	}
	var (
		recs []string
		last string
		size = len("[]")
	)
	err := s.scan(ctx, opts, scanRead{key: key, missing: missing}, func(id, raw string) (bool, error) {
		if opts.State != "" {
			// Owners never change and the full index holds every build;
			// only a state can move under the index.
			var b struct {
				State tasks.State `json:"state"`
			}
			if err := json.Unmarshal([]byte(raw), &b); err != nil {
				return false, fmt.Errorf("decode build %s: %w", id, err)
			}
			if b.State != opts.State {
				return false, nil
			}
		}
		recs = append(recs, raw)
		last = id
		size += len(raw) + 1
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 0, size)
	buf = append(buf, '[')
	for i, r := range recs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, r...)
	}
	buf = append(buf, ']')
	return &Page{Records: buf, Count: len(recs), Last: last}, nil
}

// bounds returns the index opts read, its upper bound in ZRANGE lex
// syntax and the page size.
func (opts ListOptions) bounds() (index, max string, limit int, err error) {
	limit = opts.Limit
	if limit <= 0 {
		limit = 50
	}
	max = "+"
	if opts.Before != "" {
		if !tasks.ValidBuildID(opts.Before) {
			return "", "", 0, fmt.Errorf("list builds: bad cursor %q", opts.Before)
		}
		max = "(" + opts.Before
	}
	index = rediskey.Builds
	switch {
	case opts.Owner != "":
		index = rediskey.BuildsOf(opts.Owner)
	case opts.State != "":
		index = keyState(opts.State)
	}
	return index, max, limit, nil
}

// scanRead says what scan reads for each build ID of an index.
type scanRead struct {
	// key is the key of what to read (the record, the summary).
	key func(id string) string
	// missing, when set, is asked for a value the key does not hold; it
	// reports false for a build that is gone. Unset, such builds are
	// skipped (deleted since the index was read).
	missing func(ctx context.Context, id string) (string, bool, error)
	// readAhead reads larger pages, for callers that drop values.
	readAhead bool
}

// scan walks the index opts names, newest first, handing what read names
// of each build to keep until it kept opts.Limit of them.
func (s *Store) scan(ctx context.Context, opts ListOptions, read scanRead, keep func(id, raw string) (bool, error)) error {
	index, max, limit, err := opts.bounds()
	if err != nil {
		return err
	}
	kept := 0
	for kept < limit {
		count := int64(limit - kept)
		if read.readAhead {
			count = 200
		}
		ids, err := s.rdb.ZRevRangeByLex(ctx, index, &redis.ZRangeBy{Max: max, Min: "-", Count: count}).Result()
		if err != nil {
			return fmt.Errorf("list builds: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		max = "(" + ids[len(ids)-1]
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = read.key(id)
		}
		vals, err := s.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return fmt.Errorf("list builds: %w", err)
		}
		for i, v := range vals {
			str, ok := v.(string)
			if !ok && read.missing != nil {
				if str, ok, err = read.missing(ctx, ids[i]); err != nil {
					return err
				}
			}
			if !ok {
				continue // deleted meanwhile
			}
			ok, err := keep(ids[i], str)
			if err != nil {
				return err
			}
			if ok {
				if kept++; kept == limit {
					return nil
				}
			}
		}
	}
	return nil
}

// Running returns the IDs of the builds in state running.
func (s *Store) Running(ctx context.Context) ([]string, error) {
	ids, err := s.rdb.SMembers(ctx, rediskey.Running).Result()
	if err != nil {
		return nil, fmt.Errorf("list running builds: %w", err)
	}
	return ids, nil
}

// Waiting returns the IDs of the builds running but waiting for a
// transfer retry (Build.Waiting), which the running set leaves out.
func (s *Store) Waiting(ctx context.Context) ([]string, error) {
	all, err := s.rdb.ZRange(ctx, keyState(tasks.StateRunning), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list waiting builds: %w", err)
	}
	if len(all) == 0 {
		return nil, nil
	}
	in, err := s.rdb.SMIsMember(ctx, rediskey.Running, toAny(all)...).Result()
	if err != nil {
		return nil, fmt.Errorf("list waiting builds: %w", err)
	}
	var ids []string
	for i, id := range all {
		if !in[i] {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func toAny(ss []string) []any {
	a := make([]any, len(ss))
	for i, s := range ss {
		a[i] = s
	}
	return a
}

// Queued returns the IDs of the builds in state queued, oldest first.
func (s *Store) Queued(ctx context.Context) ([]string, error) {
	ids, err := s.rdb.ZRange(ctx, keyState(tasks.StateQueued), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list queued builds: %w", err)
	}
	return ids, nil
}

// HoldLease sets or renews the lease of build id for holder. The worker
// running a build renews it while it runs; a running build without a lease
// has lost its worker.
func (s *Store) HoldLease(ctx context.Context, id, holder string, ttl time.Duration) error {
	if err := s.rdb.Set(ctx, rediskey.Lease(id), holder, ttl).Err(); err != nil {
		return fmt.Errorf("renew lease of build %s: %w", id, err)
	}
	return nil
}

// ErrAttemptOver is returned by the writes fenced by attempt
// (HoldLeaseOf, AppendLogTextOf) when the build's record says that attempt
// is no longer running: re-queued by the reaper, taken by a later attempt,
// or ended.
var ErrAttemptOver = errors.New("build attempt is over")

// HoldLeaseOf is HoldLease for the worker running attempt of build id: it
// renews nothing and returns ErrAttemptOver once the record says the
// attempt is over, so a worker whose build was reaped while it could not
// reach Redis never takes the lease back (and keeps running beside the
// next attempt). A record Redis lost does not stop it: the worker writes
// the record again.
func (s *Store) HoldLeaseOf(ctx context.Context, id, holder string, attempt int, ttl time.Duration) error {
	ok, err := holdLeaseScript.Run(ctx, s.rdb, []string{rediskey.Lease(id), rediskey.Build(id)}, holder, ttl.Milliseconds(), leaseTake, attempt).Int()
	if err != nil {
		return fmt.Errorf("renew lease of build %s: %w", id, err)
	}
	if ok == 0 {
		return fmt.Errorf("renew lease of build %s attempt %d: %w", id, attempt, ErrAttemptOver)
	}
	return nil
}

// DropLease removes the lease of build id.
func (s *Store) DropLease(ctx context.Context, id string) error {
	if err := s.rdb.Del(ctx, rediskey.Lease(id)).Err(); err != nil {
		return fmt.Errorf("drop lease of build %s: %w", id, err)
	}
	return nil
}

// LeaseHolder returns who holds the lease of build id, or "" if nobody does.
func (s *Store) LeaseHolder(ctx context.Context, id string) (string, error) {
	h, err := s.rdb.Get(ctx, rediskey.Lease(id)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read lease of build %s: %w", id, err)
	}
	return h, nil
}

// Lock takes a short exclusive lock named name for ttl; it reports whether
// this caller got it. Reapers on several hosts use it so one acts per build.
func (s *Store) Lock(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, rediskey.Lock(name), "1", ttl).Result()
	if err != nil {
		return false, fmt.Errorf("take lock %s: %w", name, err)
	}
	return ok, nil
}

// CountByState returns how many builds are in each state.
func (s *Store) CountByState(ctx context.Context) (map[tasks.State]int64, error) {
	m, err := s.rdb.HGetAll(ctx, rediskey.CountByState).Result()
	if err != nil {
		return nil, fmt.Errorf("count builds: %w", err)
	}
	out := map[tasks.State]int64{}
	for k, v := range m {
		var n int64
		fmt.Sscan(v, &n)
		out[tasks.State(k)] = n
	}
	return out, nil
}

// Count adds n to the service-wide counter name (log lines published,
// emails sent...), kept in Redis so every host's work adds up.
func (s *Store) Count(ctx context.Context, name string, n int64) error {
	if err := s.rdb.HIncrBy(ctx, rediskey.Counters, name, n).Err(); err != nil {
		return fmt.Errorf("count %s: %w", name, err)
	}
	return nil
}

// Counters returns the service-wide counters.
func (s *Store) Counters(ctx context.Context) (map[string]int64, error) {
	m, err := s.rdb.HGetAll(ctx, rediskey.Counters).Result()
	if err != nil {
		return nil, fmt.Errorf("read counters: %w", err)
	}
	out := map[string]int64{}
	for k, v := range m {
		var n int64
		fmt.Sscan(v, &n)
		out[k] = n
	}
	return out, nil
}

// CounterLogLines counts log lines published to the streams.
const CounterLogLines = "log_lines_published"
