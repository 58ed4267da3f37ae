package monitor_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/worker/buildlog"
)

// The benchmark re-runs the test binary as two helper processes, so that
// the tool and the monitor are measured apart from the viewers:
//   - FBS_BENCH_TOOL=N writes N log lines to stdout as fast as it can, each
//     starting with the time it was written (Unix ns);
//   - FBS_BENCH_MONITOR=ADDR serves a monitor over the Redis at ADDR and
//     prints its address; it exits when its stdin closes.
func benchHelper() bool {
	if n := os.Getenv("FBS_BENCH_TOOL"); n != "" {
		lines, _ := strconv.Atoi(n)
		benchTool(lines)
		return true
	}
	if addr := os.Getenv("FBS_BENCH_MONITOR"); addr != "" {
		benchMonitor(addr)
		return true
	}
	if n := os.Getenv("FBS_BENCH_FLOOR"); n != "" {
		lines, _ := strconv.Atoi(n)
		benchFloor(lines)
		return true
	}
	return false
}

func benchTool(lines int) {
	w := bufio.NewWriterSize(os.Stdout, 4096) // stdio's buffer on a pipe
	pad := strings.Repeat("x", 44)
	// FBS_BENCH_RATE paces the tool at that many lines a second (written
	// every millisecond and flushed), to measure latency below saturation.
	rate, _ := strconv.Atoi(os.Getenv("FBS_BENCH_RATE"))
	start := time.Now()
	var b []byte
	for i := 1; i <= lines; i++ {
		if rate > 0 && i%max(rate/1000, 1) == 0 {
			w.Flush()
			if d := time.Until(start.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second)))); d > 0 {
				time.Sleep(d)
			}
		}
		b = strconv.AppendInt(b[:0], time.Now().UnixNano(), 10)
		b = append(b, " bench line "...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ' ')
		b = append(b, pad...)
		b = append(b, '\n')
		w.Write(b)
	}
	w.Flush()
}

func benchMonitor(addr string) {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	mon, err := monitor.New(rdb, monitor.Config{Visibility: tasks.VisibilityPublic, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	srv := &http.Server{Handler: mon.Handler()}
	go srv.Serve(ln)
	io.Copy(io.Discard, os.Stdin)
	srv.Close()
	mon.Close()
}

// benchFloor is the reference the monitor is compared with: an HTTP server
// that holds the SSE events of the whole log, made in advance, and writes
// them to each client as fast as the connection takes them, in 64 KB
// writes. The time its last viewer takes is what moving that many bytes to
// that many clients costs on this machine, with no log transport at all.
// It prints its address and exits when stdin closes.
func benchFloor(lines int) {
	pad := strings.Repeat("x", 44)
	var events []byte
	for i := 1; i <= lines; i++ {
		events = fmt.Appendf(events, "id: %d\ndata: 2026-11-22T00:00:00.000Z tool | %019d bench line %d %s\n\n", i, 0, i, pad)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "retry: 2000\n\n")
		http.NewResponseController(w).Flush()
		<-floorStart
		for off := 0; off < len(events); off += 64 << 10 {
			if _, err := w.Write(events[off:min(off+64<<10, len(events))]); err != nil {
				return
			}
		}
		io.WriteString(w, "event: end\ndata: succeeded\n\n")
	})}
	go srv.Serve(ln)
	in := bufio.NewReader(os.Stdin)
	in.ReadString('\n')
	close(floorStart)
	io.Copy(io.Discard, in)
	srv.Close()
}

// floorStart is closed by the floor server when its first line of stdin
// arrives: the viewers are connected and the "tool" starts.
var floorStart = make(chan struct{})

// BenchmarkLogPipeline runs a build whose tool writes FBS_BENCH_LINES
// (default 1,000,000) lines of about 100 bytes as fast as it can: the
// worker's buildlog writes them to the build's log file and its publisher
// to Redis; a monitor in its own process serves them to viewers over SSE.
// It reports the throughput to the last viewer, the tool-to-viewer latency,
// the monitor's peak RSS, the full-log download rate, and how long the
// build's tool took with and without publishing. Run it with:
//
//	go test ./monitor -run '^$' -bench LogPipeline -benchtime 1x -timeout 30m
//
// FBS_BENCH_RATE=N paces the tool at N lines a second instead.
func BenchmarkLogPipeline(b *testing.B) {
	lines := 1_000_000
	if v := os.Getenv("FBS_BENCH_LINES"); v != "" {
		lines, _ = strconv.Atoi(v)
	}
	b.Run("tool-alone", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			d := runBuildTool(b, lines, b.TempDir())
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(d.Seconds(), "build-s")
			b.ReportMetric(float64(lines)/d.Seconds(), "lines/s")
		}
	})
	b.Run("publish", func(b *testing.B) {
		// The tool under the worker's log writer and publisher, into a real
		// redis-server, with nobody watching: what publishing costs the
		// build.
		for i := 0; i < b.N; i++ {
			srv := redistest.Start(b)
			st := builds.NewStore(srv.Client())
			d, id := runBuildToolWaiting(b, lines, st, b.TempDir(), make(chan string, 1), nil, 0)
			mem, err := srv.Client().MemoryUsage(context.Background(), builds.LogKey(id), 0).Result()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(mem)/1e6, "stream-MB")
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(d.Seconds(), "build-s")
			b.ReportMetric(float64(lines)/d.Seconds(), "lines/s")
			b.ReportMetric(redisCPU(b, srv.Client()), "redis-cpu-s")
		}
	})
	b.Run("floor-viewers=100", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			benchFloorRun(b, lines, 100)
		}
	})
	for _, viewers := range []int{1, 100} {
		b.Run(fmt.Sprintf("viewers=%d", viewers), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchPipeline(b, lines, viewers)
			}
		})
	}
}

