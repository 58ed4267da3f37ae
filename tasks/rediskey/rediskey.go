// Package rediskey is the Redis key schema of fbs: every key fbs writes is
// named here, with what it holds and how long it lives, and nowhere else.
// The packages that read and write the keys (their store types) take the
// names from here:
//
//	tasks/builds     builds.Store: records, indexes, leases, logs, workers, counters,
//	                 pauses, service-wide leases
//	monitor/notify   the notification ledger: sent marks and send locks
//	monitor/metrics  metrics.Recorder: duration histograms
//	webapp/auth      auth.Sessions, auth.Tokens, auth.Users, auth.WebSecret, auth.RateLimits, auth.Links
//	tasks/schedules  schedules.Store: schedules, their runs and fire slots
//
// A test walks the source tree and fails on an "fbs:" key literal outside
// this file, so a new key is added here, with its type and lifetime, or not
// at all.
//
// Besides these keys, asynq keeps its queues, tasks and servers under
// "asynq:*" (asynq's own schema; fbs reaches it only through asynq's client,
// server and inspector). The asynq task type names "fbs:build",
// "fbs:transfer", "fbs:notify" and "fbs:schedule" (tasks.TypeBuild...)
// name tasks, not keys.
//
// Build IDs, token and session hashes in key names are checked or made by
// fbs (tasks.ValidBuildID, hex SHA-256), so a key name never carries a
// pattern or a separator it did not put there itself. Owner and user names
// are the one exception; they come from the sign-in provider or the local
// account and are only ever used as a whole key suffix.
package rediskey

import (
	"strconv"
	"time"
)

// Prefix starts every key fbs owns.
const Prefix = "fbs:"

// Build records (tasks/builds). A record lives until the build is deleted
// (only an undone submission is); none of these keys expires.
const (
	// Builds is a sorted set of every build ID, all with score 0 so that
	// it is ordered by ID, and so by submission time (IDs are ULIDs).
	Builds = "fbs:builds"
	// Running is a set of the IDs of the builds in state running and not
	// waiting for a transfer retry: the builds the reaper watches.
	Running = "fbs:builds:running"
	// CountByState is a hash of state name to the number of builds in it.
	CountByState = "fbs:builds:bystate"
	// Counters is a hash of counter name to a service-wide count (log
	// lines published, mails sent...), added to by every host.
	Counters = "fbs:stats"
)

// Build is a string: the JSON of the tasks.Build record of build id.
func Build(id string) string { return "fbs:build:" + id }

// Summary is a string: the JSON of the tasks.Summary of build id, written
// in the same transaction as its record.
func Summary(id string) string { return "fbs:summary:" + id }

// Payload is a string: the JSON tasks.Payload build id was queued with,
// kept to queue it again after its worker was lost.
func Payload(id string) string { return "fbs:payload:" + id }

// BuildsOf is a sorted set of the IDs of owner's builds, as Builds.
func BuildsOf(owner string) string { return "fbs:builds:owner:" + owner }

// BuildsIn is a sorted set of the IDs of the builds in state, as Builds;
// a build moves between these sets with its record.
func BuildsIn(state string) string { return "fbs:builds:state:" + state }

// Log is a stream: the log lines of build id in runs, one entry per run,
// then an end marker (the format is in tasks/builds/log.go). It never
// expires; the worker may trim it to a number of lines (worker.Config
// LogMaxLen, 0 by default: kept whole), and it is deleted with the build.
func Log(id string) string { return "fbs:log:" + id }

// Lease is a string: the holder of the lease on build id ("host/pid/task
// ID" of the worker running it). Its TTL is the lease TTL; the worker renews it while
// the build runs and deletes it when the build ends, so a running build
// without it has lost its worker.
func Lease(id string) string { return "fbs:lease:" + id }

// Lock is a string "1": a short exclusive lock, taken with SET NX and a
// TTL of seconds, so that one reaper of several acts on a build
// ("reap:<id>"). It is never deleted; it expires.
func Lock(name string) string { return "fbs:lock:" + name }

// Workers is a set of the IDs (host/pid) of the workers that sent a
// heartbeat; an ID whose Worker key has expired is removed when read.
const Workers = "fbs:workers"

// Worker is a string: the JSON builds.WorkerInfo of worker id, with the
// heartbeat TTL, so a worker that stops beating disappears. A clean
// shutdown deletes it.
func Worker(id string) string { return Workers + ":" + id }

// Notifications (monitor/notify). mail is the notification task ID,
// "<build>:<kind>".

// NotifySent is a string: the RFC 3339 time mail was accepted by the mail
// server (or written to the outbox). It lives NotifySentTTL, well past the
// task's asynq retention, so a task run again never sends twice.
func NotifySent(mail string) string { return "fbs:notify:sent:" + mail }

// NotifySentTTL is how long a NotifySent key lives.
const NotifySentTTL = 30 * 24 * time.Hour

// MailsDue is a sorted set of the IDs of ended builds whose completion
// mail is not known to be queued yet, scored by the Unix time in
// milliseconds their final state was stored (tasks/builds adds an ID in
// the transaction that stores the final state; tasks/client removes it
// once the mail task is queued; the reaper queues the mail of an ID left
// there, whose writer died or lost Redis in between). An ID leaves it
// with its build.
const MailsDue = "fbs:notify:due"

// NotifyLock is a string: a random token of the run sending mail, taken
// with SET NX and a TTL of the send timeout plus a minute, and deleted by
// its holder (only if it still holds the token) once the send is over.
func NotifyLock(mail string) string { return "fbs:notify:lock:" + mail }

