// Package schedules keeps fbs's periodic builds in Redis: each schedule
// (owner, cron expression, the spec and kickstarts it builds, paused flag,
// rebuild_age), its latest runs, and the fire slot it last ran for. Store
// is the only code that reads or writes those keys; their names, types and
// lifetimes are in tasks/rediskey.
//
// A schedule keeps its spec as the submitter's checked tasks.Spec and the
// kickstart files it was given, not as a prepared payload: each run
// prepares it again through the one submission path (tasks/submission), so
// the rules, the releases offered, the outbound-address policy and the
// kickstart named by URL or standard name are those of the day it runs (a
// nightly rawhide image picks up that day's kickstart). What runs the
// schedules is the monitor's runner (monitor/scheduler).
package schedules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/rediskey"
)

// MaxRuns is how many of a schedule's latest runs are kept.
const MaxRuns = 100

// ErrNotFound is an unknown schedule: a not_found error about its ID.
var ErrNotFound = tasks.Errorf(tasks.CodeNotFound, "id", "schedule not found")

// Schedule is a periodic build.
type Schedule struct {
	ID string `json:"id"`
	// Owner is the user the builds are submitted as, with their rights
	// at each run.
	Owner string `json:"owner"`
	// Cron is when it runs (tasks.ParseCron), in UTC.
	Cron string `json:"cron"`
	// Spec is the build, as checked when the schedule was made.
	Spec tasks.Spec `json:"spec"`
	// Kickstarts are kickstart files by name, for a spec whose kickstart
	// was uploaded (or, from the CLI, flattened from local files); empty
	// when the spec names its kickstart by URL or standard name.
	Kickstarts map[string]string `json:"kickstarts,omitempty"`
	// RebuildAge, when set, skips a run while the schedule's latest
	// succeeded build is younger than it (Nodepool's rebuild-age).
	RebuildAge time.Duration `json:"rebuild_age,omitempty"`
	// CheckRights is set for a schedule made through the web app or its
	// API: each run checks that the owner may still submit, with the
	// rights of their latest sign-in. A schedule made with `fbs schedule`
	// on a host that reaches Redis is trusted as `fbs submit` there is.
	CheckRights bool `json:"check_rights,omitempty"`
	// Paused schedules do not run.
	Paused bool `json:"paused,omitempty"`
	// Created is when the schedule was made.
	Created time.Time `json:"created"`
	// LastBuild is the ID of the latest build a run submitted, for a
	// spec of one arch.
	LastBuild string `json:"last_build,omitempty"`
	// LastGroup is the ID of the latest multi-arch group a run submitted,
	// for a spec naming several arches (arch=x86_64,aarch64). A run sets
	// one of LastBuild and LastGroup and clears the other.
	LastGroup string `json:"last_group,omitempty"`
}

// Files returns the kickstart files as the submission path takes them.
func (s *Schedule) Files() map[string][]byte {
	if len(s.Kickstarts) == 0 {
		return nil
	}
	out := make(map[string][]byte, len(s.Kickstarts))
	for k, v := range s.Kickstarts {
		out[k] = []byte(v)
	}
	return out
}

// Outcome is what one run did.
type Outcome string

// Run outcomes.
const (
	// OutcomeBuilt: the run submitted Run.Build, or the multi-arch group
	// Run.Group.
	OutcomeBuilt Outcome = "built"
	// OutcomeSkipped: the run built nothing, for Run.Reason.
	OutcomeSkipped Outcome = "skipped"
	// OutcomeFailed: the run could not submit, for Run.Reason (the spec
	// no longer passes the rules, the owner may not submit, Redis...).
	OutcomeFailed Outcome = "failed"
)

