package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

// faultKinds are the faults the soak injects, by name.
var faultKinds = []string{
	"worker kill -9",
	"worker drain (SIGTERM)",
	"Redis restart (SIGTERM)",
	"Redis kill -9 (AOF)",
	"SMTP server down",
	"SFTP server down",
	"SFTP connections cut mid-file",
	"worker-Redis delay+loss",
	"worker data dir full",
	"monitor restart",
}

// faultLoop injects faults until ctx ends: first each kind once in a
// random order, then kinds at random, each in its own goroutine (never
// two of one kind at once), and waits for every fault to heal.
func (s *soak) faultLoop(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	var amu sync.Mutex
	active := map[string]bool{}
	order := append([]string{}, faultKinds...)
	s.rmu.Lock()
	s.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	s.rmu.Unlock()
	// The short run spreads the first round over half its time, so that
	// the slowest fault (SMTP down, then mail retries) heals in time, then
	// injects a quick one every two to four of those gaps.
	gapLo, gapHi := s.dur/2/time.Duration(len(order))/2, s.dur/2/time.Duration(len(order))
	if s.long {
		gapLo, gapHi = 15*time.Second, 60*time.Second
	}
	for n := 0; ; n++ {
		gap := s.between(gapLo, gapHi)
		if n >= len(order) && !s.long {
			gap = s.between(2*gapHi, 4*gapHi)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(gap):
		}
		kind := faultKinds[s.intn(len(faultKinds))]
		if n < len(order) {
			kind = order[n]
		} else if !s.long {
			// The short run injects each kind once, then only the quick
			// ones.
			kind = []string{"worker kill -9", "worker drain (SIGTERM)", "SFTP connections cut mid-file", "Redis kill -9 (AOF)"}[s.intn(4)]
		}
		amu.Lock()
		busy := active[kind]
		active[kind] = true
		amu.Unlock()
		if busy {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := time.Now()
			detail := s.inject(kind)
			s.mu.Lock()
			if detail != noWorker {
				s.faults = append(s.faults, fault{kind: kind, at: at, took: time.Since(at), detail: detail})
			}
			s.mu.Unlock()
			amu.Lock()
			delete(active, kind)
			amu.Unlock()
		}()
	}
}

// hold is how long an outage lasts.
func (s *soak) hold(short, longLo, longHi time.Duration) time.Duration {
	if s.long {
		return s.between(longLo, longHi)
	}
	return s.between(short/2, short)
}

// inject injects one fault of kind, heals it and says what it did.
func (s *soak) inject(kind string) string {
	w := s.w
	switch kind {
	case "worker kill -9":
		sl := s.takeWorker()
		if sl == nil {
			return noWorker
		}
		defer s.releaseWorker(sl)
		running := s.runningOn(sl.name)
		p := sl.proc()
		killed := time.Now()
		_ = p.Stop(syscall.SIGKILL, 10*time.Second)
		for _, b := range running {
			// A build waiting for its transfer stays with its host,
			// whose files it needs: its transfer task resumes when the
			// worker is back, it is not re-queued.
			if b.Stage != tasks.StageTransfer {
				go s.timeRequeue(b, killed)
			}
		}
		time.Sleep(s.between(time.Second, 3*time.Second))
		if err := w.startWorker(sl); err != nil {
			s.t.Errorf("restart %s after kill -9: %v", sl.name, err)
		}
		return fmt.Sprintf("%s, %d builds running", sl.name, len(running))
	case "worker drain (SIGTERM)":
		sl := s.takeWorker()
		if sl == nil {
			return noWorker
		}
		defer s.releaseWorker(sl)
		running := len(s.runningOn(sl.name))
		t0 := time.Now()
		_ = sl.proc().Stop(syscall.SIGTERM, 60*time.Second)
		took := time.Since(t0)
		time.Sleep(s.between(time.Second, 3*time.Second))
		if err := w.startWorker(sl); err != nil {
			s.t.Errorf("restart %s after its drain: %v", sl.name, err)
		}
		return fmt.Sprintf("%s, %d builds running, exited after %s", sl.name, running, took.Round(100*time.Millisecond))
	case "Redis restart (SIGTERM)", "Redis kill -9 (AOF)":
		down := time.Now()
		s.mu.Lock()
		s.redisDown = append(s.redisDown, window{from: down})
		i := len(s.redisDown) - 1
		s.mu.Unlock()
		if kind == "Redis kill -9 (AOF)" {
			w.redis.Stop()
		} else {
			w.redis.Shutdown()
		}
		time.Sleep(s.between(time.Second, 4*time.Second))
		w.redis.Revive()
		up := time.Now()
		s.mu.Lock()
		s.redisDown[i].to = up
		s.mu.Unlock()
		s.timeAPIBack(up)
		return fmt.Sprintf("down %s", up.Sub(down).Round(100*time.Millisecond))
	case "SMTP server down":
		d := s.hold(8*time.Second, 2*time.Minute, 5*time.Minute)
		w.mail.Stop()
		time.Sleep(d)
		before := len(w.mail.Messages())
		w.mail.Restart()
		go s.timeMailBack(before, time.Now())
		return fmt.Sprintf("down %s", d.Round(time.Second))
	case "SFTP server down":
		d := s.hold(5*time.Second, 30*time.Second, 2*time.Minute)
		w.sftp.SetDown(true)
		cut := w.sftp.Cut()
		time.Sleep(d)
		w.sftp.SetDown(false)
		return fmt.Sprintf("down %s, %d connections cut", d.Round(time.Second), cut)
	case "SFTP connections cut mid-file":
		cut := 0
		for range 3 {
			cut += w.sftp.Cut()
			time.Sleep(s.between(200*time.Millisecond, 2*time.Second))
		}
		return fmt.Sprintf("%d connections cut", cut)
	case "worker-Redis delay+loss":
		d := s.hold(8*time.Second, 30*time.Second, 3*time.Minute)
		delay := s.between(20*time.Millisecond, 150*time.Millisecond)
		loss := 3 + s.intn(10)
		w.redisLink.SetDelay(delay)
		w.net.setLoss(loss)
		time.Sleep(d)
		w.net.setLoss(0)
		w.redisLink.SetDelay(0)
		return fmt.Sprintf("chaos-w3: %s a chunk, %d%% loss, for %s", delay.Round(time.Millisecond), loss, d.Round(time.Second))
	case "worker data dir full":
		d := s.hold(5*time.Second, 30*time.Second, 2*time.Minute)
		sl := w.workers[1]
		n, err := fill(filepath.Join(sl.dataDir, "chaos-fill"))
		time.Sleep(d)
		if rerr := os.Remove(filepath.Join(sl.dataDir, "chaos-fill")); rerr != nil {
			s.t.Errorf("free %s's data dir: %v", sl.name, rerr)
		}
		return fmt.Sprintf("%s: %d MiB filled (%v) for %s", sl.name, n>>20, err, d.Round(time.Second))
	case "monitor restart":
		sig := syscall.SIGTERM
		if s.intn(2) == 0 {
			sig = syscall.SIGKILL
		}
		_ = w.monitor().Stop(sig, 30*time.Second)
		time.Sleep(s.between(500*time.Millisecond, 3*time.Second))
		if err := w.startMonitor(); err != nil {
			s.t.Errorf("restart the monitor: %v", err)
		}
		return sig.String()
	}
	s.t.Errorf("unknown fault %q", kind)
	return ""
}

// noWorker is what inject says when every worker was already being
// stopped by another fault: nothing was injected.
const noWorker = "skipped: every worker is being stopped by another fault"

// takeWorker picks a random worker that no other fault is stopping and
// holds it for the caller (nil: every one is held), so that two faults
// never restart one worker at once, which would leave two processes on
// one host name and data directory.
func (s *soak) takeWorker() *slot {
	s.mu.Lock()
	defer s.mu.Unlock()
	var free []*slot
	for _, sl := range s.w.workers {
		if !s.stopping[sl] {
			free = append(free, sl)
		}
	}
	if len(free) == 0 {
		return nil
	}
	sl := free[s.intn(len(free))]
	s.stopping[sl] = true
	return sl
}

// releaseWorker lets other faults stop sl again.
func (s *soak) releaseWorker(sl *slot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.stopping, sl)
}

// fill writes zeros to path until its filesystem is full and returns how
// many bytes it wrote; the error is the one that stopped it (ENOSPC).
func fill(path string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		m, err := f.Write(buf)
		n += int64(m)
		if err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return n, syscall.ENOSPC
			}
			return n, err
		}
	}
}

// runningOn lists the builds running on worker host now (from Redis; none
// when Redis is down).
func (s *soak) runningOn(host string) []*tasks.Build {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := s.store.List(ctx, builds.ListOptions{State: tasks.StateRunning, Limit: 500,
		Match: func(b *tasks.Build) bool { return b.Worker == host }})
	if err != nil {
		return nil
	}
	return list
}

// timeRequeue measures how long after the kill of its worker build b was
// taken up again: queued again, or running a later attempt, or ended.
func (s *soak) timeRequeue(b *tasks.Build, killed time.Time) {
	deadline := killed.Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		now, err := s.store.Get(ctx, b.ID)
		cancel()
		if err == nil && (now.State == tasks.StateQueued || now.Attempt > b.Attempt || now.State.Final()) {
			if now.State.Final() && now.Attempt == b.Attempt {
				return // it finished before the loss was noticed
			}
			s.figure("re-queue of a killed worker's build", time.Since(killed))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Errorf("build %s of a killed worker not re-queued within 3 minutes", b.ID)
}

// timeAPIBack measures how long after Redis came back the API lists
// builds again.
func (s *soak) timeAPIBack(up time.Time) {
	for time.Since(up) < time.Minute {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := s.api.List(ctx, url.Values{"limit": {"1"}})
		cancel()
		if err == nil {
			s.figure("API serves after a Redis restart", time.Since(up))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Errorf("the API does not serve a minute after Redis came back")
}

// timeMailBack measures how long after the SMTP server came back the
// first mail arrived.
func (s *soak) timeMailBack(before int, up time.Time) {
	for time.Since(up) < 10*time.Minute {
		if len(s.w.mail.Messages()) > before {
			s.figure("first mail after an SMTP outage", time.Since(up))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
