package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/monitor/metrics"
	"github.com/fedora-fbs/fbs/tasks"
)

// TestProgressE2E builds a kickstart ISO whose boot ISO comes from a slow
// HTTP mirror on loopback (about 5 s): while it downloads, the build record
// holds the fetch stage's progress; `fbs submit --wait` into a pipe prints
// the progress lines as plain lines; once the build is over the record has
// no progress left, and the workers' stage durations are in the metrics
// the build page estimates from.
func TestProgressE2E(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	iso, err := os.ReadFile(e.iso)
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 64 << 10
	pause := 5 * time.Second / time.Duration(len(iso)/chunk+1)
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(iso)))
		rc := http.NewResponseController(w)
		for off := 0; off < len(iso); off += chunk {
			if _, err := w.Write(iso[off:min(off+chunk, len(iso))]); err != nil {
				return
			}
			rc.Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(pause):
			}
		}
	}))
	defer mirror.Close()
	e.worker("host1")
	cfg := e.config("client", "")
	sub := e.start("submit", "--config", cfg, "--wait", e.spec("p.conf", "x86_64", mirror.URL+"/Fedora-boot.iso"))
	var id string
	e.waitFor(30*time.Second, "the build ID", func() bool {
		id, _, _ = strings.Cut(sub.Output(), "\n")
		return tasks.ValidBuildID(id) && strings.Contains(sub.Output(), "\n")
	})
	var seen *tasks.Progress
	e.waitFor(60*time.Second, "the record to show the download's progress", func() bool {
		b := e.status(cfg, id)
		seen = b.Progress
		return seen != nil || b.State.Final()
	})
	if seen == nil || seen.Stage != tasks.StageFetch || seen.Total != int64(len(iso)) || seen.Item != mirror.URL+"/Fedora-boot.iso" || seen.Done <= 0 {
		t.Errorf("record's progress during the download: %+v, want the fetch of %d bytes from the mirror", seen, len(iso))
	}
	if err := sub.Wait(); err != nil {
		t.Fatalf("fbs submit --wait: %v\n%s", err, sub.Output())
	}
	out := sub.Output()
	var lines int
	for _, l := range strings.Split(out, "\n") {
		if p, ok := tasks.ParseProgressLine(l); ok {
			lines++
			if p.Stage != tasks.StageFetch || p.Total != int64(len(iso)) {
				t.Errorf("progress line %q: want the fetch of %d bytes", l, len(iso))
			}
		}
	}
	if lines < 1 || strings.ContainsAny(out, "\r\x1b") {
		t.Errorf("submit --wait into a pipe: %d progress lines (want some), terminal controls %v:\n%s", lines, strings.ContainsAny(out, "\r\x1b"), out)
	}
	b := e.status(cfg, id)
	if b.State != tasks.StateSucceeded || b.Progress != nil {
		t.Errorf("after the build: state %s, progress %+v; want succeeded and none", b.State, b.Progress)
	}
	est, err := metrics.NewRecorder(e.redis.Client()).StageEstimates(context.Background(), tasks.TypeKSISO)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []tasks.Stage{tasks.StageFetch, tasks.StageBuild, tasks.StageTransfer} {
		if est[st].Count != 1 {
			t.Errorf("metrics: stage %s of ksiso builds recorded %d times, want 1 (%v)", st, est[st].Count, est)
		}
	}
}