// Run is one fire of a schedule that was let through (one per slot).
type Run struct {
	// Time is when it ran; Slot is the fire time it ran for.
	Time time.Time `json:"time"`
	Slot time.Time `json:"slot"`
	// Outcome is what it did; Build the build it submitted, or Group the
	// multi-arch group (one build per arch, all or none); Reason why it
	// skipped or failed.
	Outcome Outcome `json:"outcome"`
	Build   string  `json:"build,omitempty"`
	Group   string  `json:"group,omitempty"`
	Reason  string  `json:"reason,omitempty"`
}

// String says what the run did, as lists show it.
func (r Run) String() string {
	switch r.Outcome {
	case OutcomeBuilt:
		if r.Group != "" {
			return "group " + r.Group
		}
		return "build " + r.Build
	case OutcomeSkipped:
		return "skipped: " + r.Reason
	}
	return "error: " + r.Reason
}

// Store reads and writes schedules.
type Store struct {
	rdb redis.UniversalClient
}

// NewStore returns a store over rdb; the caller owns rdb.
func NewStore(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

// Check checks a schedule's own fields, its cron expression and its
// rebuild_age, and returns every problem as tasks.Errors ("cron",
// "rebuild_age"). Its spec is checked by the submission path.
func Check(sc *Schedule) error {
	var errs tasks.Errors
	if _, err := tasks.ParseCron(sc.Cron); err != nil {
		var te *tasks.Error
		if !errors.As(err, &te) {
			return err
		}
		errs = append(errs, te)
	}
	if err := tasks.CheckRebuildAge(sc.RebuildAge); err != nil {
		var te *tasks.Error
		if !errors.As(err, &te) {
			return err
		}
		errs = append(errs, te)
	}
	return errs.Err()
}

// Create checks sc's own fields (Check), gives it an ID and its creation
// time, and stores it. The caller has checked its spec through the
// submission path and set its owner.
func (s *Store) Create(ctx context.Context, sc *Schedule) error {
	if err := Check(sc); err != nil {
		return err
	}
	if sc.Owner == "" {
		return errors.New("create schedule: no owner")
	}
	sc.ID, sc.Created = tasks.NewScheduleID(), time.Now().UTC()
	data, err := json.Marshal(sc)
	if err != nil {
		return fmt.Errorf("encode schedule %s: %w", sc.ID, err)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, rediskey.Schedule(sc.ID), data, 0)
		p.ZAdd(ctx, rediskey.Schedules, redis.Z{Member: sc.ID})
		p.ZAdd(ctx, rediskey.SchedulesOf(sc.Owner), redis.Z{Member: sc.ID})
		return nil
	})
	if err != nil {
		return fmt.Errorf("create schedule %s: %w", sc.ID, err)
	}
	return nil
}

// Get returns schedule id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Schedule, error) {
	if !tasks.ValidScheduleID(id) {
		return nil, ErrNotFound
	}
	data, err := s.rdb.Get(ctx, rediskey.Schedule(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read schedule %s: %w", id, err)
	}
	var sc Schedule
	if err := json.Unmarshal(data, &sc); err != nil {
		return nil, fmt.Errorf("decode schedule %s: %w", id, err)
	}
	return &sc, nil
}

// List returns owner's schedules, or everyone's when owner is "", oldest
// first.
func (s *Store) List(ctx context.Context, owner string) ([]*Schedule, error) {
	key := rediskey.Schedules
	if owner != "" {
		key = rediskey.SchedulesOf(owner)
	}
	ids, err := s.rdb.ZRange(ctx, key, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	out := make([]*Schedule, 0, len(ids))
	for _, id := range ids {
		sc, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// Update changes schedule id with fn in one transaction (retried while
// someone else changes it meanwhile) and returns the result.
func (s *Store) Update(ctx context.Context, id string, fn func(*Schedule) error) (*Schedule, error) {
	if !tasks.ValidScheduleID(id) {
		return nil, ErrNotFound
	}
	key := rediskey.Schedule(id)
	var out *Schedule
	for range 20 {
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			data, err := tx.Get(ctx, key).Bytes()
			if errors.Is(err, redis.Nil) {
				return ErrNotFound
			}
			if err != nil {
				return err
			}
			var sc Schedule
			if err := json.Unmarshal(data, &sc); err != nil {
				return fmt.Errorf("decode schedule %s: %w", id, err)
			}
			if err := fn(&sc); err != nil {
				return err
			}
			if data, err = json.Marshal(&sc); err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, data, 0)
				return nil
			})
			out = &sc
			return err
		}, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, ErrNotFound
			}
			return nil, fmt.Errorf("update schedule %s: %w", id, err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("update schedule %s: changed by others too often", id)
}

