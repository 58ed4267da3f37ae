package tasks

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Field paths of a schedule's own fields (the spec's fields keep theirs).
const (
	FieldCron       = "cron"
	FieldRebuildAge = "rebuild_age"
)

// MaxCronLen bounds a cron expression; anything longer is not one a
// person wrote.
const MaxCronLen = 200

// ParseCron checks a schedule's cron expression and returns its schedule:
// five fields (minute hour day-of-month month day-of-week), a descriptor
// such as @daily or @hourly, or "@every D" with D a whole number of
// seconds, at least one, which tests and short periods use. These are the
// expressions asynq's scheduler runs (robfig/cron's standard parser), so an
// expression accepted here is one the scheduler accepts. A bad expression
// is an Error about field "cron".
func ParseCron(expr string) (cron.Schedule, error) {
	if expr == "" {
		return nil, Invalid(FieldCron, "no cron expression: want five fields (minute hour day month weekday), @daily or @every 1h")
	}
	if len(expr) > MaxCronLen || strings.IndexFunc(expr, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		return nil, Invalid(FieldCron, "cron expression is not one line of at most %d characters", MaxCronLen)
	}
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return nil, Invalid(FieldCron, "cron expression %q: time zones are not supported, schedules run in UTC", expr)
	}
	if d, ok := strings.CutPrefix(expr, "@every "); ok {
		dur, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return nil, Invalid(FieldCron, "cron expression %q: %q is not a duration such as 30s or 6h", expr, d)
		}
		if dur < time.Second || dur%time.Second != 0 {
			return nil, Invalid(FieldCron, "cron expression %q: the period must be a whole number of seconds, at least 1s", expr)
		}
	}
	s, err := cron.ParseStandard(expr)
	if err != nil {
		return nil, Invalid(FieldCron, "cron expression %q: %v", expr, err)
	}
	if s.Next(time.Now()).IsZero() {
		return nil, Invalid(FieldCron, "cron expression %q never fires", expr)
	}
	return s, nil
}

// CheckRebuildAge checks a schedule's rebuild_age: zero (always build) or
// a positive duration.
func CheckRebuildAge(d time.Duration) error {
	if d < 0 {
		return Invalid(FieldRebuildAge, "rebuild_age %s is negative: want 0 (always build) or a duration such as 20h", d)
	}
	return nil
}

// ParseRebuildAge reads a rebuild_age as written in a form, a flag or
// JSON: a Go duration ("20h", "90m"), "" or "0" for none. Days may be
// written "2d".
func ParseRebuildAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && fmt.Sprint(n) == days && n > 0 && n < 10000 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, Invalid(FieldRebuildAge, "rebuild_age %q is not a duration such as 20h, 90m or 2d", s)
	}
	return d, CheckRebuildAge(d)
}

// NewScheduleID returns a new schedule ID, of the same form as a build ID
// (ValidScheduleID).
func NewScheduleID() string { return NewBuildID() }

// ValidScheduleID reports whether id has the form NewScheduleID gives;
// IDs from outside are checked with it before they reach Redis.
func ValidScheduleID(id string) bool { return ValidBuildID(id) }

// ScheduleSlot is the fire time a schedule's run at now belongs to: the
// latest time sched fires at or before now plus a tolerance, so that
// schedulers on hosts whose clocks differ a little agree on it. Every run
// of one slot is the same run: the handler lets one through per slot.
//
// For "@every D" the slots are the multiples of D since the Unix epoch,
// and the tolerance D/2 (asynq's schedulers start their @every timers when
// they start, so their fires differ by up to D; each still fires once per
// slot). For cron expressions, whose fires are a minute apart at least,
// the slots are the expression's own times and the tolerance 30 s.
func ScheduleSlot(sched cron.Schedule, now time.Time) time.Time {
	if every, ok := sched.(cron.ConstantDelaySchedule); ok {
		d := every.Delay
		return now.Add(d / 2).Truncate(d)
	}
	t := now.Add(30 * time.Second)
	// Find a fire time at or before t by looking back ever further, then
	// walk forward to the last one.
	for back := time.Minute; back <= 8*366*24*time.Hour; back *= 4 {
		prev := sched.Next(t.Add(-back))
		if prev.IsZero() || prev.After(t) {
			continue
		}
		for {
			next := sched.Next(prev)
			if next.IsZero() || next.After(t) {
				return prev
			}
			prev = next
		}
	}
	return time.Time{}
}
