package webapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/webapp/apiclient"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

var (
	load         = flag.Bool("load", false, "run the load test (TestLoad)")
	loadBuilds   = flag.Int("load.builds", 100000, "builds in the store for TestLoad")
	loadConns    = flag.Int("load.conns", 64, "concurrent connections of TestLoad")
	loadDuration = flag.Duration("load.duration", 10*time.Second, "duration of each TestLoad scenario")
	loadOnly     = flag.String("load.only", "", "run only the TestLoad scenarios whose name matches this regular expression")
	loadWrk      = flag.Bool("load.wrk", false, "also drive the GET scenarios of TestLoad with wrk (Debian's wrk), a client that costs the server's cores less")
	loadGo       = flag.Bool("load.go", true, "drive the scenarios of TestLoad with the Go generator (turn off to measure GETs with wrk alone, e.g. for a CPU profile of the server only)")
)

// TestLoad is the web app's load generator (doc/benchmarks.md): with
// -load.builds builds in the store and -load.conns keep-alive connections,
// it measures requests/s and latency percentiles of the build list API,
// the dashboard page, a filtered list and submissions. Run it with:
//
//	go test ./webapp -run TestLoad -load -v
func TestLoad(t *testing.T) {
	if !*load {
		t.Skip("load test: run with -load")
	}
	f := setup(t, func(c *webapp.Config) { c.SubmitLimit = -1 })
	ctx := context.Background()
	start := time.Now()
	fill(t, f, *loadBuilds)
	t.Logf("stored %d builds in %s", *loadBuilds, time.Since(start).Round(time.Millisecond))
	admin := f.token(t, auth.User{Name: "root", Admin: true, CanSubmit: true})
	user := f.token(t, auth.User{Name: "user7", CanSubmit: true})
	ks := apiclient.SubmitRequest{Spec: f.ksisoSpec("k.ks"), Kickstarts: map[string]string{"k.ks": readKS(t, "fedora-repo-rawhide.ks")}}
	body, err := json.Marshal(ks)
	if err != nil {
		t.Fatal(err)
	}
	scenarios := []struct {
		name, method, path, token string
		body                      []byte
		want                      int
	}{
		{"GET /api/v1/builds?limit=50", "GET", "/api/v1/builds?limit=50", admin, nil, 200},
		{"GET /builds (dashboard)", "GET", "/builds", "", nil, 200},
		{"GET /api/v1/builds?limit=50 as a user with 1% of the builds", "GET", "/api/v1/builds?limit=50", user, nil, 200},
		{"GET /api/v1/builds?limit=50&state=failed (no match: full scan)", "GET", "/api/v1/builds?limit=50&state=failed", admin, nil, 200},
		{"POST /api/v1/builds", "POST", "/api/v1/builds", admin, body, 201},
	}
	only, err := regexp.Compile(*loadOnly)
	if err != nil {
		t.Fatalf("-load.only: %v", err)
	}
	for _, sc := range scenarios {
		if !only.MatchString(sc.name) {
			continue
		}
		if *loadGo {
			res := hammer(t, f.ts.URL+sc.path, sc.method, sc.token, sc.body, sc.want, *loadConns, *loadDuration)
			t.Logf("%-70s %8.0f req/s  p50 %6.1f ms  p99 %7.1f ms  (%d requests, %d errors)",
				sc.name, res.rate, ms(res.p50), ms(res.p99), res.n, res.errors)
		}
		if *loadWrk && sc.method == "GET" {
			cpu0, rcpu0 := processCPU(t), redisCPU(t, f)
			out, n := runWrk(t, f.ts.URL+sc.path, sc.token, *loadConns, *loadDuration)
			cpu, rcpu := processCPU(t)-cpu0, redisCPU(t, f)-rcpu0
			if n > 0 {
				// The test process is only the server while wrk runs.
				out += fmt.Sprintf("  CPU per request: server %.0f µs, redis %.0f µs",
					float64(cpu.Microseconds())/float64(n), float64(rcpu.Microseconds())/float64(n))
			}
			t.Logf("%-70s %s", sc.name+" (wrk)", out)
		}
	}
	n, err := f.rdb.ZCard(ctx, "fbs:builds").Result()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("store holds %d builds at the end", n)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// fill stores n finished builds of 100 owners, as a busy service would
// have, straight into the store (16 writers).
func fill(t *testing.T, f *fixture, n int) {
	t.Helper()
	st := builds.NewStore(f.rdb)
	var wg sync.WaitGroup
	var next atomic.Int64
	errs := make(chan error, 16)
	base := time.Now().Add(-time.Duration(n) * time.Second)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				created := base.Add(time.Duration(i) * time.Second)
				id := ulid.MustNew(ulid.Timestamp(created), ulid.DefaultEntropy()).String()
				s := f.ksisoSpec("k.ks")
				b := &tasks.Build{ID: id, Spec: s, KickstartName: "k.ks", Owner: fmt.Sprintf("user%d", i%100),
					State: tasks.StateSucceeded, Queue: s.Queue(), TaskID: id, Created: created,
					Started: created.Add(time.Second), Finished: created.Add(time.Minute),
					Artifacts: []tasks.Artifact{{Name: "boot-ks.iso", Size: 3 << 20, SHA256: "00"}}}
				if err := st.Create(context.Background(), b, []byte(`{}`)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

type loadResult struct {
	n, errors int
	rate      float64
	p50, p99  time.Duration
}

// hammer sends requests on conns keep-alive connections for d.
func hammer(t *testing.T, url, method, token string, body []byte, want, conns int, d time.Duration) loadResult {
	t.Helper()
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	deadline := time.Now().Add(d)
	var (
		mu     sync.Mutex
		lat    []time.Duration
		errors int
		wg     sync.WaitGroup
	)
	begin := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest(method, url, bytes.NewReader(body))
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				if body != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				t0 := time.Now()
				res, err := hc.Do(req)
				if err != nil {
					bad++
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				mine = append(mine, time.Since(t0))
				if res.StatusCode != want {
					bad++
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			errors += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	slices.Sort(lat)
	r := loadResult{n: len(lat), errors: errors, rate: float64(len(lat)) / elapsed.Seconds()}
	if len(lat) > 0 {
		r.p50, r.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	if errors > 0 {
		t.Errorf("%s %s: %d bad answers", method, url, errors)
	}
	return r
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the CPU time (user and system) redis-server has used, from
// INFO cpu.
func redisCPU(t *testing.T, f *fixture) time.Duration {
	t.Helper()
	info, err := f.rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		t.Fatalf("redis INFO cpu: %v", err)
	}
	var total float64
	for _, l := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			s, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("redis INFO cpu: %s: %v", l, err)
			}
			total += s
		}
	}
	return time.Duration(total * float64(time.Second))
}

// runWrk drives url with wrk and returns its requests/s and latency
// percentiles (or why it could not) and how many requests it completed.
func runWrk(t *testing.T, url, token string, conns int, d time.Duration) (string, int) {
	t.Helper()
	args := []string{"-t2", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", int(d.Seconds())), "--latency"}
	if token != "" {
		args = append(args, "-H", "Authorization: Bearer "+token)
	}
	out, err := exec.Command("wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		t.Errorf("wrk failed: %v: %s", err, out)
		return fmt.Sprintf("wrk failed: %v", err), 0
	}
	var rate, p50, p99, errs string
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) > 2 && f[1] == "requests" && f[2] == "in":
			n, _ = strconv.Atoi(f[0])
		case len(f) == 2 && f[0] == "Requests/sec:":
			rate = f[1]
		case len(f) == 2 && f[0] == "50%":
			p50 = f[1]
		case len(f) == 2 && f[0] == "99%":
			p99 = f[1]
		case strings.HasPrefix(strings.TrimSpace(l), "Non-2xx"):
			errs = strings.TrimSpace(l)
			t.Errorf("wrk %s: %s", url, errs)
		}
	}
	return fmt.Sprintf("%s req/s  p50 %s  p99 %s  %s", rate, p50, p99, errs), n
}
