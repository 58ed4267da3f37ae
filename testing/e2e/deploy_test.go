package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/testing/hosttest"
	"github.com/fedora-fbs/fbs/testing/isotest"
)

// TestDeployRollout deploys the whole service with fbs deploy to three
// real hosts (testing/hosttest: systemd and OpenSSH in network namespaces):
// h1 runs Redis, the web app and the monitor, h2 and h3 are workers. It
// builds a kickstart ISO through the web API on a deployed worker, upgrades
// every host to a newer fbs while a build runs (the build finishes, once,
// and the workers' heartbeats show the new version), then deploys a binary
// that exits at start and sees h1 rolled back, still answering, and the
// rollout stopped before the workers.
func TestDeployRollout(t *testing.T) {
	t.Parallel()
	lab := hosttest.Start(t, "h1", "h2", "h3")
	for _, h := range lab.Hosts {
		t.Logf("host %s (%s) booted in %s", h.Name, h.Addr, h.BootTime.Round(time.Millisecond))
	}
	h1 := lab.Host(t, "h1")
	t.Cleanup(func() {
		if t.Failed() {
			for _, h := range lab.Hosts {
				t.Logf("journal of %s:\n%s", h.Name, lab.Run(t, h, "journalctl --no-pager -n 80 -u 'fbs-*' 2>&1 || true"))
			}
		}
	})
	dir := t.TempDir()
	v1 := buildVersion(t, dir, "1.0.0-e2e")
	v2 := buildVersion(t, dir, "2.0.0-e2e")
	broken := filepath.Join(dir, "fbs-broken")
	// Answers `version` like fbs (so the deploying side accepts it) and
	// exits at once as a service.
	writeMode(t, broken, "#!/bin/sh\nif [ \"$1\" = version ]; then echo 'fbs 3.0.0-broken (go, linux/amd64)'; exit 0; fi\necho 'fbs: broken on purpose' >&2\nexit 1\n", 0o755)

	isoSrv := newGatedISOServer(t, lab.Gateway, isotest.BootISO(t, volID))
	file := filepath.Join(dir, "deploy.conf")
	writeMode(t, file, deployFile(lab), 0o644)

	// Hosts a known_hosts file does not list are refused, unless
	// --accept-new, which records their keys.
	fresh := filepath.Join(dir, "fresh_known_hosts")
	writeMode(t, fresh, "", 0o600)
	freshFile := filepath.Join(dir, "fresh.conf")
	writeMode(t, freshFile, strings.Replace(deployFile(lab), "known_hosts = "+lab.KnownHosts, "known_hosts = "+fresh, 1), 0o644)
	if out := deployCmd(t, 1, "status", freshFile); strings.Count(out, "cannot ask") != 3 {
		t.Errorf("status with an empty known_hosts:\n%s", out)
	}
	deployCmd(t, 0, "status", freshFile, "--accept-new")
	if known, _ := os.ReadFile(fresh); strings.Count(string(known), "\n") != 3 {
		t.Errorf("known_hosts after --accept-new:\n%s", known)
	}

	// First contact: plan says everything is new and changes nothing.
	out := deployCmd(t, 0, "plan", file, "--binary", v1)
	for _, want := range []string{"binary: none -> 1.0.0-e2e", "create /etc/fbs/fbs.conf", "create /etc/systemd/system/fbs-worker.service", "unit fbs-web.service: inactive"} {
		if !strings.Contains(out, want) {
			t.Errorf("first plan lacks %q:\n%s", want, out)
		}
	}
	if got := lab.Run(t, h1, "ls /etc/fbs 2>&1 || true"); !strings.Contains(got, "No such file") {
		t.Errorf("plan changed h1: /etc/fbs has %q", got)
	}

	t0 := time.Now()
	out = deployCmd(t, 0, "apply", file, "--binary", v1)
	t.Logf("three-host deploy took %s:\n%s", time.Since(t0).Round(time.Millisecond), out)
	status := deployCmd(t, 0, "status", file)
	for _, want := range []string{"unit fbs-web.service: active, enabled, /healthz ok", "unit fbs-monitor.service: active, enabled, /healthz ok",
		"worker h2/", "worker h3/", "version 1.0.0-e2e"} {
		if !strings.Contains(status, want) {
			t.Errorf("status after the first apply lacks %q:\n%s", want, status)
		}
	}
	if out := deployCmd(t, 0, "plan", file, "--binary", v1); strings.Count(out, ": up to date") != 3 {
		t.Errorf("plan after apply is not up to date on the three hosts:\n%s", out)
	}

	// A kickstart ISO build through the web API (on h1's loopback,
	// through SSH) succeeds on a deployed worker.
	web := webClient(t, lab, h1)
	// The staging area (file_root, the default under data_dir) is the
	// operator's, not fbs deploy's.
	for _, h := range lab.Hosts[1:] {
		lab.Run(t, h, "mkdir -p /var/lib/fbs/staging")
	}
	id := submitKSISO(t, web, isoSrv.url+"/first/boot.iso")
	rec := waitBuild(t, web, id, 2*time.Minute)
	if rec.State != "succeeded" {
		t.Fatalf("build %s on the deployed service: %s: %s", id, rec.State, rec.Error)
	}
	firstAttempt := rec.Attempt

	// Upgrade while a build runs: its ISO download is held until the
	// worker running it drains.
	isoSrv.hold()
	id = submitKSISO(t, web, isoSrv.url+"/second/boot.iso")
	isoSrv.waitRequest(t, time.Minute)
	var wg sync.WaitGroup
	var upgrade string
	wg.Add(1)
	go func() {
		defer wg.Done()
		upgrade = deployCmd(t, 0, "apply", file, "--binary", v2)
	}()
	draining := waitDraining(t, lab, h1, id, 3*time.Minute)
	isoSrv.open()
	wg.Wait()
	t.Logf("upgrade (build %s ran on %s, drained):\n%s", id, draining, upgrade)
	rec = waitBuild(t, web, id, 2*time.Minute)
	if rec.State != "succeeded" || rec.Attempt != firstAttempt {
		t.Errorf("build %s across the upgrade: %s, attempt %d: %s", id, rec.State, rec.Attempt, rec.Error)
	}
	for _, d := range regexp.MustCompile(`(h[23]): stopped fbs-worker.service \(drained\) in (\S+)`).FindAllStringSubmatch(upgrade, -1) {
		t.Logf("worker %s stopped in %s", d[1], d[2])
	}
	status = deployCmd(t, 0, "status", file)
	if n := strings.Count(status, "version 2.0.0-e2e"); n != 2 {
		t.Errorf("status after the upgrade: %d workers on 2.0.0-e2e, want 2:\n%s", n, status)
	}

	// A binary that exits at start: h1 is rolled back and answers; the
	// workers are not touched.
	out = deployCmd(t, 1, "apply", file, "--binary", broken, "--check-timeout", "15s")
	t.Logf("apply of a binary that exits at start:\n%s", out)
	for _, want := range []string{"h1: FAILED, rolled back", "not touched (rollout stopped): h2, h3"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply of a broken binary lacks %q:\n%s", want, out)
		}
	}
	status = deployCmd(t, 0, "status", file)
	for _, want := range []string{"installed: 2.0.0-e2e", "fbs-web.service: active, enabled, /healthz ok", "fbs-monitor.service: active, enabled, /healthz ok"} {
		if !strings.Contains(status, want) {
			t.Errorf("status after the rollback lacks %q:\n%s", want, status)
		}
	}
	if got := lab.Run(t, h1, "ls /etc/fbs /etc/systemd/system | grep -c fbs-prev || true"); strings.TrimSpace(got) != "0" {
		t.Errorf("backups left on h1 after the rollback: %s", got)
	}
}

