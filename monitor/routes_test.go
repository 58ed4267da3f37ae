package monitor_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/monitor/metrics"
	"github.com/fedora-fbs/fbs/monitor/retention"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

func TestRoutes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, monitor.Config{PageLines: 50})
	b := f.newBuild(t, func(b *tasks.Build) {
		b.Stages = []tasks.StageTiming{{Stage: tasks.StageFetch, Started: b.Started, Duration: 3 * time.Second}}
	})
	f.appendLines(t, b.ID, 1, 120, lineText)
	done := f.newBuild(t, func(b *tasks.Build) {
		b.State, b.Finished, b.Staged = tasks.StateSucceeded, b.Started.Add(time.Hour), "https://dl.example.org/fbs/x"
		b.Artifacts = []tasks.Artifact{{Name: "Fedora-41-x86_64.iso", Size: 2147483648, SHA256: strings.Repeat("ab", 32), URL: "https://dl.example.org/fbs/x/Fedora-41-x86_64.iso"}}
	})
	f.appendLines(t, done.ID, 1, 3, lineText)
	if err := f.store.EndLog(ctx, done.ID, tasks.StateSucceeded); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Count(ctx, "emails_sent", 2); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Count(ctx, retention.CounterPrefix+retention.KindBuild, 3); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetPause(ctx, builds.Pause{Kind: builds.PauseQueue, Name: "build:x86_64:41", By: "root", At: time.Now(), Message: "mirror <sync>"}); err != nil {
		t.Fatal(err)
	}
	if err := metrics.NewRecorder(f.rdb).BuildDone(ctx, tasks.TypeLive, tasks.StateSucceeded, 42*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Heartbeat(ctx, &builds.WorkerInfo{ID: "builder1/7", Host: "builder1.example.org", Arch: "x86_64",
		Releases: []string{"41"}, Concurrency: 2, Builds: []string{b.ID}, Heartbeat: time.Now()}, time.Minute); err != nil {
		t.Fatal(err)
	}
	queue := asynq.NewClientFromRedisClient(f.rdb)
	if _, err := queue.EnqueueContext(ctx, asynq.NewTask(tasks.TypeBuild, []byte("{}")), asynq.Queue(b.Queue), asynq.TaskID(b.ID)); err != nil {
		t.Fatal(err)
	}
	unknown := tasks.NewBuildID()

	for _, tc := range []struct {
		name, path string
		header     []string
		code       int
		ctype      string
		has        []string
		hasNot     []string
	}{
		{name: "build page", path: "/builds/" + b.ID, code: 200, ctype: "text/html",
			has: []string{b.ID, "running", "builder1.example.org", "fedora-live-xfce.ks", "fetch", `data-after="120"`, `data-live="true"`,
				"line 120", "Only the last 50 lines", `href="../builds/` + b.ID + `/log"`},
			hasNot: []string{"line 70<"}},
		{name: "finished build page", path: "/builds/" + done.ID, code: 200, ctype: "text/html",
			has:    []string{"succeeded", "Fedora-41-x86_64.iso", "2.0 GiB", strings.Repeat("ab", 32), "https://dl.example.org/fbs/x/CHECKSUM", `data-live="false"`, "line 3"},
			hasNot: []string{"worker-lost", `<span id="truncated">`}},
		{name: "unknown build", path: "/builds/" + unknown, code: 404, ctype: "text/plain", has: []string{"build not found"}},
		{name: "malformed id", path: "/builds/not-an-id", code: 404},
		{name: "lowercase id", path: "/builds/" + strings.ToLower(b.ID), code: 404},
		{name: "full log", path: "/builds/" + b.ID + "/log", code: 200, ctype: "text/plain", has: []string{lineText(1) + "\n" + lineText(2) + "\n", lineText(120) + "\n"}},
		{name: "log since", path: "/builds/" + b.ID + "/log?since=118", code: 200, ctype: "text/plain", has: []string{lineText(119) + "\n" + lineText(120) + "\n"}, hasNot: []string{lineText(118) + "\n"}},
		{name: "log bad since", path: "/builds/" + b.ID + "/log?since=-1", code: 400, has: []string{"since must be a line number"}},
		{name: "log of unknown build", path: "/builds/" + unknown + "/log", code: 404},
		{name: "stream of unknown build", path: "/builds/" + unknown + "/log/stream", code: 404},
		{name: "stream bad after", path: "/builds/" + b.ID + "/log/stream?after=x", code: 400},
		{name: "stream bad Last-Event-ID", path: "/builds/" + b.ID + "/log/stream", header: []string{"Last-Event-ID", "1-0"}, code: 400},
		{name: "finished stream", path: "/builds/" + done.ID + "/log/stream?after=1", code: 200, ctype: "text/event-stream",
			has: []string{"id: 3\ndata: " + lineText(2) + "\ndata: " + lineText(3) + "\n\nevent: end\ndata: succeeded\n\n"}},
		{name: "api build", path: "/api/v1/builds/" + done.ID, code: 200, ctype: "application/json", has: []string{`"state":"succeeded"`}},
		{name: "api unknown build", path: "/api/v1/builds/" + unknown, code: 404, ctype: "application/json", has: []string{`{"code":"not_found","message":"build not found","field":"id"}`}},
		{name: "status", path: "/status", code: 200, ctype: "text/html",
			has:    []string{"build:x86_64:41", "builder1.example.org", `href="builds/` + b.ID + `"`, "emails_sent", `<table class="grid" id="paused">`, "mirror &lt;sync&gt;"},
			hasNot: []string{`id="pause-form"`, "mirror <sync>"}},
		{name: "api status", path: "/api/v1/status", code: 200, ctype: "application/json", has: []string{`"builds_by_state"`, `"host":"builder1.example.org"`, `"paused":[{"kind":"queue","name":"build:x86_64:41","by":"root"`}},
		{name: "api pauses", path: "/api/v1/pauses", code: 200, ctype: "application/json", has: []string{`{"pauses":[{"kind":"queue","name":"build:x86_64:41","by":"root"`}},
		{name: "healthz", path: "/healthz", code: 200, has: []string{"ok"}},
		{name: "metrics", path: "/metrics", code: 200, ctype: "text/plain",
			has: []string{`fbs_builds{state="running"} 1`, `fbs_builds{state="succeeded"} 1`, "fbs_log_lines_published_total 123", "fbs_emails_sent_total 2",
				`fbs_build_duration_seconds_bucket{state="succeeded",type="live",le="3600"} 1`, `fbs_build_duration_seconds_count{state="succeeded",type="live"} 1`,
				"fbs_workers_alive 1", "fbs_redis_up 1", `fbs_queue_tasks{queue="build:x86_64:41",state="pending"} 1`,
				"go_goroutines ", "process_open_fds ", "process_resident_memory_bytes ",
				`fbs_retention_removed_total{kind="build"} 3`},
			hasNot: []string{"fbs_retention_removed_build_total"}},
		{name: "unknown route", path: "/etc/passwd", code: 404},
		{name: "root", path: "/", code: 200, ctype: "text/html", has: []string{"Build service status"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.get(t, tc.path, tc.header...)
			if resp.StatusCode != tc.code {
				t.Fatalf("GET %s: status %d, want %d; body:\n%s", tc.path, resp.StatusCode, tc.code, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
				t.Errorf("GET %s: Content-Type %q, want %q", tc.path, ct, tc.ctype)
			}
			for _, s := range tc.has {
				if !strings.Contains(body, s) {
					t.Errorf("GET %s: body lacks %q; body:\n%s", tc.path, s, body)
				}
			}
			for _, s := range tc.hasNot {
				if strings.Contains(body, s) {
					t.Errorf("GET %s: body has %q", tc.path, s)
				}
			}
		})
	}

	t.Run("api build is the record", func(t *testing.T) {
		_, body := f.get(t, "/api/v1/builds/"+b.ID)
		var got tasks.Build
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		want, err := f.store.Get(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, &got); diff != "" {
			t.Errorf("GET /api/v1/builds/ID (-want +got):\n%s", diff)
		}
	})
	t.Run("api status", func(t *testing.T) {
		_, body := f.get(t, "/api/v1/status")
		var st monitor.Status
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		wantQ := []monitor.QueueStatus{{Name: "build:x86_64:41", Arch: "x86_64", Release: "41", Pending: 1}}
		if diff := cmp.Diff(wantQ, st.Queues); diff != "" {
			t.Errorf("queues (-want +got):\n%s", diff)
		}
		if len(st.Recent) != 2 || st.Recent[0].ID != done.ID || st.Recent[1].ID != b.ID {
			t.Errorf("recent builds = %v, want [%s %s]", st.Recent, done.ID, b.ID)
		}
		if diff := cmp.Diff(map[tasks.State]int64{tasks.StateRunning: 1, tasks.StateSucceeded: 1, tasks.StateQueued: 0}, st.Builds); diff != "" {
			t.Errorf("builds by state (-want +got):\n%s", diff)
		}
	})
}

func TestPublicURL(t *testing.T) {
	t.Parallel()
	f := setup(t, monitor.Config{PublicURL: "https://fbs.example.org/monitor/"})
	b := f.newBuild(t, nil)
	_, body := f.get(t, "/builds/"+b.ID)
	for _, s := range []string{`href="https://fbs.example.org/monitor/builds/` + b.ID + `/log"`, `data-stream="https://fbs.example.org/monitor/builds/` + b.ID + `/log/stream"`} {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %q", s)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  monitor.Config
		want string
	}{
		{monitor.Config{PublicURL: "fbs.example.org"}, `public_url "fbs.example.org": want an absolute http:// or https:// URL`},
		{monitor.Config{PublicURL: "ftp://x/"}, "want an absolute http"},
		{monitor.Config{PublicURL: "https://x/?a=b"}, "must not have a query"},
		{monitor.Config{PageLines: -1}, "page lines: -1 is not positive"},
	} {
		_, err := monitor.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): err = %v, want one containing %q", tc.cfg, err, tc.want)
		}
	}
}

