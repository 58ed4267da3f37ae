package siderepo_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/testing/kojitest"
	"github.com/fedora-fbs/fbs/testing/rpmtest"
	"github.com/fedora-fbs/fbs/worker/siderepo"
)

// BenchmarkBuild50 makes a side repo of 50 RPMs of 10 MB of incompressible
// data each (about 500 MB) from the loopback hub with an empty cache, and
// fetches the same files with curl at the same parallelism (xargs -P) for
// comparison. Run it with
//
//	go test -run '^$' -bench Build50 -benchtime 1x ./worker/siderepo
func BenchmarkBuild50(b *testing.B) {
	if _, err := exec.LookPath("curl"); err != nil {
		b.Skip("curl not installed")
	}
	const parallel = 4
	spec := rpmtest.Spec{Name: "fbs-bench", Version: "1", Release: "1"}
	for i := range 50 {
		spec.Packages = append(spec.Packages, rpmtest.Package{Name: fmt.Sprintf("fbs-bench-%02d", i), NoArch: i%2 == 1, Payload: 10 << 20})
	}
	hub := kojitest.New(b)
	hub.AddBuild(b, 1, rpmtest.Build(b, spec)...)
	urls := hub.URLs()
	var total int64
	r0, err := siderepo.New(siderepo.Config{HubURL: hub.URL, PackagesURL: hub.PackagesURL})
	if err != nil {
		b.Fatal(err)
	}
	rpms, err := r0.Lookup(context.Background(), "x86_64", nil, []string{"1"})
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range rpms {
		total += p.Size
	}
	var oursSec, readySec, curlSec float64
	for b.Loop() {
		// curl, same files, same parallelism.
		out := b.TempDir()
		cmd := exec.Command("xargs", "-P", fmt.Sprint(parallel), "-n", "1", "curl", "-sSf", "--output-dir", out, "-O")
		cmd.Stdin = strings.NewReader(strings.Join(urls, "\n"))
		t0 := time.Now()
		if o, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("curl: %v\n%s", err, o)
		}
		curlSec += time.Since(t0).Seconds()

		var fetched time.Duration
		r, err := siderepo.New(siderepo.Config{HubURL: hub.URL, PackagesURL: hub.PackagesURL, CacheDir: b.TempDir(), Parallel: parallel})
		if err != nil {
			b.Fatal(err)
		}
		t0 = time.Now()
		logf := func(format string, args ...any) {
			if strings.HasPrefix(format, "side repo: [") && strings.HasPrefix(fmt.Sprint(args[0]), fmt.Sprint(len(rpms))) {
				fetched = time.Since(t0)
			}
		}
		if _, err := r.Build(context.Background(), filepath.Join(b.TempDir(), "repo"), "x86_64", nil, []string{"1"}, logf); err != nil {
			b.Fatal(err)
		}
		readySec += time.Since(t0).Seconds()
		oursSec += fetched.Seconds()
	}
	n := float64(b.N)
	b.ReportMetric(float64(total)/1e6/(oursSec/n), "fbs-MB/s")
	b.ReportMetric(float64(total)/1e6/(curlSec/n), "curl-MB/s")
	b.ReportMetric(readySec/n, "ready-s")
	b.ReportMetric(float64(total)/1e6, "MB")
}