// buildVersion builds fbs as release version into dir.
func buildVersion(t *testing.T, dir, version string) string {
	t.Helper()
	out := filepath.Join(dir, "fbs-"+version)
	cmd := exec.Command("go", "build", "-ldflags", "-X github.com/fedora-fbs/fbs/tasks/version.release="+version, "-o", out, "../..")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build fbs %s: %v\n%s", version, err, b)
	}
	return out
}

func writeMode(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// deployFile is the deploy file of the lab: Redis, web and monitor on h1,
// workers on h2 and h3, allowed to fetch ISOs from the test's gateway.
func deployFile(lab *hosttest.Lab) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[deploy]\nuser = root\nkey = %s\nknown_hosts = %s\n\n", lab.KeyFile, lab.KnownHosts)
	fmt.Fprintf(&b, "[host h1]\naddress = %s\nroles = redis, web, monitor\n\n", lab.Hosts[0].Addr)
	for _, h := range lab.Hosts[1:] {
		fmt.Fprintf(&b, "[host %s]\naddress = %s\nroles = worker\narch = x86_64\nreleases = 41\n\n", h.Name, h.Addr)
	}
	fmt.Fprintf(&b, "[conf]\nreleases.list = 41\nsecurity.allow_networks = %s\nworker.drain_timeout = 3m\n", lab.Network)
	return b.String()
}