// SetPaused pauses or resumes schedule id.
func (s *Store) SetPaused(ctx context.Context, id string, paused bool) (*Schedule, error) {
	return s.Update(ctx, id, func(sc *Schedule) error {
		sc.Paused = paused
		return nil
	})
}

// Delete removes schedule id, its runs and its slot. Builds it made stay.
func (s *Store) Delete(ctx context.Context, id string) error {
	sc, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, rediskey.Schedule(id), rediskey.ScheduleRuns(id), rediskey.ScheduleSlot(id))
		p.ZRem(ctx, rediskey.Schedules, id)
		p.ZRem(ctx, rediskey.SchedulesOf(sc.Owner), id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete schedule %s: %w", id, err)
	}
	return nil
}

// claimScript moves a schedule's slot forward to ARGV[1] if it is later
// than the one recorded, and reports whether it did; the schedule must
// still exist (KEYS[2]).
var claimScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local cur = redis.call('GET', KEYS[1])
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`)

// Claim lets one run through for slot of schedule id: it reports true for
// the first caller with a slot later than any claimed before, false for
// every other (another scheduler's fire of the same slot, an older slot,
// a deleted schedule).
func (s *Store) Claim(ctx context.Context, id string, slot time.Time) (bool, error) {
	n, err := claimScript.Run(ctx, s.rdb, []string{rediskey.ScheduleSlot(id), rediskey.Schedule(id)}, slot.Unix()).Int()
	if err != nil {
		return false, fmt.Errorf("claim slot %s of schedule %s: %w", slot.UTC().Format(time.RFC3339), id, err)
	}
	return n == 1, nil
}

// AddRun records run r of schedule id, keeping the latest MaxRuns, and, when
// it built, makes its build the schedule's LastBuild (or its group the
// LastGroup).
func (s *Store) AddRun(ctx context.Context, id string, r Run) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode run of schedule %s: %w", id, err)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LPush(ctx, rediskey.ScheduleRuns(id), data)
		p.LTrim(ctx, rediskey.ScheduleRuns(id), 0, MaxRuns-1)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record run of schedule %s: %w", id, err)
	}
	if r.Outcome != OutcomeBuilt {
		return nil
	}
	_, err = s.Update(ctx, id, func(sc *Schedule) error {
		sc.LastBuild, sc.LastGroup = r.Build, r.Group
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		// Deleted while it ran: drop the run it just recorded.
		return s.rdb.Del(ctx, rediskey.ScheduleRuns(id)).Err()
	}
	return err
}

// Runs returns the latest limit runs of schedule id, newest first (limit
// <= 0: all kept).
func (s *Store) Runs(ctx context.Context, id string, limit int) ([]Run, error) {
	stop := int64(-1)
	if limit > 0 {
		stop = int64(limit) - 1
	}
	raw, err := s.rdb.LRange(ctx, rediskey.ScheduleRuns(id), 0, stop).Result()
	if err != nil {
		return nil, fmt.Errorf("read runs of schedule %s: %w", id, err)
	}
	out := make([]Run, 0, len(raw))
	for _, r := range raw {
		var run Run
		if err := json.Unmarshal([]byte(r), &run); err != nil {
			return nil, fmt.Errorf("decode run of schedule %s: %w", id, err)
		}
		out = append(out, run)
	}
	return out, nil
}