// benchFloorRun measures the floor server with viewers: the time until the
// last of them has every line, and the latency of what they received.
func benchFloorRun(b *testing.B, lines, viewers int) {
	srv := exec.Command(os.Args[0], "-test.run=^$")
	srv.Env = append(os.Environ(), "FBS_BENCH_FLOOR="+strconv.Itoa(lines))
	stdin, _ := srv.StdinPipe()
	stdout, _ := srv.StdoutPipe()
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); srv.Wait() }()
	var addr string
	if _, err := fmt.Fscanf(stdout, "LISTEN %s\n", &addr); err != nil {
		b.Fatal(err)
	}
	results := make([]viewResult, viewers)
	ready := make(chan struct{}, viewers)
	var wg sync.WaitGroup
	for v := range viewers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[v] = viewLog("http://"+addr+"/", ready)
		}()
	}
	for range viewers {
		<-ready
	}
	start := time.Now()
	io.WriteString(stdin, "go\n")
	wg.Wait()
	reportViews(b, results, lines, start)
	b.ReportMetric(cpuSeconds(b, srv.Process.Pid), "server-cpu-s")
	b.ReportMetric(0, "ns/op")
}

// reportViews reports what viewers saw: lines/s to the last of them and
// the latency percentiles of the sampled lines.
func reportViews(b *testing.B, results []viewResult, lines int, start time.Time) {
	var last time.Time
	var lat []time.Duration
	for i, r := range results {
		if r.err != nil || r.n != lines {
			b.Fatalf("viewer %d: %d lines, err %v; want %d lines", i, r.n, r.err, lines)
		}
		if r.done.After(last) {
			last = r.done
		}
		lat = append(lat, r.lat...)
	}
	slices.Sort(lat)
	b.ReportMetric(last.Sub(start).Seconds(), "last-viewer-s")
	b.ReportMetric(float64(lines)/last.Sub(start).Seconds(), "lines/s")
	if len(lat) == 0 {
		return // the floor server's lines carry no time
	}
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
}

// runBuildTool runs the tool and feeds its output, line by line, to a
// buildlog.Log, as the worker's runner does, publishing nothing: the
// build's own time without the monitor's transport.
func runBuildTool(b *testing.B, lines int, dir string) time.Duration {
	l, err := buildlog.Create(filepath.Join(dir, "build.log"), buildlog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return feedTool(b, lines, l)
}

// feedTool runs the tool, writes its lines to l and closes l; it returns
// how long that took.
func feedTool(b *testing.B, lines int, l *buildlog.Log) time.Duration {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FBS_BENCH_TOOL="+strconv.Itoa(lines))
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReaderSize(out, 64<<10)
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 0 {
			l.Write(line)
		}
		if err != nil {
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		b.Fatal(err)
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// viewResult is what one viewer saw.
type viewResult struct {
	n    int
	done time.Time
	lat  []time.Duration
	err  error
}

func benchPipeline(b *testing.B, lines, viewers int) {
	srv := redistest.Start(b)
	rdb := srv.Client()
	st := builds.NewStore(rdb)

	mon := exec.Command(os.Args[0], "-test.run=^$")
	mon.Env = append(os.Environ(), "FBS_BENCH_MONITOR="+srv.Addr)
	stdin, _ := mon.StdinPipe()
	stdout, _ := mon.StdoutPipe()
	mon.Stderr = os.Stderr
	if err := mon.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); mon.Wait() }()
	var addr string
	if _, err := fmt.Fscanf(stdout, "LISTEN %s\n", &addr); err != nil {
		b.Fatal(err)
	}

	// Viewers connect once the record exists, before the tool starts.
	dir := b.TempDir()
	id := make(chan string, 1)
	results := make([]viewResult, viewers)
	var wg sync.WaitGroup
	ready := make(chan struct{}, viewers)
	go func() {
		bid := <-id
		for v := range viewers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[v] = viewLog(fmt.Sprintf("http://%s/builds/%s/log/stream", addr, bid), ready)
			}()
		}
	}()
	selfCPU := cpuSeconds(b, os.Getpid())
	start := time.Now()
	buildTime, bid := runBuildToolWaiting(b, lines, st, dir, id, ready, viewers)
	wg.Wait()
	reportViews(b, results, lines, start)
	b.ReportMetric(cpuSeconds(b, os.Getpid())-selfCPU, "viewers+worker-cpu-s")
	b.ReportMetric(buildTime.Seconds(), "build-s")

	// The full log, downloaded while the monitor is still up.
	t0 := time.Now()
	resp, err := http.Get(fmt.Sprintf("http://%s/builds/%s/log", addr, bid))
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	d := time.Since(t0)
	b.ReportMetric(float64(n)/d.Seconds()/1e6, "download-MB/s")
	b.ReportMetric(peakRSS(b, mon.Process.Pid), "monitor-peak-RSS-MB")
	b.ReportMetric(cpuSeconds(b, mon.Process.Pid), "monitor-cpu-s")
	b.ReportMetric(redisCPU(b, rdb), "redis-cpu-s")
	if os.Getenv("FBS_BENCH_STATS") != "" {
		info, _ := rdb.Info(context.Background(), "commandstats").Result()
		b.Log(strings.ReplaceAll(info, "\r", ""))
	}
	b.ReportMetric(0, "ns/op")
}