// deployCmd runs fbs deploy with args and wants exit status code; it
// returns stdout.
func deployCmd(t *testing.T, code int, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, fbsBin, append([]string{"deploy"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	got := 0
	if ee, ok := err.(*exec.ExitError); ok {
		got = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("fbs deploy %s: %v", strings.Join(args, " "), err)
	}
	if got != code {
		t.Fatalf("fbs deploy %s: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, code, out.String(), errb.String())
	}
	return out.String()
}

// webClient is an HTTP client whose connections go through SSH to host,
// so that it reaches the web app where it listens, on the host's
// loopback.
func webClient(t *testing.T, lab *hosttest.Lab, h *hosttest.Host) *http.Client {
	sc := lab.SSH(t, h)
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return sc.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// webURL is the web app's address on h1, as deployed (the default).
const webURL = "http://127.0.0.1:5000"

// submitKSISO submits a kickstart ISO build of iso through the API.
func submitKSISO(t *testing.T, web *http.Client, iso string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"spec": map[string]any{"type": "ksiso", "arch": "x86_64", "release": "41", "staging": "file:///var/lib/fbs/staging",
			"ksiso": map[string]any{"iso": iso, "config": "main.ks"}},
		"kickstarts": map[string]string{"main.ks": "text\nlang en_US.UTF-8\nrootpw --lock\n%packages\n@core\n%end\n"},
	})
	res, err := web.Post(webURL+"/api/v1/builds", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var got struct {
		Build struct {
			ID string `json:"id"`
		} `json:"build"`
	}
	if res.StatusCode != http.StatusCreated || json.Unmarshal(data, &got) != nil || got.Build.ID == "" {
		t.Fatalf("submit: %d %s", res.StatusCode, data)
	}
	return got.Build.ID
}

// buildRecord is what the test reads of a build.
type buildRecord struct {
	State   string `json:"state"`
	Error   string `json:"error"`
	Attempt int    `json:"attempt"`
	Worker  string `json:"worker"`
}

// waitBuild polls the build's record until it ended.
func waitBuild(t *testing.T, web *http.Client, id string, limit time.Duration) buildRecord {
	t.Helper()
	deadline := time.Now().Add(limit)
	var rec buildRecord
	for time.Now().Before(deadline) {
		res, err := web.Get(webURL + "/api/v1/builds/" + id)
		if err == nil {
			data, _ := io.ReadAll(res.Body)
			res.Body.Close()
			rec = buildRecord{}
			if json.Unmarshal(data, &rec) == nil {
				switch rec.State {
				case "succeeded", "failed", "cancelled":
					return rec
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	if res, err := web.Get(webURL + "/builds/" + id + "/log"); err == nil {
		data, _ := io.ReadAll(res.Body)
		res.Body.Close()
		t.Logf("log of build %s:\n%s", id, data)
	}
	t.Fatalf("build %s not done within %s: %+v", id, limit, rec)
	return rec
}

// waitDraining polls the heartbeats (fbs workers on h1) until the worker
// running build id drains, and returns its ID.
func waitDraining(t *testing.T, lab *hosttest.Lab, h1 *hosttest.Host, id string, limit time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		out := lab.Run(t, h1, "/usr/local/bin/fbs --config /etc/fbs/fbs.conf workers --json")
		dec := json.NewDecoder(strings.NewReader(out))
		for dec.More() {
			var w struct {
				ID       string   `json:"id"`
				Builds   []string `json:"builds"`
				Draining bool     `json:"draining"`
			}
			if dec.Decode(&w) != nil {
				break
			}
			for _, b := range w.Builds {
				if b == id && w.Draining {
					return w.ID
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("no worker drained while running build %s within %s", id, limit)
	return ""
}

// gatedISOServer serves one ISO over HTTP on the lab's gateway, as any
// path ending in /boot.iso (each build names its own, so that no worker
// has it cached); while
// held, it sends the first half of the ISO and waits to be opened before
// sending the rest, so a build stays in its download as long as the test
// wants.
type gatedISOServer struct {
	url      string
	mu       sync.Mutex
	gate     chan struct{}
	requests chan struct{}
}

func newGatedISOServer(t *testing.T, addr, iso string) *gatedISOServer {
	t.Helper()
	data, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	s := &gatedISOServer{url: "http://" + ln.Addr().String(), gate: make(chan struct{}), requests: make(chan struct{}, 16)}
	close(s.gate)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/boot.iso") {
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		gate := s.gate
		s.mu.Unlock()
		if r.Method == http.MethodGet {
			select {
			case s.requests <- struct{}{}:
			default:
			}
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		if r.Method == http.MethodHead {
			return
		}
		half := len(data) / 2
		w.Write(data[:half])
		w.(http.Flusher).Flush()
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		w.Write(data[half:])
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { s.open(); srv.Close() })
	return s
}

// hold makes downloads wait halfway until open.
func (s *gatedISOServer) hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = make(chan struct{})
	for len(s.requests) > 0 {
		<-s.requests
	}
}

// open lets every download finish.
func (s *gatedISOServer) open() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.gate:
	default:
		close(s.gate)
	}
}

// waitRequest waits for a download to start.
func (s *gatedISOServer) waitRequest(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case <-s.requests:
	case <-time.After(limit):
		t.Fatalf("no worker fetched the ISO within %s", limit)
	}
}
