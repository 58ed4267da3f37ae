package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/loraxtest"
)

// TestFailedLiveBuildToolLogs runs a live build on `fbs worker` with a
// livemedia-creator stand-in (through [tools]) that fails the way anaconda
// does: its own logs are staged under <id>/logs/, the record lists them
// and says where the error is, and `fbs monitor`'s build page shows both.
func TestFailedLiveBuildToolLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.moreConf = "[tools]\nlivemedia-creator = " + loraxtest.LiveMediaCreator(t, loraxtest.Fail) + "\n"
	e.worker("host1")
	cfg := e.config("client", "")
	spec := filepath.Join(e.ksDir, "live.conf")
	e.write(spec, "[DEFAULT]\ntype=live\narch=x86_64\nrelease=41\nstaging=file://"+e.staging+
		"\nemail=tester@example.org\n[live]\nlabel=FBS-Live\nconfig=main.ks\n")
	out, _, code := e.run("submit", "--config", cfg, "--wait", spec)
	if code == 0 {
		t.Fatalf("submit --wait of a failing build exited 0:\n%s", out)
	}
	id := strings.SplitN(out, "\n", 2)[0]
	b := e.status(cfg, id)
	if b.State != tasks.StateFailed {
		t.Fatalf("state %s, error %q", b.State, b.Error)
	}
	if e := b.ToolError; e == nil || e.Log != "anaconda/packaging.log" || e.Line != 2 || len(e.Lines) != 1 || e.Lines[0] != loraxtest.PackagingError {
		t.Errorf("tool error %+v", b.ToolError)
	}
	if !strings.Contains(b.Error, "see logs/anaconda/packaging.log line 2") {
		t.Errorf("failure summary %q does not name the log and line", b.Error)
	}
	names := map[string]bool{}
	for _, a := range b.Logs {
		names[a.Name] = true
		data, err := os.ReadFile(filepath.Join(e.staging, id, "logs", filepath.FromSlash(a.Name)))
		if err != nil || int64(len(data)) != a.Size {
			t.Errorf("%s: staged %d bytes (%v), record says %d", a.Name, len(data), err, a.Size)
		}
	}
	for _, n := range []string{"livemedia.log", "program.log", "anaconda/packaging.log", "anaconda/program.log", "anaconda/dnf.librepo.log"} {
		if !names[n] {
			t.Errorf("record lists no tool log %s: %+v", n, b.Logs)
		}
	}

	addr := freeAddr(t)
	e.startReady("serving", "monitor", "--config", cfg, "--listen", addr)
	resp, err := http.Get("http://" + addr + "/builds/" + id)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`id="tool-logs"`, "anaconda/packaging.log", "livemedia.log", `id="tool-error"`, "line 2:", "no package matched: nosuchpkg"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("build page lacks %q", want)
		}
	}
}
