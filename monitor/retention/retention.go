// Package retention removes what fbs keeps of ended builds once it is old
// enough ([retention]): build records with their summaries, indexes, log
// streams and notification marks, the results fbs staged for them, and old
// mails of the outbox. `fbs monitor` and `fbs serve` run its Collector
// every [retention] interval, one at a time across hosts (a lease in
// Redis); `fbs gc` runs it once, or lists what would go (--dry-run).
//
// A multi-arch group's record goes with its last build: once none of its
// builds remains (builds.Store.ExpiredGroups, then PurgeGroup, which
// checks again in one script), with the sent marks of the group's mails.
//
// What it never removes: a queued or running build; a build of a
// multi-arch group one of whose builds is still queued or running; a
// staged directory without the marker fbs writes when it stages
// (staging.MarkerName), so nothing fbs did not make is deleted. A build
// whose staged directory could not be reached keeps its record, so the
// next run tries again; one whose directory has no marker (gone, or never
// fbs's) loses its record and leaves the directory alone.
package retention

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/monitor/notify"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/startstop"
	"github.com/fedora-fbs/fbs/worker/staging"
)

// Defaults and limits of Config.
const (
	// DefaultInterval is how often the collector runs by default.
	DefaultInterval = time.Hour
	// MinInterval is the shortest interval allowed: a run reads every
	// record older than the shortest age.
	MinInterval = time.Second
	// leaseName names the collector's lease (rediskey.NamedLease).
	leaseName = "retention"
	// leaseTTL is how long the lease outlives a collector that died.
	leaseTTL = time.Minute
)

// Kinds of what retention removes, as its metric labels them
// (fbs_retention_removed_total{kind}).
const (
	KindBuild  = "build"  // a build record with its summary and indexes
	KindLog    = "log"    // a build's log stream
	KindStaged = "staged" // a staged build directory
	KindMark   = "mark"   // a notification's sent mark
	KindMail   = "mail"   // a mail of the outbox
	KindGroup  = "group"  // a multi-arch group's record, once none of its builds remains
)

// CounterPrefix starts the service-wide counters (builds.Store.Count) of
// what retention removed: CounterPrefix + kind.
const CounterPrefix = "retention_removed_"

// Config configures a Collector. Zero values take the defaults named.
type Config struct {
	// Builds says which ended builds go.
	Builds builds.Retention
	// OutboxDir is the outbox ("" for none) and OutboxMaxAge how old a
	// mail in it gets (by its file time) before it goes (0: kept).
	OutboxDir    string
	OutboxMaxAge time.Duration
	// Staging is how staged directories are reached: [staging]'s
	// credentials, with Remote set (a staging URL is a request's).
	Staging staging.Options
	// Interval is how often Start's loop runs (default DefaultInterval, at
	// least MinInterval).
	Interval time.Duration
	// Holder names this collector in its lease (default host/pid/random).
	Holder string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives what each run removed (default slog.Default()).
	Logger *slog.Logger
}

func (c *Config) fill() error {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Interval < MinInterval {
		return fmt.Errorf("retention: interval %s is shorter than the minimum %s", c.Interval, MinInterval)
	}
	if c.Holder == "" {
		host, _ := os.Hostname()
		var r [6]byte
		_, _ = rand.Read(r[:]) // crypto/rand.Read never fails
		c.Holder = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(r[:]))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Staging.Remote = true
	return nil
}

// Collector removes what retention lets go.
type Collector struct {
	cfg   Config
	rdb   redis.UniversalClient
	store *builds.Store
	loop  startstop.Loop
}

// New returns a collector over rdb; Start runs it every interval, Collect
// once.
func New(rdb redis.UniversalClient, cfg Config) (*Collector, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	return &Collector{cfg: cfg, rdb: rdb, store: builds.NewStore(rdb)}, nil
}

// Plan is what a run removes.
type Plan struct {
	// Builds are the ended builds that go, oldest first.
	Builds []builds.Expired
	// Groups are the multi-arch groups whose record goes: none of their
	// builds remains once Builds are gone.
	Groups []builds.ExpiredGroup
	// Mails are the outbox mails that go.
	Mails []notify.Message
}

// Plan lists what retention lets go now, removing nothing.
func (c *Collector) Plan(ctx context.Context) (*Plan, error) {
	now := c.cfg.Now()
	exp, err := c.store.Expired(ctx, c.cfg.Builds, now)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	groups, err := c.store.ExpiredGroups(ctx, exp, now)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	p := &Plan{Builds: exp, Groups: groups}
	if c.cfg.OutboxDir != "" && c.cfg.OutboxMaxAge > 0 {
		msgs, err := notify.Outbox(c.cfg.OutboxDir)
		if err != nil {
			return nil, fmt.Errorf("retention: %w", err)
		}
		for _, m := range msgs {
			if fi, err := os.Stat(filepath.Join(c.cfg.OutboxDir, m.Name)); err == nil && now.Sub(fi.ModTime()) > c.cfg.OutboxMaxAge {
				p.Mails = append(p.Mails, m)
			}
		}
	}
	return p, nil
}

// Result counts what a run removed, by kind, and what it could not.
type Result struct {
	Removed map[string]int
	// Kept lists the builds that stay for now, each with why.
	Kept []string
}

// ErrBusy is returned by Collect while another collector holds the lease.
var ErrBusy = errors.New("another retention run holds the lease")

