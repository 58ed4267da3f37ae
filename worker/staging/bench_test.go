//go:build bench

package staging

// The staging benchmark: a 2 GiB upload to a local OpenSSH server by fbs,
// by OpenSSH's sftp (put) and by scp, in the same run. Run it with
//
//	go test -tags bench -run TestBenchmarkSFTP -v -timeout 30m ./worker/staging/
//
// FBS_BENCH_SIZE (bytes) changes the file size.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/testing/sshtest"
	"github.com/fedora-fbs/fbs/worker/progress"
)

// benchResult is what the child process reports.
type benchResult struct {
	Upload, Verify, Total time.Duration
}

// TestBenchChild is the fbs side, run in a child process so its peak RSS
// is its own.
func TestBenchChild(t *testing.T) {
	file, url := os.Getenv("FBS_BENCH_FILE"), os.Getenv("FBS_BENCH_URL")
	if file == "" {
		t.Skip("only run by TestBenchmarkSFTP")
	}
	var res benchResult
	sent := regexp.MustCompile(`bytes sent in (\S+)`)
	verified := regexp.MustCompile(`verified size and sha256 \S+ in (\S+)`)
	opts := Options{Egress: egress.Open(), SSHKey: os.Getenv("FBS_BENCH_KEY"), KnownHosts: os.Getenv("FBS_BENCH_KNOWN_HOSTS")}
	opts.Logf = func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		fmt.Fprintln(os.Stderr, line)
		if m := sent.FindStringSubmatch(line); m != nil {
			res.Upload, _ = time.ParseDuration(m[1])
		}
		if m := verified.FindStringSubmatch(line); m != nil {
			res.Verify, _ = time.ParseDuration(m[1])
		}
	}
	start := time.Now()
	s, err := Open(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(context.Background(), "", []string{file}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	res.Total = time.Since(start)
	b, _ := json.Marshal(res)
	fmt.Printf("RESULT %s\n", b)
}

func TestBenchmarkSFTP(t *testing.T) {
	size := int64(2 << 30)
	if v := os.Getenv("FBS_BENCH_SIZE"); v != "" {
		size, _ = strconv.ParseInt(v, 10, 64)
	}
	srv := sshtest.Start(t, sshtest.Options{})
	src := filepath.Join(t.TempDir(), "bench.iso")
	writeNoise(t, src, size)
	dst := t.TempDir()
	sshOpts := []string{"-i", srv.KeyFile, "-o", "UserKnownHostsFile=" + srv.KnownHosts, "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-P", strconv.Itoa(srv.Port)}
	target := srv.User + "@" + srv.Host
	mbps := func(d time.Duration) string { return fmt.Sprintf("%.0f MB/s", float64(size)/d.Seconds()/1e6) }
	run := func(name string, cmd *exec.Cmd) (time.Duration, int64) {
		t.Helper()
		os.Remove(filepath.Join(dst, "bench.iso"))
		start := time.Now()
		out, err := cmd.CombinedOutput()
		d := time.Since(start)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		fi, err := os.Stat(filepath.Join(dst, "bench.iso"))
		if err != nil || fi.Size() != size {
			t.Fatalf("%s did not upload the file: %v", name, err)
		}
		return d, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	}

	batch := filepath.Join(t.TempDir(), "batch")
	os.WriteFile(batch, []byte("put "+src+" "+dst+"/bench.iso\n"), 0o644)
	sftpT, sftpRSS := run("sftp", exec.Command("sftp", append(append([]string{}, sshOpts...), "-b", batch, target)...))
	scpT, scpRSS := run("scp", exec.Command("scp", append(append([]string{}, sshOpts...), src, target+":"+dst+"/")...))
	scpOT, _ := run("scp -O", exec.Command("scp", append(append([]string{"-O"}, sshOpts...), src, target+":"+dst+"/")...))

	res, fbsRSS := runChild(t, srv, src, dst)
	// The same against an SFTP-only account, where the file is read back.
	srvRO := sshtest.Start(t, sshtest.Options{NoExec: true})
	dst2 := t.TempDir()
	resRB, rbRSS := runChild(t, srvRO, src, dst2)
	t.Logf("file: %d bytes", size)
	t.Logf("OpenSSH sftp put: %8s  %s  (peak RSS %d MB)", sftpT.Round(time.Millisecond), mbps(sftpT), sftpRSS>>10)
	t.Logf("scp (SFTP mode):  %8s  %s  (peak RSS %d MB)", scpT.Round(time.Millisecond), mbps(scpT), scpRSS>>10)
	t.Logf("scp -O (legacy):  %8s  %s", scpOT.Round(time.Millisecond), mbps(scpOT))
	t.Logf("fbs upload:       %8s  %s  = %.0f%% of sftp", res.Upload, mbps(res.Upload), 100*sftpT.Seconds()/res.Upload.Seconds())
	t.Logf("fbs verification: %8s  (size + sha256, local and remote hashes in parallel)", res.Verify)
	t.Logf("fbs total:        %8s  %s  (connect + upload + verify + rename)", res.Total.Round(time.Millisecond), mbps(res.Total))
	t.Logf("fbs peak RSS:     %d MB", fbsRSS>>10)
	t.Logf("fbs on an SFTP-only account: upload %s (%s), verification by reading back %s, peak RSS %d MB",
		resRB.Upload, mbps(resRB.Upload), resRB.Verify, rbRSS>>10)
}

// runChild runs TestBenchChild in a child process and returns its result
// and peak RSS in KiB.
func runChild(t *testing.T, srv *sshtest.Server, src, dst string) (benchResult, int64) {
	t.Helper()
	os.Remove(filepath.Join(dst, "bench.iso")) // left by scp: it would be skipped as already staged
	child := exec.Command(os.Args[0], "-test.run=^TestBenchChild$", "-test.v")
	child.Env = append(os.Environ(), "FBS_BENCH_FILE="+src, "FBS_BENCH_URL="+srv.URL(dst),
		"FBS_BENCH_KEY="+srv.KeyFile, "FBS_BENCH_KNOWN_HOSTS="+srv.KnownHosts)
	out, err := child.CombinedOutput()
	if err != nil {
		t.Fatalf("fbs child: %v\n%s", err, out)
	}
	var res benchResult
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if j, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			json.Unmarshal([]byte(j), &res)
		}
	}
	if res.Upload == 0 {
		t.Fatalf("no result from the child:\n%s", out)
	}
	return res, child.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
}