// TestTraversal sends the raw request lines, so no client cleans them.
func TestTraversal(t *testing.T) {
	t.Parallel()
	f := setup(t, monitor.Config{})
	b := f.newBuild(t, nil)
	f.appendLines(t, b.ID, 1, 2, lineText)
	addr := strings.TrimPrefix(f.web.URL, "http://")
	for _, p := range []string{
		"/builds/../../etc/passwd",
		"/builds/..%2f..%2fetc%2fpasswd",
		"/builds/%2e%2e/%2e%2e/etc/passwd",
		"/builds/%2e%2e%2f%2e%2e%2fetc%2fpasswd/log",
		"/builds/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
		"/builds/%252e%252e/log",
		"/builds/" + b.ID + "%00",
		"/builds/" + b.ID + "%00/log",
		"/builds/%00",
		"/builds/" + b.ID + "/../../../etc/passwd",
		"/builds/" + b.ID + "/log/../../../../etc/passwd",
		"/builds/..%5c..%5cetc%5cpasswd",
		"/builds/" + b.ID + "/",
		"/builds/" + b.ID + "/log/",
		"/api/v1/builds/..%2f..%2fetc%2fpasswd",
		"/builds//etc/passwd",
		"/../../etc/passwd",
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", p, addr)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		body := make([]byte, 4096)
		n, _ := resp.Body.Read(body)
		conn.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404; body %q", p, resp.StatusCode, body[:n])
		}
		if strings.Contains(string(body[:n]), "root:") {
			t.Errorf("GET %s: served a file: %q", p, body[:n])
		}
	}
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	f := setup(t, monitor.Config{})
	b := f.newBuild(t, func(b *tasks.Build) {
		b.State, b.Error = tasks.StateFailed, `stage build: <img src=x onerror=alert(1)>`
		b.Tail = []string{`</pre><script>alert("tail")</script>`}
		b.Events = []string{`<b>bold</b> event`}
		b.Artifacts = []tasks.Artifact{{Name: `"><script>alert(2)</script>.iso`, URL: "javascript:alert(3)"}}
	})
	f.appendLines(t, b.ID, 1, 2, func(n int) string {
		return fmt.Sprintf("out | <script>alert(\"line %d\")</script> \x1b[31mred\x1b[0m", n)
	})
	f.appendLines(t, b.ID, 3, 3, func(int) string { return "out | \x1b[1;32mgreen bold\x1b[0m \x1b]0;title\x07\x1b[2Kplain" })
	resp, body := f.get(t, "/builds/"+b.ID)
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'sha256-") {
		t.Errorf("Content-Security-Policy = %q, want a strict one", csp)
	}
	for _, bad := range []string{"<script>alert", "<img", "<b>bold", `href="javascript:`, "\x1b"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q unescaped", bad)
		}
	}
	for _, good := range []string{
		`&lt;script&gt;alert(&#34;line 1&#34;)&lt;/script&gt; <span class="a1">red</span>`,
		`<span class="ab a2">green bold</span> plain`,
		`&lt;img src=x onerror=alert(1)&gt;`,
		`&lt;b&gt;bold&lt;/b&gt; event`,
	} {
		if !strings.Contains(body, good) {
			t.Errorf("page lacks %q", good)
		}
	}
	if n := strings.Count(body, "<script>"); n != 1 {
		t.Errorf("page has %d <script> tags, want 1 (its own)", n)
	}
}

