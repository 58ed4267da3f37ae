package asynqlog_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks/asynqlog"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

// recorder is a slog.Handler keeping the level and message of each record.
type recorder struct {
	mu  sync.Mutex
	got []line
}

type line struct {
	Level slog.Level
	Msg   string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, line{rec.Level, rec.Message})
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func TestLevels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		log  func(asynqlog.Logger, ...any)
		args []any
		want line
	}{
		{"debug", asynqlog.Logger.Debug, []any{"queue ", "build:x86_64:41", " polled"}, line{slog.LevelDebug, "queue build:x86_64:41 polled"}},
		{"info", asynqlog.Logger.Info, []any{"Starting processing"}, line{slog.LevelInfo, "Starting processing"}},
		{"warn", asynqlog.Logger.Warn, []any{"retry ", 3}, line{slog.LevelWarn, "retry 3"}},
		{"error", asynqlog.Logger.Error, []any{"Failed to dequeue: ", "connection refused"}, line{slog.LevelError, "Failed to dequeue: connection refused"}},
		{"fatal", asynqlog.Logger.Fatal, []any{"cannot start"}, line{slog.LevelError, "cannot start"}},
		{
			"shared connection", asynqlog.Logger.Error,
			[]any{"Failed to close redis client connection: redis connection is shared so the Client can't be closed through asynq"},
			line{slog.LevelDebug, "Failed to close redis client connection: redis connection is shared so the Client can't be closed through asynq"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			tt.log(asynqlog.New(slog.New(rec)), tt.args...)
			if diff := cmp.Diff([]line{tt.want}, rec.got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func (r *recorder) lines() []line {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]line(nil), r.got...)
}

// TestSchedulerStopNoError stops a real asynq scheduler on a connection fbs
// owns: asynq's attempt to close that connection is no error of fbs's.
func TestSchedulerStopNoError(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t).Client()
	rec := &recorder{}
	s := asynq.NewSchedulerFromRedisClient(rdb, &asynq.SchedulerOpts{Logger: asynqlog.New(slog.New(rec))})
	if err := s.Start(); err != nil {
		t.Fatalf("start scheduler: %v", err)
	}
	s.Shutdown()
	shared := false
	for _, l := range rec.lines() {
		if l.Level >= slog.LevelWarn {
			t.Errorf("scheduler stop logged %v %q", l.Level, l.Msg)
		}
		shared = shared || strings.Contains(l.Msg, "redis connection is shared")
	}
	if !shared {
		t.Errorf("no debug line about the shared connection in %v", rec.lines())
	}
}