// Duration histograms (monitor/metrics), hashes of HINCRBY fields, one per
// bucket ("<series>/le=<bound>") plus "<series>/count" and
// "<series>/sum_ms". They never expire.
const (
	// BuildSeconds holds the build durations, series "<type>/<state>".
	BuildSeconds = "fbs:metrics:build_seconds"
	// StageSeconds holds the stage durations, series "<type>/<stage>".
	StageSeconds = "fbs:metrics:stage_seconds"
)

// Web app (webapp/auth). hash is the hex SHA-256 of a secret: no secret is
// stored as such, so a dump of Redis hands out no session or token.

// Session is a string: the JSON auth.Session of the browser whose cookie
// hashes to hash. Its TTL is the session lifetime ([web] session_ttl);
// signing out deletes it.
func Session(hash string) string { return "fbs:web:session:" + hash }

// SignInState is a string: the JSON of the sign-in in progress (nonce,
// PKCE verifier, page to return to) whose OIDC state value hashes to hash. Its
// TTL is the time allowed to sign in; the callback reads and deletes it
// (GETDEL), so a state is used once.
func SignInState(hash string) string { return "fbs:web:oidcstate:" + hash }

// Token is a string: the JSON auth.TokenInfo of the API token that hashes
// to hash. It has no TTL while valid (an expiry date is in the JSON); a
// revoked token is kept RevokedTokenTTL.
func Token(hash string) string { return "fbs:web:token:" + hash }

// RevokedTokenTTL is how long a revoked token is remembered, to tell its
// user "revoked" rather than "unknown".
const RevokedTokenTTL = 30 * 24 * time.Hour

// TokensOf is a hash of the token ID (first 12 hex digits of the hash) to
// the token hash of each live token of user; revoking removes the field.
func TokensOf(user string) string { return "fbs:web:tokens:" + user }

// User is a string: the JSON auth.Rights of user as of their latest
// sign-in (name, email, groups, admin and submit rights, when). Each
// sign-in overwrites it; API tokens act with these rights, never with
// rights of their own. Its TTL is the longest a token made in a session of
// that sign-in can live ([web] token_max_days plus the session lifetime),
// renewed at each sign-in: past it, none of the user's tokens is valid.
func User(user string) string { return "fbs:web:user:" + user }

// WebSecret is a string: the HMAC key of CSRF tokens shared by every web
// instance, set once by the first (SET NX) and kept for ever.
const WebSecret = "fbs:web:secret"

// LinkSecret is a string: the HMAC key of the build links in mails
// (auth.Links), shared by every instance, set once by the first (SET NX)
// and kept for ever. Deleting it invalidates every mailed link at once.
const LinkSecret = "fbs:web:linksecret"

// LinksRevoked is a string: the Unix time in milliseconds when the owner
// of build id revoked its mailed links; links issued until then no longer
// work. Its TTL is the link lifetime ([web] link_ttl), after which every
// link it revoked has expired anyway.
func LinksRevoked(id string) string { return "fbs:web:linksrevoked:" + id }

// SubmitRate is a string: the number of submissions of user in fixed
// window number window (Unix time divided by the window length). Its TTL
// is the window length plus a second.
func SubmitRate(user string, window int64) string {
	return "fbs:web:rate:" + user + ":" + strconv.FormatInt(window, 10)
}

// Multi-arch groups (tasks/builds). A group lives as long as its members:
// it is deleted with an undone submission, or by retention once none of
// its builds remains (builds.Store.PurgeGroup), with the sent marks of its
// two mails.

// Group is a string: the JSON tasks.Group of group id (its owner, member
// build IDs and creation time). Its state is not stored: it is derived
// from the members' records.
func Group(id string) string { return "fbs:group:" + id }

// Retention and pauses (tasks/builds: builds.Store.Purge, builds.Pauses,
// builds.Store.HoldNamedLease).

// Pauses is a hash of what is paused: field "queue:<asynq queue>" or
// "worker:<host>" to the JSON builds.Pause (who, when, message). Pausing
// sets the field, resuming deletes it; it never expires.
const Pauses = "fbs:pauses"

// BuildsOfSchedule is a sorted set of the IDs of the builds schedule made,
// as Builds, so retention keeps the newest [retention] per_schedule of
// each. A build leaves it when it is purged.
func BuildsOfSchedule(schedule string) string { return "fbs:builds:schedule:" + schedule }

// NamedLease is a string: the holder ("host/pid/random") of the service-wide
// lease name, e.g. "retention": one collector of several runs at a time.
// Its TTL is the lease's; the holder renews it while it works and deletes it
// when it stops, so a holder that died lets another take over after the TTL.
func NamedLease(name string) string { return "fbs:leases:" + name }

// Schedules (tasks/schedules): periodic builds. A schedule lives until its
// owner deletes it, which deletes all four of its keys; none expires.
const (
	// Schedules is a sorted set of every schedule ID, all with score 0 so
	// that it is ordered by ID, and so by creation time (IDs are ULIDs).
	Schedules = "fbs:schedules"
)

// Schedule is a string: the JSON schedules.Schedule of schedule id.
func Schedule(id string) string { return "fbs:schedule:" + id }

// SchedulesOf is a sorted set of the IDs of owner's schedules, as Schedules.
func SchedulesOf(owner string) string { return "fbs:schedules:owner:" + owner }

// ScheduleRuns is a list of the JSON schedules.Run of schedule id's runs,
// newest first, trimmed to the latest schedules.MaxRuns.
func ScheduleRuns(id string) string { return "fbs:schedule:runs:" + id }

// ScheduleSlot is a string: the Unix time in seconds of the latest fire
// slot (tasks.ScheduleSlot) of schedule id that a run was let through for.
// It only grows, so each slot runs once however many schedulers fired it.
func ScheduleSlot(id string) string { return "fbs:schedule:slot:" + id }
