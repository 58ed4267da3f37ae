// Package asynqlog lets asynq's servers and schedulers log through log/slog,
// so their lines go wherever the command sends its own, at the same levels.
package asynqlog

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/hibiken/asynq"
)

// Logger is asynq's Logger on a slog.Logger. Give it as the Logger of an
// asynq.Config or asynq.SchedulerOpts.
type Logger struct{ l *slog.Logger }

var _ asynq.Logger = Logger{}

// New returns a Logger writing to l.
func New(l *slog.Logger) Logger { return Logger{l} }

// Debug logs at slog.LevelDebug.
func (a Logger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }

// Info logs at slog.LevelInfo.
func (a Logger) Info(args ...any) { a.l.Info(fmt.Sprint(args...)) }

// Warn logs at slog.LevelWarn.
func (a Logger) Warn(args ...any) { a.l.Warn(fmt.Sprint(args...)) }

// Error logs at slog.LevelError, except asynq's complaint that it may not
// close a shared Redis connection: fbs always hands asynq a connection it
// owns itself (asynq's scheduler, stopping, still tries to close it), so
// that is as it should be and goes to slog.LevelDebug.
func (a Logger) Error(args ...any) {
	msg := fmt.Sprint(args...)
	if strings.Contains(msg, "redis connection is shared") {
		a.l.Debug(msg)
		return
	}
	a.l.Error(msg)
}

// Fatal logs at slog.LevelError (slog has no fatal level); asynq exits
// the process after it.
func (a Logger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }
