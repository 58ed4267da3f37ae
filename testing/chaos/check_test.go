package chaos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/rediskey"
)

// row is one invariant of the end table.
type row struct {
	name   string
	held   bool
	detail string
}

// check waits for every build to end and its mails to arrive, then checks
// the invariants and prints them and the figures as tables.
func (s *soak) check() {
	t := s.t
	s.mu.Lock()
	ids := slices.Clone(s.ids)
	s.mu.Unlock()
	// One bound for the whole settle: the builds ending, then their mails.
	settled := time.Now()
	deadline := settled.Add(s.set.settle)
	_, _ = s.waitFinal(ids, time.Until(deadline))
	s.phase("settle: every build final", time.Since(settled))
	mailed := time.Now()
	mails := s.waitMails(ids, time.Until(deadline))
	s.phase("settle: every mail arrived", time.Since(mailed))
	checking := time.Now()
	// The records as they are now, after the wait for the mails.
	recs, stuck := s.waitFinal(ids, 0)
	s.redisMemEnd = s.redisMemory()
	for _, id := range stuck {
		if b := recs[id]; b != nil {
			t.Logf("not final: %s: state %s, stage %s, attempt %d, worker %s, task %s (%s), waiting %q, events %q", id, b.State, b.Stage, b.Attempt, b.Worker, b.TaskID, s.taskState(b), b.Waiting, b.Events)
		}
	}

	var rows []row
	rows = append(rows, s.checkStates(ids, recs, stuck))
	rows = append(rows, s.checkFencing(ids, recs)...)
	rows = append(rows, s.checkStaged(recs))
	rows = append(rows, s.checkLogs(recs))
	rows = append(rows, checkMails(ids, mails))
	rows = append(rows, s.checkAPI())
	rows = append(rows, s.checkResources()...)
	rows = append(rows, s.checkRedisMemory(len(ids)))
	s.buildFigures(recs)
	s.phase("checks", time.Since(checking))

	var b strings.Builder
	s.report(&b, recs, rows)
	t.Log("\n" + b.String())
	if path := os.Getenv("CHAOS_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Errorf("write the report: %v", err)
		}
	}
	for _, r := range rows {
		if !r.held {
			t.Errorf("invariant broken: %s: %s", r.name, r.detail)
		}
	}
	if t.Failed() {
		t.Logf("process logs are in %s", filepath.Join(s.w.dir, "logs"))
		s.keepLogs()
	}
}

// buildFigures adds where succeeded builds spent their time: waiting in
// the queue, and each stage of their last attempt.
func (s *soak) buildFigures(recs map[string]*tasks.Build) {
	for _, b := range recs {
		if b.State != tasks.StateSucceeded || b.Started.IsZero() {
			continue
		}
		s.figure("build: submit -> last attempt started", b.Started.Sub(b.Created))
		s.figure("build: last attempt started -> finished", b.Finished.Sub(b.Started))
		for _, st := range b.Stages {
			s.figure("build: stage "+string(st.Stage), st.Duration)
		}
	}
}

// keepLogs copies the processes' logs out of the test's temporary
// directory (which the test removes) for a failed run.
func (s *soak) keepLogs() {
	dst, err := os.MkdirTemp("", "fbs-chaos-logs-")
	if err != nil {
		return
	}
	_ = exec.Command("cp", "-a", filepath.Join(s.w.dir, "logs"), s.w.runs, dst).Run()
	s.t.Logf("process logs kept in %s", dst)
}

// waitFinal waits up to limit for every build to reach a final state and
// returns the records and the IDs still not final.
func (s *soak) waitFinal(ids []string, limit time.Duration) (map[string]*tasks.Build, []string) {
	deadline := time.Now().Add(limit)
	recs := map[string]*tasks.Build{}
	for {
		var pending []string
		for _, id := range ids {
			if b := recs[id]; b != nil && b.State.Final() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			b, err := s.store.Get(ctx, id)
			cancel()
			if err == nil {
				recs[id] = b
			}
			if err != nil || !b.State.Final() {
				pending = append(pending, id)
			}
		}
		if len(pending) == 0 || time.Now().After(deadline) {
			return recs, pending
		}
		time.Sleep(time.Second)
	}
}

// mailSeen is what arrived for one build: Message-IDs with their copies.
type mailSeen map[string]int

