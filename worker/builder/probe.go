package builder

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
)

// versionTimeout bounds one tool's version query: a tool that hangs is
// reported without a version, not waited for.
const versionTimeout = 10 * time.Second

// Capabilities finds, for every build kind, the tools its builder runs and
// their versions, or the first tool missing. A worker advertises the
// result in its heartbeat; Check is still what decides on each build.
func Capabilities(ctx context.Context, tools Tools) []tasks.Capability {
	versions := map[string]tasks.ToolVersion{}
	out := make([]tasks.Capability, 0, len(tasks.BuildKinds))
	for _, kind := range tasks.BuildKinds {
		c := tasks.Capability{Kind: kind}
		b, err := New(kind.Spec(), tools)
		if err != nil {
			c.Missing = err.Error()
			out = append(out, c)
			continue
		}
		for _, tool := range b.(needer).needs() {
			path, err := tools.path(tool)
			if err != nil {
				c.Missing, c.Tools = err.Error(), nil
				break
			}
			v, ok := versions[path]
			if !ok {
				v = tasks.ToolVersion{Name: tool, Path: path, Version: version(ctx, tool, path)}
				versions[path] = v
			}
			c.Tools = append(c.Tools, v)
		}
		out = append(out, c)
	}
	return out
}

// version runs the tool at path to ask its version and returns the first
// line it prints, or "" when it prints nothing or fails (a tool without
// the option prints its usage and exits non-zero).
func version(ctx context.Context, tool, path string) string {
	arg := "--version"
	if tool == "xorriso" {
		arg = "-version" // xorriso's commands take one dash
	}
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, arg)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		return ""
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			if len(line) > 120 {
				line = line[:120]
			}
			return line
		}
	}
	return ""
}
