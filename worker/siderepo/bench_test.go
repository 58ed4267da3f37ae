package siderepo_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/testing/kojitest"
	"github.com/fedora-fbs/fbs/testing/linktest"
	"github.com/fedora-fbs/fbs/testing/rpmtest"
	"github.com/fedora-fbs/fbs/worker/progress"
	"github.com/fedora-fbs/fbs/worker/siderepo"
)

// BenchmarkBuild50 makes a side repo of 50 RPMs of 10 MB of incompressible
// data each (about 500 MB) from the test hub with an empty cache, and
// fetches the same files with curl at the same parallelism in the same run,
// two ways: one curl per file from xargs -P, and one curl --parallel.
// Iterations alternate whether fbs or curl goes first. Run it with
//
//	flock /tmp/fbs-bench.lock go test -run '^$' -bench Build50 -benchtime 4x ./worker/siderepo
//
// The hub is on loopback unless FBS_BENCH_LINK names a rate ("1gbit"): then
// it sits in a network namespace behind a veth pair shaped to that rate
// with tc (see testing/linktest; needs root).
//
// Besides throughput (in total, and as the median of each iteration's
// ratio, which other work on the machine sways less) it reports CPU seconds
// per GB downloaded: curl's (its processes' user+system time), the hub's
// (this process during the curl runs, when it only serves) and fbs's (this
// process during the fbs run, less the hub's share). Neither fbs nor curl
// fsyncs what it writes.
func BenchmarkBuild50(b *testing.B) {
	if _, err := exec.LookPath("curl"); err != nil {
		b.Skip("curl not installed")
	}
	const parallel = 4
	spec := rpmtest.Spec{Name: "fbs-bench", Version: "1", Release: "1"}
	for i := range 50 {
		spec.Packages = append(spec.Packages, rpmtest.Package{Name: fmt.Sprintf("fbs-bench-%02d", i), NoArch: i%2 == 1, Payload: 10 << 20})
	}
	var hub *kojitest.Hub
	if rate := os.Getenv("FBS_BENCH_LINK"); rate != "" {
		link := linktest.New(b, rate)
		hub = kojitest.NewOn(b, link.Listen(b))
		b.Logf("hub behind a link shaped to %s:\n\t%s", rate, strings.Join(link.Commands, "\n\t"))
	} else {
		hub = kojitest.New(b)
	}
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
	gb := float64(total) / 1e9

	// Two curl runs: one process per file from xargs -P (each pays curl's
	// start-up, about 25 ms of CPU), and one process fetching them all
	// with --parallel (one thread for every transfer).
	curls := []struct {
		name string
		argv []string
	}{
		{"curl-xargs", []string{"xargs", "-P", fmt.Sprint(parallel), "-n", "1", "curl", "-sSf", "--output-dir", "OUT", "-O"}},
		{"curl-parallel", append([]string{"curl", "-sSf", "--parallel", "--parallel-max", fmt.Sprint(parallel), "--output-dir", "OUT", "--remote-name-all"}, urls...)},
	}
	curl := make([]usage, len(curls))
	// Per iteration, fbs's time over each curl's: their median is steadier
	// than the totals when other work on the machine comes and goes.
	ratios := make([][]float64, len(curls))
	var fbs, hubCPU usage
	var ready time.Duration
	runCurl := func() {
		for i, c := range curls {
			out := b.TempDir()
			argv := append([]string(nil), c.argv...)
			for j := range argv {
				if argv[j] == "OUT" {
					argv[j] = out
				}
			}
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Stdin = strings.NewReader(strings.Join(urls, "\n"))
			u0 := now()
			if o, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%s: %v\n%s", c.name, err, o)
			}
			d := now().sub(u0)
			if err := os.RemoveAll(out); err != nil {
				b.Fatal(err)
			}
			b.Logf("%-13s %4.0f MB/s, %.2f CPU s/GB (hub %.2f)", c.name+":", float64(total)/1e6/d.wall.Seconds(), d.children.Seconds()/gb, d.self.Seconds()/gb)
			curl[i].wall += d.wall
			curl[i].self += d.children
			hubCPU.self += d.self
			hubCPU.wall += d.wall
		}
	}
	runFbs := func() {
		dir := b.TempDir()
		defer os.RemoveAll(dir)
		r, err := siderepo.New(siderepo.Config{HubURL: hub.URL, PackagesURL: hub.PackagesURL, CacheDir: filepath.Join(dir, "cache"), Parallel: parallel})
		if err != nil {
			b.Fatal(err)
		}
		var fetched usage
		u0 := now()
		logf := func(format string, args ...any) {
			if strings.HasPrefix(format, "side repo: [") && strings.HasPrefix(fmt.Sprint(args[0]), fmt.Sprint(len(rpms))) {
				fetched = now().sub(u0)
			}
		}
		if _, err := r.Build(context.Background(), filepath.Join(dir, "repo"), "x86_64", nil, []string{"1"}, &progress.Reporter{Log: logf}); err != nil {
			b.Fatal(err)
		}
		ready += now().sub(u0).wall
		b.Logf("%-13s %4.0f MB/s, %.2f CPU s/GB (with the hub's)", "fbs:", float64(total)/1e6/fetched.wall.Seconds(), fetched.self.Seconds()/gb)
		fbs.wall += fetched.wall
		fbs.self += fetched.self
	}
	for i := 0; b.Loop(); i++ {
		c0, f0 := append([]usage(nil), curl...), fbs
		if i%2 == 0 {
			runCurl()
			runFbs()
		} else {
			runFbs()
			runCurl()
		}
		for j := range curls {
			ratios[j] = append(ratios[j], (curl[j].wall-c0[j].wall).Seconds()/(fbs.wall-f0.wall).Seconds())
		}
	}
	n := float64(b.N)
	mbs := func(u usage) float64 { return float64(total) / 1e6 / (u.wall.Seconds() / n) }
	b.ReportMetric(mbs(fbs), "fbs-MB/s")
	b.ReportMetric(ready.Seconds()/n, "ready-s")
	// The hub's CPU per GB, from the curl runs, where it only serves.
	hubPerGB := hubCPU.self.Seconds() / (n * float64(len(curls))) / gb
	b.ReportMetric(fbs.self.Seconds()/n/gb-hubPerGB, "fbs-cpu-s/GB")
	b.ReportMetric(hubPerGB, "hub-cpu-s/GB")
	for i, c := range curls {
		b.ReportMetric(mbs(curl[i]), c.name+"-MB/s")
		b.ReportMetric(100*mbs(fbs)/mbs(curl[i]), "fbs/"+c.name+"-%")
		b.ReportMetric(100*median(ratios[i]), "fbs/"+c.name+"-median-%")
		b.ReportMetric(curl[i].self.Seconds()/n/gb, c.name+"-cpu-s/GB")
	}
	b.ReportMetric(float64(total)/1e6, "MB")
}

// usage is a point in time with the CPU time used so far by this process
// (self) and by its waited-for descendants (children), or the difference
// of two such points.
type usage struct {
	wall           time.Duration
	self, children time.Duration
	at             time.Time
}

func now() usage {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	cpu := func(r syscall.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return usage{self: cpu(self), children: cpu(children), at: time.Now()}
}

func (u usage) sub(v usage) usage {
	return usage{wall: u.at.Sub(v.at), self: u.self - v.self, children: u.children - v.children}
}

func median(x []float64) float64 {
	x = append([]float64(nil), x...)
	sort.Float64s(x)
	if len(x)%2 == 1 {
		return x[len(x)/2]
	}
	return (x[len(x)/2-1] + x[len(x)/2]) / 2
}