// waitMails waits up to limit for both mails of every build and returns
// what arrived by build.
func (s *soak) waitMails(ids []string, limit time.Duration) map[string]mailSeen {
	deadline := time.Now().Add(limit)
	for {
		got := map[string]mailSeen{}
		for _, m := range s.w.mail.Messages() {
			h, err := m.Header()
			if err != nil {
				continue
			}
			id := h.Get("X-Fbs-Build")
			if got[id] == nil {
				got[id] = mailSeen{}
			}
			got[id][h.Get("Message-Id")]++
		}
		complete := true
		for _, id := range ids {
			if len(got[id]) < 2 {
				complete = false
			}
		}
		if complete || time.Now().After(deadline) {
			return got
		}
		time.Sleep(time.Second)
	}
}

func (s *soak) checkStates(ids []string, recs map[string]*tasks.Build, stuck []string) row {
	r := row{name: "every build in exactly one final state, none stuck", held: len(stuck) == 0}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rdb := s.rdb
	var wrong []string
	for _, id := range ids {
		var in []string
		for _, st := range []tasks.State{tasks.StateQueued, tasks.StateRunning, tasks.StateSucceeded, tasks.StateFailed, tasks.StateCancelled} {
			if err := rdb.ZScore(ctx, rediskey.BuildsIn(string(st)), id).Err(); err == nil {
				in = append(in, string(st))
			}
		}
		b := recs[id]
		if len(in) != 1 || b == nil || in[0] != string(b.State) {
			wrong = append(wrong, fmt.Sprintf("%s indexed in %v", id, in))
		}
	}
	if len(wrong) > 0 {
		r.held = false
	}
	var where []string
	for _, id := range stuck {
		if b := recs[id]; b != nil {
			where = append(where, fmt.Sprintf("%s %s stage %q attempt %d on %q", id, b.State, b.Stage, b.Attempt, b.Worker))
		} else {
			where = append(where, id+" (no record)")
		}
	}
	r.detail = fmt.Sprintf("%d builds; %d not final after the settle time %v; %d in the wrong state index %v", len(ids), len(stuck), first(where, 5), len(wrong), first(wrong, 5))
	return r
}

// taskState says where build b's asynq task is in the soak's build queue
// (pending, active, archived...), or why that is not known.
func (s *soak) taskState(b *tasks.Build) string {
	id := b.TaskID
	if id == "" {
		id = b.ID
	}
	info, err := asynq.NewInspectorFromRedisClient(s.rdb).GetTaskInfo(tasks.QueueName("x86_64", "41"), id)
	if err != nil {
		return fmt.Sprintf("unknown (%v)", err)
	}
	if info.LastErr != "" {
		return fmt.Sprintf("%s, retried %d of %d, last error %q", info.State, info.Retried, info.MaxRetry, info.LastErr)
	}
	return info.State.String()
}

// toolRun is one run of the fake build tool.
type toolRun struct {
	token      string
	build      string
	start, end float64
	status     string
}

var buildIDRe = regexp.MustCompile(`[0-9A-HJKMNP-TV-Z]{26}`)

// readRuns reads the fake tool's runs file.
func (s *soak) readRuns() map[string]*toolRun {
	data, _ := os.ReadFile(s.w.runs)
	runs := map[string]*toolRun{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		at, _ := strconv.ParseFloat(f[2], 64)
		switch f[0] {
		case "start":
			runs[f[1]] = &toolRun{token: f[1], build: buildIDRe.FindString(f[3]), start: at}
		case "end":
			if r := runs[f[1]]; r != nil {
				r.end, r.status = at, f[3]
			}
		}
	}
	return runs
}

var chaosLine = regexp.MustCompile(`chaos-line (t\d+) (\d+)/(\d+)`)

