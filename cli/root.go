// Package cli builds the fbs command line with cobra: build, submit, worker,
// status, logs, cancel, list, serve, ks, stage, schedule and version. Commands are made
// by constructors and write to the writers they are given, so tests run them
// in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/gin-gonic/gin"
	"github.com/spf13/cobra"

	"github.com/fedora-fbs/fbs/conf"
	"github.com/fedora-fbs/fbs/tasks/redisproc"
)

// Env is what the commands take from the process.
type Env struct {
	Stdout, Stderr io.Writer
	// LookupEnv reads environment variables (os.LookupEnv).
	LookupEnv func(string) (string, bool)
}

// DefaultRedisURL is used when neither --redis, FBS_REDIS_URL nor the
// config file names a Redis.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// app holds what every command shares: the global flags and, once loaded,
// the configuration.
type app struct {
	env        Env
	configPath string
	redisURL   string
	logLevel   string
	cfg        *conf.Config
	logger     *slog.Logger
}

// exitCode is an error carrying the exit status a command wants.
type exitCode struct {
	code int
	err  error
}

func (e *exitCode) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitCode) Unwrap() error { return e.err }

// Main runs the fbs command line with args and returns the exit status.
//
// Main owns the process, so it sets gin's mode, which is process-wide: to
// release, once, before any command builds an engine. In gin's default
// debug mode every engine (the web app's, the monitor's own in `fbs
// monitor`) would print its routes and warnings to the process's stdout.
// Setting it here, not in each engine's constructor, keeps the packages
// that build engines free of global changes and covers every engine.
func Main(ctx context.Context, args []string, env Env) int {
	gin.SetMode(gin.ReleaseMode)
	root := New(env)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ec *exitCode
	if errors.As(err, &ec) {
		if ec.err != nil {
			fmt.Fprintln(env.Stderr, "fbs:", ec.err)
		}
		return ec.code
	}
	fmt.Fprintln(env.Stderr, "fbs:", err)
	return 1
}

// New returns the root command.
func New(env Env) *cobra.Command {
	if env.LookupEnv == nil {
		env.LookupEnv = func(string) (string, bool) { return "", false }
	}
	a := &app{env: env}
	root := &cobra.Command{
		Use:           "fbs",
		Short:         "The On-Demand Fedora Build Service",
		Long:          "fbs builds Fedora boot ISOs, DVDs, live images and kickstart ISOs on demand,\nlocally or across many build hosts.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&a.configPath, "config", "", "service configuration file (default "+conf.DefaultPath+" if it exists)")
	pf.StringVar(&a.redisURL, "redis", "", "Redis URL (default: FBS_REDIS_URL, [redis] url, then "+DefaultRedisURL+")")
	pf.StringVar(&a.logLevel, "log-level", "info", "service log level: debug, info, warn, error")
	root.AddCommand(
		a.newBuildCmd(),
		a.newSubmitCmd(),
		a.newWorkerCmd(),
		a.newStatusCmd(),
		a.newLogsCmd(),
		a.newCancelCmd(),
		a.newListCmd(),
		a.newServeCmd(),
		a.newWebCmd(),
		a.newMonitorCmd(),
		a.newVersionCmd(),
		a.newWorkersCmd(),
		a.newKSCmd(env.Stdout),
		newStageCmd(env.Stdout),
		a.newGCCmd(),
		a.newQueueCmd(),
		a.newDeployCmd(),
		a.newScheduleCmd(),
	)
	return root
}

// load reads the configuration once and sets up the service logger.
func (a *app) load() (*conf.Config, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	path := a.configPath
	if path == "" {
		if _, err := os.Stat(conf.DefaultPath); err == nil {
			path = conf.DefaultPath
		}
	}
	cfg, err := conf.Load(path, a.env.LookupEnv)
	if err != nil {
		return nil, err
	}
	if a.redisURL != "" {
		cfg.Redis.URL = a.redisURL
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(a.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	a.logger = slog.New(slog.NewTextHandler(a.env.Stderr, &slog.HandlerOptions{Level: lvl}))
	a.cfg = cfg
	return cfg, nil
}

// redis returns the Redis URL to use for client commands: the configured
// one, else the socket of the redis-server that `fbs serve` runs under the
// data dir, else DefaultRedisURL.
func (a *app) redis() string {
	if a.cfg != nil && a.cfg.Redis.URL != "" {
		return a.cfg.Redis.URL
	}
	if a.cfg != nil && a.cfg.Worker.DataDir != "" {
		if url, ok := redisproc.LocalURL(filepath.Join(a.cfg.Worker.DataDir, "redis")); ok {
			return url
		}
	}
	return DefaultRedisURL
}