// runBuildToolWaiting is runBuildTool with viewers: it creates the record,
// hands the ID to the viewers, waits until they are connected, then runs
// the tool.
func runBuildToolWaiting(b *testing.B, lines int, st *builds.Store, dir string, idc chan<- string, ready <-chan struct{}, viewers int) (time.Duration, string) {
	ctx := context.Background()
	id := tasks.NewBuildID()
	if err := st.Create(ctx, &tasks.Build{ID: id, State: tasks.StateRunning, Spec: tasks.Spec{Type: tasks.TypeLive}}, []byte("{}")); err != nil {
		b.Fatal(err)
	}
	idc <- id
	for range viewers {
		<-ready
	}
	path := filepath.Join(dir, "build.log")
	pub := buildlog.NewPublisher(st, id, path, buildlog.PublisherOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	l, err := buildlog.Create(path, buildlog.Options{Notify: pub.Wake})
	if err != nil {
		b.Fatal(err)
	}
	pub.Start(ctx)
	took := feedTool(b, lines, l)
	if pub.Stop(); pub.Err() != nil {
		b.Fatal(pub.Err())
	}
	if err := st.EndLog(ctx, id, tasks.StateSucceeded); err != nil {
		b.Fatal(err)
	}
	return took, id
}

// viewLog follows a stream to its end, counting lines, as cheaply as it
// can: in production viewers are browsers on other machines, here they
// share the 2 cores with everything measured. It reads in blocks, counts
// the "data: " lines of each, and samples the latency of the first whole
// line of each block (the oldest line it holds, so the sample errs high)
// from the time the tool wrote it.
func viewLog(url string, ready chan<- struct{}) (res viewResult) {
	resp, err := http.Get(url)
	if err != nil {
		res.err = err
		ready <- struct{}{}
		return res
	}
	defer resp.Body.Close()
	const tail = len("\nevent: end")
	buf := make([]byte, tail+256<<10)
	have := 0 // bytes kept from the previous block
	sig := false
	data, endMark, sep := []byte("\ndata: "), []byte("\nevent: end"), []byte(" | ")
	for {
		n, err := resp.Body.Read(buf[have:])
		block := buf[:have+n]
		if !sig && bytes.Contains(block, []byte("retry:")) {
			sig = true
			ready <- struct{}{}
		}
		if i := bytes.Index(block, endMark); i >= 0 {
			res.n += bytes.Count(block[:i], data)
			res.done = time.Now()
			return res
		}
		res.n += bytes.Count(block, data)
		if i := bytes.Index(block, data); i >= 0 {
			line := block[i+len(data):]
			if j := bytes.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
				if k := bytes.Index(line, sep); k >= 0 {
					rest := line[k+3:]
					if e := bytes.IndexByte(rest, ' '); e > 0 {
						if ns, err := strconv.ParseInt(string(rest[:e]), 10, 64); err == nil && ns > 0 {
							res.lat = append(res.lat, time.Since(time.Unix(0, ns)))
						}
					}
				}
			}
		}
		if err != nil {
			res.err = err
			if !sig {
				ready <- struct{}{}
			}
			return res
		}
		// Keep the end of the block that may begin a marker finished by
		// the next read: the longest suffix that is a proper prefix of one.
		keep := block[:0]
		for l := min(len(block), tail-1); l > 0; l-- {
			suf := block[len(block)-l:]
			if l < len(data) && bytes.HasPrefix(data, suf) || bytes.HasPrefix(endMark, suf) {
				keep = suf
				break
			}
		}
		have = copy(buf, keep)
	}
}

// cpuSeconds is the CPU time (user+system) process pid has used.
func cpuSeconds(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return float64(ut+st) / 100 // USER_HZ
}

// redisCPU is the CPU time the Redis server has used.
func redisCPU(b *testing.B, rdb *redis.Client) float64 {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, l := range strings.Split(info, "\r\n") {
		for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(l, k); ok {
				f, _ := strconv.ParseFloat(v, 64)
				total += f
			}
		}
	}
	return total
}

// peakRSS is the peak resident set of process pid in MB (VmHWM).
func peakRSS(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmHWM in /proc status")
	return 0
}