// checkFencing checks that no two attempts of a build ran at once: no two
// runs of the tool for one build overlap in time, and in the log stream no
// line of an earlier run comes after the first line of a later one.
func (s *soak) checkFencing(ids []string, recs map[string]*tasks.Build) []row {
	runs := s.readRuns()
	byBuild := map[string][]*toolRun{}
	unended := 0
	for _, r := range runs {
		byBuild[r.build] = append(byBuild[r.build], r)
		if r.end == 0 {
			unended++
		}
	}
	var overlaps []string
	for id, rs := range byBuild {
		sort.Slice(rs, func(i, j int) bool { return rs[i].start < rs[j].start })
		for i := 1; i < len(rs); i++ {
			prevEnd := rs[i-1].end
			if prevEnd == 0 || prevEnd > rs[i].start {
				overlaps = append(overlaps, fmt.Sprintf("%s: run %s (%.1f-%.1f) and %s from %.1f", id, rs[i-1].token, rs[i-1].start, rs[i-1].end, rs[i].token, rs[i].start))
			}
		}
	}
	var interleaved []string
	multi := 0
	for _, id := range ids {
		lines := s.streamLines(id)
		seen := map[string]bool{}
		last := ""
		for _, l := range lines {
			m := chaosLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			if m[1] != last {
				if seen[m[1]] {
					interleaved = append(interleaved, id)
					break
				}
				seen[m[1]] = true
				last = m[1]
			}
		}
		if len(seen) > 1 {
			multi++
		}
	}
	return []row{
		{name: "no build ran twice at the same time (tool runs)", held: len(overlaps) == 0,
			detail: fmt.Sprintf("%d tool runs of %d builds, %d builds ran more than once; %d runs never ended (killed with SIGKILL); overlaps: %d %v", len(runs), len(byBuild), countMulti(byBuild), unended, len(overlaps), first(overlaps, 3))},
		{name: "no build ran twice at the same time (log stream)", held: len(interleaved) == 0,
			detail: fmt.Sprintf("%d builds with lines of several runs, none interleaved: %d interleaved %v", multi, len(interleaved), first(interleaved, 5))},
	}
}

func countMulti(m map[string][]*toolRun) int {
	n := 0
	for _, rs := range m {
		if len(rs) > 1 {
			n++
		}
	}
	return n
}

// streamLines reads build id's whole log stream from Redis.
func (s *soak) streamLines(id string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lines, _, err := s.store.ReadLog(ctx, id, 0, 1<<20, 0)
	if err != nil {
		s.t.Errorf("read the log stream of %s: %v", id, err)
		return nil
	}
	out := make([]string, 0, len(lines))
	for i, l := range lines {
		if l.N != i+1 {
			s.t.Errorf("log stream of %s: line %d numbered %d", id, i+1, l.N)
		}
		out = append(out, l.Text)
	}
	return out
}

// checkStaged checks every succeeded build's staging directory: CHECKSUM
// verifies with sha256sum -c, and every artifact of the record is there
// with its size and SHA-256.
func (s *soak) checkStaged(recs map[string]*tasks.Build) row {
	var bad []string
	n := 0
	for id, b := range recs {
		if b.State != tasks.StateSucceeded {
			continue
		}
		n++
		dir := filepath.Join(s.w.staging, id)
		cmd := exec.Command("sha256sum", "--quiet", "-c", "CHECKSUM")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			bad = append(bad, fmt.Sprintf("%s: sha256sum -c CHECKSUM: %v %s", id, err, strings.TrimSpace(string(out))))
			continue
		}
		isos := 0
		for _, a := range b.Artifacts {
			if strings.HasSuffix(a.Name, ".iso") {
				isos++
			}
			if a.Name == "build.log" {
				continue // written again after the record names it
			}
			sum, size, err := hashFile(filepath.Join(dir, a.Name))
			if err != nil || sum != a.SHA256 || size != a.Size {
				bad = append(bad, fmt.Sprintf("%s: artifact %s: size %d sha256 %.12s (%v), record says %d %.12s", id, a.Name, size, sum, err, a.Size, a.SHA256))
			}
		}
		if isos != 1 {
			bad = append(bad, fmt.Sprintf("%s: %d ISOs among the artifacts", id, isos))
		}
	}
	return row{name: "every succeeded build has verified artifacts and CHECKSUM in staging", held: len(bad) == 0,
		detail: fmt.Sprintf("%d succeeded builds checked; %d problems %v", n, len(bad), first(bad, 3))}
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// checkLogs checks that every numbered line of every tool run is in the
// stream exactly once, and in the staged log exactly once when the build
// succeeded or failed: all of them for a run that ended, a prefix for a
// run that was killed.
func (s *soak) checkLogs(recs map[string]*tasks.Build) row {
	runs := s.readRuns()
	var bad []string
	lines := 0
	for id, b := range recs {
		stream := s.streamLines(id)
		// The reaper failed the build as lost (twice) rather than
		// re-queuing it: its last run's attempt was over when it ended.
		lostLast := b.State == tasks.StateFailed && strings.HasPrefix(b.Error, "worker lost")
		sources := map[string][]string{"stream": stream}
		if b.State == tasks.StateSucceeded || b.State == tasks.StateFailed {
			data, err := os.ReadFile(filepath.Join(s.w.staging, id, "build.log"))
			if err == nil {
				sources["staged log"] = strings.Split(string(data), "\n")
			} else if b.State == tasks.StateSucceeded {
				bad = append(bad, fmt.Sprintf("%s: no staged log: %v", id, err))
			}
		}
		for src, ls := range sources {
			problems, n := lineProblems(id, src, ls, runs, lostLast)
			bad = append(bad, problems...)
			if src == "stream" {
				lines += n
			}
		}
	}
	return row{name: "every numbered log line exactly once in the stream and the staged log", held: len(bad) == 0,
		detail: fmt.Sprintf("%d numbered lines in the streams; %d problems %v", lines, len(bad), first(bad, 3))}
}

