// Command fbs is the On-Demand Fedora Build Service: one binary for the CLI,
// the worker, the web app, the monitor and the all-in-one `fbs serve`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fedora-fbs/fbs/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv})
	stop()
	os.Exit(code)
}