// Collect plans and removes under the lease, so one collector of several
// acts at a time. It returns ErrBusy when another holds the lease.
func (c *Collector) Collect(ctx context.Context) (*Result, error) {
	ok, err := c.store.HoldNamedLease(ctx, leaseName, c.cfg.Holder, leaseTTL)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	if !ok {
		return nil, ErrBusy
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = c.store.DropNamedLease(dctx, leaseName, c.cfg.Holder)
	}()
	p, err := c.Plan(ctx)
	if err != nil {
		return nil, err
	}
	return c.apply(ctx, p)
}

// apply removes what p lists, renewing the lease as it goes; it stops
// when the lease is lost.
func (c *Collector) apply(ctx context.Context, p *Plan) (*Result, error) {
	res := &Result{Removed: map[string]int{}}
	renewed := time.Now()
	defer c.count(ctx, res)
	// hold renews the lease when a third of it has passed and says why to
	// stop, if anything.
	hold := func() error {
		if time.Since(renewed) > leaseTTL/3 {
			ok, err := c.store.HoldNamedLease(ctx, leaseName, c.cfg.Holder, leaseTTL)
			if err != nil {
				return fmt.Errorf("retention: %w", err)
			}
			if !ok {
				return fmt.Errorf("retention: lost the lease: %w", ErrBusy)
			}
			renewed = time.Now()
		}
		return ctx.Err()
	}
	for _, e := range p.Builds {
		if err := hold(); err != nil {
			return res, err
		}
		if why := c.removeBuild(ctx, e, res); why != "" {
			res.Kept = append(res.Kept, e.Build.ID+": "+why)
		}
	}
	for _, g := range p.Groups {
		if err := hold(); err != nil {
			return res, err
		}
		c.removeGroup(ctx, g, res)
	}
	for _, m := range p.Mails {
		err := os.Remove(filepath.Join(c.cfg.OutboxDir, m.Name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			c.cfg.Logger.Warn("retention: remove outbox mail", "mail", m.Name, "err", err)
			continue
		}
		res.Removed[KindMail]++
	}
	return res, nil
}

// removeBuild removes one expired build, staged directory first; it
// returns why the build stays, or "".
func (c *Collector) removeBuild(ctx context.Context, e builds.Expired, res *Result) string {
	b := e.Build
	log := c.cfg.Logger.With("build", b.ID, "reason", e.Reason)
	if b.Staged != "" && b.Spec.Staging != "" {
		switch err := c.removeStaged(ctx, b.ID, b.Spec.Staging); {
		case err == nil:
			res.Removed[KindStaged]++
		case errors.Is(err, staging.ErrNoMarker):
			log.Info("retention: staged directory left alone", "why", err)
		default:
			log.Warn("retention: build kept: its staged directory could not be removed", "err", err)
			return fmt.Sprintf("staged directory: %v", err)
		}
	}
	pu, err := c.store.Purge(ctx, b.ID)
	switch {
	case errors.Is(err, builds.ErrNotFound):
		return "" // another run removed it
	case err != nil:
		log.Warn("retention: build kept", "err", err)
		return err.Error()
	}
	res.Removed[KindBuild]++
	if pu.Log {
		res.Removed[KindLog]++
	}
	n, err := notify.ForgetBuild(ctx, c.rdb, b.ID)
	if err != nil {
		log.Warn("retention: notification marks kept (they expire)", "err", err)
	}
	if n > 0 {
		res.Removed[KindMark] += int(n)
	}
	log.Debug("retention: build removed", "state", b.State)
	return ""
}

// removeGroup removes the record of an expired group and its mails'
// sent marks, unless one of its builds stayed (a build kept above, whose
// staged directory could not be removed, keeps its group too).
func (c *Collector) removeGroup(ctx context.Context, e builds.ExpiredGroup, res *Result) {
	log := c.cfg.Logger.With("group", e.Group.ID, "reason", e.Reason)
	removed, err := c.store.PurgeGroup(ctx, e.Group.ID)
	if err != nil {
		log.Warn("retention: group kept", "err", err)
		return
	}
	if !removed {
		return // a build of it stayed, or another run removed it
	}
	res.Removed[KindGroup]++
	n, err := notify.ForgetGroup(ctx, c.rdb, e.Group.ID)
	if err != nil {
		log.Warn("retention: notification marks of the group kept (they expire)", "err", err)
	}
	if n > 0 {
		res.Removed[KindMark] += int(n)
	}
	log.Debug("retention: group removed")
}

// removeStaged removes the staged directory of build id at url.
func (c *Collector) removeStaged(ctx context.Context, id, url string) error {
	st, err := staging.Open(ctx, url, c.cfg.Staging)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Remove(ctx, id)
}

// count adds what res removed to the service-wide counters.
func (c *Collector) count(ctx context.Context, res *Result) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for kind, n := range res.Removed {
		if n > 0 {
			_ = c.store.Count(cctx, CounterPrefix+kind, int64(n))
		}
	}
}

// Start runs Collect now and every interval until Stop or until ctx ends.
func (c *Collector) Start(ctx context.Context) {
	c.loop.Start(ctx, func(ctx context.Context, stop <-chan struct{}) {
		startstop.Every(ctx, stop, c.cfg.Interval, c.run)
	})
}

func (c *Collector) run(ctx context.Context) {
	res, err := c.Collect(ctx)
	switch {
	case errors.Is(err, ErrBusy):
		return
	case err != nil:
		c.cfg.Logger.Warn("retention run failed", "err", err)
		return
	}
	if len(res.Removed) > 0 || len(res.Kept) > 0 {
		c.cfg.Logger.Info("retention run", "removed", res.Removed, "kept", len(res.Kept))
	}
}

// Stop ends the loop once a run under way has finished. It is safe to
// call when Start never ran, and more than once.
func (c *Collector) Stop() { c.loop.Stop() }