// lineProblems checks the numbered lines ls of build id, read from src
// ("stream" or "staged log"), against the tool's runs, and returns what is
// wrong and how many numbered lines there are. Every run's lines are a
// gap-free prefix, each line once; the build's last run, when it ended
// well, has all its lines (a completed last run with none is a problem in
// the stream). A run that did not end well, or an earlier run that ended
// well but whose attempt was lost (a later run of the build exists), may
// stop short: the lines it wrote while it could not reach Redis are refused
// once the reaper re-queued the build. The same holds for the last run when
// the reaper failed the build as lost instead of re-queuing it (lostLast,
// lost twice): its attempt was over when it ended, and what it wrote after
// the verdict was refused.
func lineProblems(id, src string, ls []string, runs map[string]*toolRun, lostLast bool) ([]string, int) {
	var bad []string
	count := map[string]map[int]int{}
	total := map[string]int{}
	n := 0
	for _, l := range ls {
		m := chaosLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[2])
		t, _ := strconv.Atoi(m[3])
		if count[m[1]] == nil {
			count[m[1]] = map[int]int{}
		}
		count[m[1]][i]++
		total[m[1]] = t
		n++
	}
	last := lastRun(runs, id)
	whole := func(tok string) bool {
		r := runs[tok]
		return r != nil && r.status == "0" && tok == last && !lostLast
	}
	for _, tok := range slices.Sorted(maps.Keys(count)) {
		c := count[tok]
		upto := 0
		for i := range c {
			upto = max(upto, i)
		}
		if whole(tok) {
			upto = max(upto, total[tok])
		}
		for i := 1; i <= upto; i++ {
			if c[i] != 1 {
				bad = append(bad, fmt.Sprintf("%s %s: line %d of run %s present %d times", id, src, i, tok, c[i]))
				break
			}
		}
	}
	if src == "stream" && last != "" && whole(last) && count[last] == nil {
		bad = append(bad, fmt.Sprintf("%s %s: completed run %s has no lines", id, src, last))
	}
	return bad, n
}

// checkMails checks that every build got exactly one submission and one
// completion mail, told apart by Message-ID.
func checkMails(ids []string, got map[string]mailSeen) row {
	var bad []string
	copies := 0
	for _, id := range ids {
		seen := got[id]
		var kinds []string
		for mid, n := range seen {
			switch {
			case strings.HasPrefix(mid, "<"+id+".submitted@"):
				kinds = append(kinds, "submitted")
			case strings.HasPrefix(mid, "<"+id+".finished@"):
				kinds = append(kinds, "finished")
			default:
				kinds = append(kinds, mid)
			}
			if n > 1 {
				copies += n - 1
				bad = append(bad, fmt.Sprintf("%s: %s arrived %d times", id, mid, n))
			}
		}
		sort.Strings(kinds)
		if strings.Join(kinds, ",") != "finished,submitted" {
			bad = append(bad, fmt.Sprintf("%s: mails %v", id, kinds))
		}
	}
	return row{name: "one submission and one completion mail per build (Message-ID)", held: len(bad) == 0,
		detail: fmt.Sprintf("%d builds, %d extra copies; %d problems %v", len(ids), copies, len(bad), first(bad, 3))}
}

// apiGrace is how long after Redis came back an answer may still say it
// is unreachable (a request that began while it was down).
const apiGrace = 5 * time.Second

