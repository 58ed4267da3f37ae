package chaos

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/rediskey"
	"github.com/fedora-fbs/fbs/testing/proctest"
)

// kickstarts are the uploaded kickstart files of every build.
var kickstarts = map[string][]byte{
	"main.ks": []byte("# fbs chaos kickstart\n%include base.ks\nlang en_US.UTF-8\n%packages\n@core\nvim-enhanced\n%end\n"),
	"base.ks": []byte("text\ntimezone Europe/Prague --utc\nrootpw --lock\n%packages\nkernel\n%end\n"),
}

func (s *soak) spec() []byte {
	return []byte(fmt.Sprintf(`[DEFAULT]
type=ksiso
arch=x86_64
release=41
staging=%s
email=tester@example.org
[ksiso]
iso=boot.iso
config=main.ks
cmdline=console=ttyS0
`, s.w.stagingURL))
}

// submitLoop submits a build every set.submitLo to submitHi (under the
// API's 30 a minute)
// while fewer than set.queued wait (the workers stay busy, but the queue
// does not grow without bound on a slow machine), until ctx ends, and
// cancels about one in eight at a random moment.
func (s *soak) submitLoop(ctx context.Context) {
	var cancels sync.WaitGroup
	defer cancels.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.between(s.set.submitLo, s.set.submitHi)):
		}
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		queued, err := s.rdb.ZCard(qctx, rediskey.BuildsIn(string(tasks.StateQueued))).Result()
		cancel()
		if err == nil && queued >= int64(s.set.queued) {
			continue
		}
		at := time.Now()
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res, err := s.api.SubmitINI(rctx, "chaos.conf", s.spec(), kickstarts)
		cancel()
		s.record(answer("submit", at, err, http.StatusCreated))
		if err != nil {
			continue
		}
		id := res.Build.ID
		s.mu.Lock()
		s.ids = append(s.ids, id)
		s.mu.Unlock()
		if s.intn(8) == 0 {
			delay := s.between(0, 15*time.Second)
			cancels.Add(1)
			go func() {
				defer cancels.Done()
				time.Sleep(delay)
				at := time.Now()
				rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := s.api.Cancel(rctx, id)
				cancel()
				c := answer("cancel", at, err, http.StatusOK)
				s.record(c)
				s.mu.Lock()
				s.cancels[fmt.Sprintf("%d %s", c.status, c.code)]++
				s.mu.Unlock()
			}()
		}
	}
}

// sample is one reading of a long-running process.
type sample struct {
	at         time.Time
	name       string // web, monitor, chaos-w1, ...
	pid        int    // tells apart the instances of a restarted process
	rss        int64  // bytes
	fds        int
	goroutines int // -1: not exported by the process
}

// sampleLoop reads the resources of every fbs process every few seconds.
func (s *soak) sampleLoop(ctx context.Context) {
	// Often enough that in the short run a process restarted once still
	// has an instance sampled eight times or more.
	every := 1500 * time.Millisecond
	if s.long {
		every = 15 * time.Second
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		if m := s.redisMemory(); m > 0 {
			s.mu.Lock()
			s.redisMem = append(s.redisMem, m)
			s.mu.Unlock()
		}
		procs := []*proctest.Proc{s.w.web, s.w.monitor()}
		for _, sl := range s.w.workers {
			procs = append(procs, sl.proc())
		}
		for _, p := range procs {
			if p == nil || p.Exited() {
				continue
			}
			sm, ok := readProc(p)
			if !ok {
				continue
			}
			if p.Name() == "monitor" {
				sm.goroutines = s.goroutines()
			}
			s.mu.Lock()
			s.samples = append(s.samples, sm)
			s.mu.Unlock()
		}
	}
}

// readProc reads p's resident memory and open files from /proc.
func readProc(p *proctest.Proc) (sample, bool) {
	sm := sample{at: time.Now(), name: p.Name(), pid: p.Pid(), goroutines: -1}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", sm.pid))
	if err != nil {
		return sm, false
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			sm.rss = kb << 10
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", sm.pid))
	if err != nil {
		return sm, false
	}
	sm.fds = len(fds)
	return sm, true
}

// goroutines reads go_goroutines from the monitor's /metrics (-1 when it
// does not answer).
func (s *soak) goroutines() int {
	hc := &http.Client{Timeout: 5 * time.Second}
	res, err := hc.Get("http://" + s.w.monAddr + "/metrics")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(res.Body, 4<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return int(n)
			}
		}
	}
	return -1
}

// redisMemory is Redis's used_memory (-1 when it does not answer).
func (s *soak) redisMemory() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := s.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}