func TestWorkerDied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t, monitor.Config{})
	// A running build whose lease is gone: its worker died.
	b := f.newBuild(t, nil)
	f.appendLines(t, b.ID, 1, 5, lineText)
	_, body := f.get(t, "/builds/"+b.ID)
	if !strings.Contains(body, `id="worker-lost"`) || !strings.Contains(body, "builder1.example.org") || !strings.Contains(body, "line 5") {
		t.Errorf("page of a build without lease does not say its worker died:\n%s", body)
	}
	// With a lease held, no warning.
	if err := f.store.HoldLease(ctx, b.ID, "builder1/7", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, body := f.get(t, "/builds/"+b.ID); strings.Contains(body, "worker-lost") {
		t.Errorf("page warns of a lost worker while the lease is held")
	}
	// The reaper failed it: the page shows why, and the log is served.
	if _, err := f.store.Update(ctx, b.ID, func(b *tasks.Build) error {
		b.State, b.Error = tasks.StateFailed, "worker lost: builder1.example.org stopped responding during stage build"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.EndLog(ctx, b.ID, tasks.StateFailed); err != nil {
		t.Fatal(err)
	}
	if _, body := f.get(t, "/builds/"+b.ID); !strings.Contains(body, "stopped responding during stage build") {
		t.Errorf("page of a reaped build lacks the reason")
	}
	if _, body := f.get(t, "/builds/"+b.ID+"/log"); body != strings.Join([]string{lineText(1), lineText(2), lineText(3), lineText(4), lineText(5)}, "\n")+"\n" {
		t.Errorf("log of a reaped build = %q", body)
	}
}

func TestRedisDown(t *testing.T) {
	t.Parallel()
	f := setup(t, monitor.Config{RequestTimeout: 2 * time.Second})
	b := f.newBuild(t, nil)
	f.redis.Stop()
	for _, p := range []string{"/healthz", "/builds/" + b.ID, "/api/v1/status"} {
		resp, body := f.get(t, p)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("GET %s with Redis down: %d %q, want 503", p, resp.StatusCode, body)
		}
	}
	resp, body := f.get(t, "/metrics")
	if resp.StatusCode != 200 || !strings.Contains(body, "fbs_redis_up 0") {
		t.Errorf("GET /metrics with Redis down: %d, want 200 with fbs_redis_up 0:\n%s", resp.StatusCode, body)
	}
}

// TestBuildPageToolLogs: a failed build lists the tool's own logs and
// shows where its error is, linked to the staged log.
func TestBuildPageToolLogs(t *testing.T) {
	t.Parallel()
	f := setup(t, monitor.Config{PageLines: 50})
	failed := f.newBuild(t, func(b *tasks.Build) {
		b.State, b.Finished, b.Staged = tasks.StateFailed, b.Started.Add(time.Minute), "https://dl.example.org/fbs/y"
		b.Error = "build: livemedia-creator exited with status 1: Running anaconda failed (see logs/anaconda/packaging.log line 2)"
		b.Logs = []tasks.Artifact{
			{Name: "anaconda/packaging.log", Size: 2048, URL: "https://dl.example.org/fbs/y/logs/anaconda/packaging.log"},
			{Name: "livemedia.log", Size: 100, URL: "https://dl.example.org/fbs/y/logs/livemedia.log"},
		}
		b.ToolError = &tasks.LogExcerpt{Log: "anaconda/packaging.log", Line: 2,
			Lines: []string{"10:00:02,000 ERR packaging: <no package> matched nosuchpkg"}}
	})
	plain := f.newBuild(t, func(b *tasks.Build) { b.State, b.Finished = tasks.StateSucceeded, b.Started.Add(time.Hour) })
	for _, tc := range []struct {
		name, id    string
		has, hasNot []string
	}{
		{"failed with tool logs", failed.ID, []string{`id="tool-logs"`,
			`<a href="https://dl.example.org/fbs/y/logs/livemedia.log">livemedia.log</a>`, "2.0 KiB",
			`id="tool-error"`, `<a href="https://dl.example.org/fbs/y/logs/anaconda/packaging.log">logs/anaconda/packaging.log</a>`,
			"line 2:", "ERR packaging: &lt;no package&gt; matched nosuchpkg", "see logs/anaconda/packaging.log line 2"}, nil},
		{"no tool logs", plain.ID, nil, []string{`id="tool-logs"`, `id="tool-error"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.get(t, "/builds/"+tc.id)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			for _, s := range tc.has {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range tc.hasNot {
				if strings.Contains(body, s) {
					t.Errorf("page has %q", s)
				}
			}
		})
	}
}