// duringOutage reports whether call c was under way at some moment while
// Redis was down, or within apiGrace after it came back: a call made just
// before Redis went down may be answered during the outage (the hour's run
// flagged a submission made 2 s before a Redis kill and answered, 503,
// while Redis loaded its append-only file).
func duringOutage(c apiCall, down []window) bool {
	end := c.end
	if end.IsZero() {
		end = c.at
	}
	for _, w := range down {
		if !end.Before(w.from) && (w.to.IsZero() || c.at.Before(w.to.Add(apiGrace))) {
			return true
		}
	}
	return false
}

// checkAPI checks that no API answer was a 5xx (or no answer) except
// while Redis was down, and that those said so clearly.
func (s *soak) checkAPI() row {
	s.mu.Lock()
	defer s.mu.Unlock()
	var bad []string
	codes := map[string]int{}
	for _, c := range s.calls {
		codes[fmt.Sprintf("%s %d %s", c.what, c.status, c.code)]++
		if c.status != 0 && c.status < 500 {
			continue
		}
		if !duringOutage(c, s.redisDown) || c.status != 503 || c.code != "unavailable" || !strings.Contains(c.err, "Redis") {
			bad = append(bad, fmt.Sprintf("%s at +%s: %d %s %q", c.what, c.at.Sub(s.start).Round(time.Second), c.status, c.code, c.err))
		}
	}
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, fmt.Sprintf("%s: %d", k, codes[k]))
	}
	sort.Strings(keys)
	return row{name: "no API 5xx but 503 unavailable (naming Redis) while Redis was down", held: len(bad) == 0,
		detail: fmt.Sprintf("%d calls (%s); %d problems %v", len(s.calls), strings.Join(keys, ", "), len(bad), first(bad, 3))}
}

// checkResources checks that goroutines, open files and RSS of each
// process instance that lived long enough are flat: the mean of its last
// third of samples is within bounds of the mean of its first third, after
// a warm-up quarter.
func (s *soak) checkResources() []row {
	s.mu.Lock()
	byInst := map[string][]sample{}
	for _, sm := range s.samples {
		k := fmt.Sprintf("%s[%d]", sm.name, sm.pid)
		byInst[k] = append(byInst[k], sm)
	}
	s.mu.Unlock()
	type metric struct {
		name  string
		get   func(sample) float64
		slack func(base float64) float64
	}
	metrics := []metric{
		{"goroutines", func(sm sample) float64 { return float64(sm.goroutines) }, func(b float64) float64 { return b*0.5 + 30 }},
		{"open files", func(sm sample) float64 { return float64(sm.fds) }, func(b float64) float64 { return b*0.5 + 16 }},
		{"RSS", func(sm sample) float64 { return float64(sm.rss) }, func(b float64) float64 { return b*0.5 + 32<<20 }},
	}
	var rows []row
	for _, m := range metrics {
		var bad, seen []string
		for inst, ss := range byInst {
			if m.name == "goroutines" {
				// Only the monitor exports them, and a read of its
				// /metrics can fail (restarting, Redis away): use the
				// samples that have them.
				ss = slices.DeleteFunc(slices.Clone(ss), func(sm sample) bool { return sm.goroutines < 0 })
			}
			if len(ss) < 8 {
				continue
			}
			ss = ss[len(ss)/4:]
			third := len(ss) / 3
			a, b := mean(ss[:third], m.get), mean(ss[len(ss)-third:], m.get)
			seen = append(seen, fmt.Sprintf("%s %s->%s", inst, human(m.name, a), human(m.name, b)))
			if b > a+m.slack(a) {
				bad = append(bad, inst)
			}
		}
		sort.Strings(seen)
		// Held only when some instance lived long enough to tell.
		rows = append(rows, row{name: m.name + " of long-running processes flat", held: len(bad) == 0 && len(seen) > 0,
			detail: fmt.Sprintf("%d instances (first third -> last third): %s; grew: %v", len(seen), strings.Join(seen, ", "), bad)})
	}
	return rows
}

func mean(ss []sample, get func(sample) float64) float64 {
	if len(ss) == 0 {
		return 0
	}
	var sum float64
	for _, s := range ss {
		sum += get(s)
	}
	return sum / float64(len(ss))
}

func human(metric string, v float64) string {
	if metric == "RSS" {
		return fmt.Sprintf("%.0fMiB", v/(1<<20))
	}
	return fmt.Sprintf("%.0f", v)
}

