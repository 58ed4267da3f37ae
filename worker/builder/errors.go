package builder

import (
	"fmt"
	"strings"
)

// ToolError reports a tool that is not installed (or not where Tools says).
// Its message is one line naming the tool and the packages that provide it.
type ToolError struct {
	// Tool is the command name, e.g. "xorriso".
	Tool string
	// Fedora is the Fedora package that provides Tool.
	Fedora string
	// Debian is the Debian package that provides Tool, or "" when Debian
	// has none.
	Debian string
	// Path is the binary Tools named for Tool, or "" when Tool was looked
	// up in PATH.
	Path string
}

func (e *ToolError) Error() string {
	where := "in PATH"
	if e.Path != "" {
		where = "at " + e.Path
	}
	hint := fmt.Sprintf("install it with %q (Fedora)", "dnf install "+e.Fedora)
	if e.Debian != "" {
		hint += fmt.Sprintf(" or %q (Debian)", "apt-get install "+e.Debian)
	} else {
		hint += "; Debian has no package for it"
	}
	return fmt.Sprintf("%s not found %s: %s", e.Tool, where, hint)
}

// maxTail is how many of a tool's last output lines an ExitError keeps.
const maxTail = 20

// ExitError reports a tool that exited with a non-zero status.
type ExitError struct {
	// Tool is the command name.
	Tool string
	// Code is the exit status, or -1 when the tool was killed by a signal.
	Code int
	// Tail holds the last lines (at most 20) of the tool's output, for the
	// build status.
	Tail []string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s exited with status %d", e.Tool, e.Code)
	if e.Code < 0 {
		msg = e.Tool + " was killed by a signal"
	}
	if n := len(e.Tail); n > 0 {
		msg += ": " + strings.TrimSpace(e.Tail[n-1])
	}
	return msg
}
