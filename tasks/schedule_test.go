package tasks_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks"
)

func TestParseCron(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want string // "" for accepted, else part of the message
	}{
		{"0 3 * * *", ""},
		{"*/15 * * * 1-5", ""},
		{"@daily", ""},
		{"@every 2s", ""},
		{"@every 6h", ""},
		{"", "no cron expression"},
		{"61 * * * *", "end of range (61) above maximum (59)"},
		{"* * * *", "expected exactly 5 fields"},
		{"0 0 3 * * *", "expected exactly 5 fields"},
		{"@every 1500ms", "whole number of seconds"},
		{"@every 0s", "at least 1s"},
		{"@every soon", `"soon" is not a duration`},
		{"@fortnightly", "unrecognized descriptor"},
		{"0 0 30 2 *", "never fires"},
		{"TZ=Europe/Prague 0 3 * * *", "time zones are not supported"},
		{"0 3 * * *\n0 4 * * *", "not one line"},
		{strings.Repeat("1,", 150) + "1 * * * *", "at most 200 characters"},
	}
	for _, tt := range tests {
		_, err := tasks.ParseCron(tt.expr)
		if tt.want == "" {
			if err != nil {
				t.Errorf("ParseCron(%q) = %v, want accepted", tt.expr, err)
			}
			continue
		}
		var te *tasks.Error
		if !errors.As(err, &te) || te.Field != tasks.FieldCron || te.Code != tasks.CodeInvalid || !strings.Contains(te.Message, tt.want) {
			t.Errorf("ParseCron(%q) = %v, want an invalid error about cron containing %q", tt.expr, err, tt.want)
		}
	}
}

func FuzzParseCron(f *testing.F) {
	for _, s := range []string{"0 3 * * *", "@every 2s", "@daily", "*/5 1-3 * JAN MON", "@every 1h30m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := tasks.ParseCron(expr)
		if err != nil {
			var te *tasks.Error
			if !errors.As(err, &te) || te.Field != tasks.FieldCron {
				t.Fatalf("ParseCron(%q): error %v is not about cron", expr, err)
			}
			return
		}
		// An accepted expression has fire slots the runner can compute,
		// and they never go back as time goes on.
		now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
		a, b := tasks.ScheduleSlot(s, now), tasks.ScheduleSlot(s, now.Add(time.Hour))
		if a.IsZero() || b.Before(a) {
			t.Fatalf("ParseCron(%q): slots %s then %s", expr, a, b)
		}
	})
}

func TestScheduleSlot(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		expr, now, want string
	}{
		// @every: multiples of the period, with half a period of slack.
		{"@every 2s", "2026-11-27T12:00:01.2Z", "2026-11-27T12:00:02Z"},
		{"@every 2s", "2026-11-27T12:00:00.9Z", "2026-11-27T12:00:00Z"},
		{"@every 2s", "2026-11-27T12:00:02.5Z", "2026-11-27T12:00:02Z"},
		{"@every 1h", "2026-11-27T12:31:00Z", "2026-11-27T13:00:00Z"},
		// Cron: its own times, 30 s of slack for a clock a little behind.
		{"0 3 * * *", "2026-11-27T03:00:00.2Z", "2026-11-27T03:00:00Z"},
		{"0 3 * * *", "2026-11-27T02:59:45Z", "2026-11-27T03:00:00Z"},
		{"0 3 * * *", "2026-11-27T02:59:00Z", "2026-11-26T03:00:00Z"},
		{"0 3 * * *", "2026-11-27T15:00:00Z", "2026-11-27T03:00:00Z"},
		{"*/5 * * * *", "2026-11-27T12:07:00Z", "2026-11-27T12:05:00Z"},
		{"@yearly", "2026-11-27T12:00:00Z", "2026-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		s, err := tasks.ParseCron(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := tasks.ScheduleSlot(s, at(tt.now)); !got.Equal(at(tt.want)) {
			t.Errorf("ScheduleSlot(%q, %s) = %s, want %s", tt.expr, tt.now, got, tt.want)
		}
	}
}

func TestParseRebuildAge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"", 0, ""},
		{"0", 0, ""},
		{"20h", 20 * time.Hour, ""},
		{"2d", 48 * time.Hour, ""},
		{"90m", 90 * time.Minute, ""},
		{"-1h", 0, "negative"},
		{"soon", 0, "not a duration"},
		{"0.5d", 0, "not a duration"},
	}
	for _, tt := range tests {
		got, err := tasks.ParseRebuildAge(tt.in)
		var te *tasks.Error
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseRebuildAge(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		case tt.err != "" && (!errors.As(err, &te) || te.Field != tasks.FieldRebuildAge || !strings.Contains(te.Message, tt.err)):
			t.Errorf("ParseRebuildAge(%q) error %v, want one about rebuild_age containing %q", tt.in, err, tt.err)
		}
	}
	if diff := cmp.Diff(true, tasks.ValidScheduleID(tasks.NewScheduleID())); diff != "" {
		t.Errorf("new schedule ID invalid (-want +got):\n%s", diff)
	}
}