// checkRedisMemory checks that Redis's memory is bounded by what is kept:
// at most 256 KiB a build (record, payload, log stream, tasks) over the
// baseline.
func (s *soak) checkRedisMemory(builds int) row {
	per := int64(0)
	if builds > 0 {
		per = (s.redisMemEnd - s.redisMemStart) / int64(builds)
	}
	s.mu.Lock()
	peak := slices.Max(append([]int64{s.redisMemStart, s.redisMemEnd}, s.redisMem...))
	n := len(s.redisMem)
	s.mu.Unlock()
	return row{name: "Redis memory bounded by what is kept", held: s.redisMemEnd > 0 && per <= 256<<10,
		detail: fmt.Sprintf("used_memory %d KiB at the start, %d KiB at the end, at most %d KiB in %d samples: %d KiB a build kept (every build is kept: retention counts in days)", s.redisMemStart>>10, s.redisMemEnd>>10, peak>>10, n, per>>10)}
}

func first(xs []string, n int) []string {
	if len(xs) > n {
		return append(xs[:n:n], "...")
	}
	return xs
}

// report writes the run's tables: builds by final state, faults by kind,
// invariants and figures.
func (s *soak) report(w io.Writer, recs map[string]*tasks.Build, rows []row) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	states := map[tasks.State]int{}
	attempts := 0
	for _, b := range recs {
		states[b.State]++
		if b.Attempt > 1 {
			attempts++
		}
	}
	fmt.Fprintf(tw, "BUILDS\t%d accepted (%.1f a minute of load): %d succeeded, %d failed, %d cancelled; %d ran more than one attempt\n", len(recs),
		float64(len(recs))/s.dur.Minutes(), states[tasks.StateSucceeded], states[tasks.StateFailed], states[tasks.StateCancelled], attempts)
	reasons := map[string]int{}
	for _, b := range recs {
		if b.State == tasks.StateFailed {
			reasons[failureKind(b.Error)]++
		}
	}
	for _, r := range slices.Sorted(maps.Keys(reasons)) {
		fmt.Fprintf(tw, "failed\t%d\t%s\n", reasons[r], r)
	}
	s.mu.Lock()
	byKind := map[string][]fault{}
	for _, f := range s.faults {
		byKind[f.kind] = append(byKind[f.kind], f)
	}
	fmt.Fprintf(tw, "\nFAULT\tCOUNT\tLAST\n")
	for _, k := range faultKinds {
		fs := byKind[k]
		last := ""
		if len(fs) > 0 {
			last = fs[len(fs)-1].detail
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", k, len(fs), last)
	}
	fmt.Fprintf(tw, "cancel requests\t%d\t%v\n", sumMap(s.cancels), s.cancels)
	fmt.Fprintf(tw, "\nINVARIANT\tHELD\tDETAIL\n")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%v\t%s\n", r.name, r.held, r.detail)
	}
	fmt.Fprintf(tw, "\nFIGURE\tN\tMIN\tMEDIAN\tMAX\n")
	defer func() {
		s.mu.Lock()
		fmt.Fprintf(tw, "\nPHASE\tTOOK\n")
		for _, p := range s.phases {
			fmt.Fprintf(tw, "%s\t%s\n", p.name, p.took.Round(100*time.Millisecond))
		}
		s.mu.Unlock()
		_ = tw.Flush()
	}()
	names := make([]string, 0, len(s.figures))
	for n := range s.figures {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ds := slices.Clone(s.figures[n])
		slices.Sort(ds)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", n, len(ds), ds[0].Round(10*time.Millisecond), ds[len(ds)/2].Round(10*time.Millisecond), ds[len(ds)-1].Round(10*time.Millisecond))
	}
	s.mu.Unlock()
	_ = tw.Flush()
}

func sumMap(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// lastRun is the token of build id's last tool run.
func lastRun(runs map[string]*toolRun, id string) string {
	var last *toolRun
	for _, r := range runs {
		if r.build == id && (last == nil || r.start > last.start) {
			last = r
		}
	}
	if last == nil {
		return ""
	}
	return last.token
}

// buildPaths are the per-build parts of an error message (IDs, paths,
// URLs), cut so that failures group by kind.
var buildPaths = regexp.MustCompile(`\S*[0-9A-HJKMNP-TV-Z]{26}\S*`)

// failureKind is a failed build's error with its build-specific parts
// cut, at most 120 characters.
func failureKind(msg string) string {
	msg = buildPaths.ReplaceAllString(msg, "…")
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}
