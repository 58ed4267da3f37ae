package pipeline_test

import (
	"testing"

	"github.com/fedora-fbs/fbs/kickstarts"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/worker/pipeline"
)

func TestLogRedactor(t *testing.T) {
	t.Parallel()
	redact := pipeline.LogRedactor(&tasks.Payload{
		Kickstart: "rootpw --plaintext RootSecret\n",
		Spec:      tasks.Spec{Staging: "sftp://stager@stage.example.org/srv/x"},
	})
	for in, want := range map[string]string{
		"echo rootpw --plaintext RootSecret":                           "echo rootpw --plaintext " + kickstarts.Mask,
		"staged 3 files to sftp://stager@stage.example.org/srv/x/01ID": "staged 3 files to sftp://stage.example.org/srv/x/01ID",
		"plain line": "plain line",
	} {
		if got := redact(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}
