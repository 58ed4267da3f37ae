package pipeline

import (
	"github.com/fedora-fbs/fbs/kickstarts"
	"github.com/fedora-fbs/fbs/tasks"
)

// LogRedactor returns what a build's log hides in every line
// (buildlog.Options.Redact), whoever prints it: the secrets of the
// payload's kickstart (kickstarts.Redact) and the user part of its staging
// URL, which only the owner and admins see, while public visibility shows
// the log to anyone. The staged kickstart keeps its secrets.
func LogRedactor(p *tasks.Payload) func(string) string {
	ks := kickstarts.Redact(p.Kickstart)
	hide := tasks.StagingUserHider(p.Spec.Staging)
	return func(line string) string { return hide(ks.Line(line)) }
}