// writeNoise writes size incompressible bytes quickly.
func writeNoise(t *testing.T, path string, size int64) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, 4<<20)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		r.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		left -= n
	}
}

// TestBenchmarkProgress measures what progress reporting costs a real
// transfer: the same SFTP upload to a local OpenSSH server, alternately
// without a meter and with the production one (a count per chunk, a line
// every 2 s), five times each; it reports the medians and their ratio.
//
//	flock /tmp/fbs-bench.lock go test -tags bench -run TestBenchmarkProgress -v -timeout 30m ./worker/staging/
//
// FBS_BENCH_SIZE (bytes, default 512 MiB) changes the file size.
func TestBenchmarkProgress(t *testing.T) {
	size := int64(512 << 20)
	if v := os.Getenv("FBS_BENCH_SIZE"); v != "" {
		size, _ = strconv.ParseInt(v, 10, 64)
	}
	srv := sshtest.Start(t, sshtest.Options{})
	src := filepath.Join(t.TempDir(), "bench.iso")
	writeNoise(t, src, size)
	dst := t.TempDir()
	var lines int
	put := func(withProgress bool) time.Duration {
		t.Helper()
		os.Remove(filepath.Join(dst, "bench.iso"))
		opts := Options{Egress: egress.Open(), SSHKey: srv.KeyFile, KnownHosts: srv.KnownHosts}
		if withProgress {
			opts.Progress = &progress.Reporter{Log: func(string, ...any) { lines++ }}
		}
		tg, err := check(srv.URL(dst), opts)
		if err != nil {
			t.Fatal(err)
		}
		s, err := openSFTP(context.Background(), tg, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		f, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		// The upload alone: the verification after it does not meter.
		start := time.Now()
		if _, err := writeFile(context.Background(), s, filepath.Join(dst, "bench.iso"), &localFile{path: src, name: "bench.iso", size: size}, 0, opts.Progress); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	var without, with []time.Duration
	for range 5 {
		without = append(without, put(false))
		with = append(with, put(true))
	}
	median := func(ds []time.Duration) time.Duration {
		s := append([]time.Duration(nil), ds...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[len(s)/2]
	}
	mw, mp := median(without), median(with)
	mbps := func(d time.Duration) string { return fmt.Sprintf("%.0f MB/s", float64(size)/d.Seconds()/1e6) }
	t.Logf("file: %d bytes over SFTP, 5 uploads each, alternating", size)
	t.Logf("without progress: median %s (%s), all %v", mw.Round(time.Millisecond), mbps(mw), without)
	t.Logf("with progress:    median %s (%s), all %v, %d progress lines", mp.Round(time.Millisecond), mbps(mp), with, lines)
	t.Logf("ratio with/without: %.3f", mp.Seconds()/mw.Seconds())
}
