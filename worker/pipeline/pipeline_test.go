package pipeline_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/isotest"
	"github.com/fedora-fbs/fbs/testing/loraxtest"
	"github.com/fedora-fbs/fbs/worker/builder"
	"github.com/fedora-fbs/fbs/worker/buildlog"
	"github.com/fedora-fbs/fbs/worker/pipeline"
	"github.com/fedora-fbs/fbs/worker/staging"
	"github.com/google/go-cmp/cmp"
)

type fixture struct {
	pipe    *pipeline.Pipeline
	dir     string
	staging string
	isoDir  string
}

func setup(t *testing.T, local bool) *fixture {
	t.Helper()
	return setupWith(t, func(c *pipeline.Config) { c.Local = local })
}

// setupWith is setup with the pipeline's configuration changed by mut.
func setupWith(t *testing.T, mut func(*pipeline.Config)) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	f.staging = filepath.Join(f.dir, "staging")
	f.isoDir = filepath.Join(f.dir, "isos")
	for _, d := range []string{f.staging, f.isoDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(isotest.BootISO(t, "FBS-TEST"), filepath.Join(f.isoDir, "boot.iso")); err != nil {
		t.Fatal(err)
	}
	cfg := pipeline.Config{
		DataDir: filepath.Join(f.dir, "data"), ISODir: f.isoDir,
		Staging: staging.Options{FileRoot: f.staging},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	mut(&cfg)
	p, err := pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.pipe = p
	f.staging = "file://" + f.staging
	return f
}

func (f *fixture) run(t *testing.T, p *tasks.Payload) (*pipeline.Result, string, error) {
	t.Helper()
	if p.ID == "" {
		p.ID = tasks.NewBuildID()
	}
	path := f.pipe.LogPath(p.ID)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := buildlog.Create(path, buildlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	res, runErr := f.pipe.Run(context.Background(), p, l, pipeline.Observer{Stage: func(st tasks.StageTiming, done bool) {
		if done {
			stages = append(stages, string(st.Stage))
		}
	}})
	l.Close()
	return res, strings.Join(stages, ","), runErr
}

func ksisoPayload(staging, iso, ks string) *tasks.Payload {
	return &tasks.Payload{Owner: "t", KickstartName: "t.ks", Kickstart: ks,
		Spec: tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "41", Staging: staging,
			KSISO: &tasks.KSISOSpec{ISO: iso, Config: "t.ks"}}}
}

func TestRun(t *testing.T) {
	t.Parallel()
	f := setup(t, false)
	res, stages, err := f.run(t, ksisoPayload(f.staging, "boot.iso", "text\nrootpw --lock\n"))
	if err != nil {
		t.Fatal(err)
	}
	if stages != "fetch,flatten,build,checksum,transfer" || !res.Built {
		t.Errorf("stages %q built %v", stages, res.Built)
	}
	var names []string
	for _, a := range res.Artifacts {
		names = append(names, a.Name)
	}
	if got := strings.Join(names, ","); got != "boot-ks.iso,CHECKSUM,kickstart.ks,build.log" {
		t.Errorf("artifacts %s", got)
	}
	if _, err := os.Stat(res.OutDir); !os.IsNotExist(err) {
		t.Errorf("images kept on the worker after staging (keep_builds 0): %v", err)
	}
}

// The worker reads the kickstart with the release's syntax: vnc, removed
// in Fedora 45, is still release 41's.
func TestRunReleaseSyntax(t *testing.T) {
	t.Parallel()
	f := setup(t, false)
	p := ksisoPayload(f.staging, "boot.iso", "text\nvnc --password=secret\nrootpw --lock\n")
	if _, _, err := f.run(t, p); err != nil {
		t.Fatal(err)
	}
	ks, err := os.ReadFile(filepath.Join(strings.TrimPrefix(f.staging, "file://"), p.ID, "kickstart.ks"))
	if err != nil || !strings.Contains(string(ks), "\n#version=F41\n") || !strings.Contains(string(ks), "\nvnc --password=secret\n") {
		t.Errorf("staged kickstart (%v):\n%s", err, ks)
	}
}

func TestRunRefuses(t *testing.T) {
	t.Parallel()
	f := setup(t, false)
	outside := "file://" + filepath.Join(f.dir, "elsewhere")
	tests := []struct {
		name  string
		p     *tasks.Payload
		stage tasks.Stage
		want  string
	}{
		// A request never makes a worker read its own files, whatever the
		// kickstart says: the payload must already be flat.
		{"include of a worker file", ksisoPayload(f.staging, "boot.iso", "%include /etc/passwd\n"), tasks.StageFlatten, "passwd"},
		{"relative include", ksisoPayload(f.staging, "boot.iso", "%include ../../x.ks\n"), tasks.StageFlatten, "x.ks"},
		{"local ISO path from a remote request", ksisoPayload(f.staging, filepath.Join(f.isoDir, "boot.iso"), "text\n"), tasks.StageFetch, "boot.iso"},
		{"missing ISO", ksisoPayload(f.staging, "nope.iso", "text\n"), tasks.StageFetch, "nope.iso"},
		{"staging outside file_root", ksisoPayload(outside, "boot.iso", "text\n"), tasks.StageTransfer, "elsewhere"},
		{"no kickstart text", ksisoPayload(f.staging, "boot.iso", ""), tasks.StageFlatten, "no kickstart"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, _, err := f.run(t, tc.p)
			var se *pipeline.StageError
			if !errors.As(err, &se) || se.Stage != tc.stage || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v (stage %q), want stage %s naming %q", err, res.Failed, tc.stage, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(f.dir, "elsewhere")); !os.IsNotExist(err) {
		t.Errorf("a remote request made the worker write outside file_root: %v", err)
	}
}

func TestRunLocalMayUseLocalISO(t *testing.T) {
	t.Parallel()
	f := setup(t, true)
	if _, _, err := f.run(t, ksisoPayload(f.staging, filepath.Join(f.isoDir, "boot.iso"), "text\n")); err != nil {
		t.Fatalf("local build from a local ISO: %v", err)
	}
}

// TestRunKSISOOptions checks that [ksiso] updates names a file in the
// worker's iso_dir, which ends up on the staged ISO with the new volume ID.
func TestRunKSISOOptions(t *testing.T) {
	t.Parallel()
	f := setup(t, false)
	if err := os.WriteFile(filepath.Join(f.isoDir, "updates.img"), []byte("not an updates image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := ksisoPayload(f.staging, "boot.iso", "text\n")
	p.Spec.KSISO.Updates, p.Spec.KSISO.VolID = "updates.img", "FBS-KS"
	_, _, err := f.run(t, p)
	if err != nil {
		t.Fatal(err)
	}
	info := isotest.Inspect(t, filepath.Join(strings.TrimPrefix(f.staging, "file://"), p.ID, "boot-ks.iso"))
	if info.VolumeID != "FBS-KS" || !slices.Contains(info.Paths, "updates.img") {
		t.Errorf("staged ISO: volume ID %q, files %q; want FBS-KS and updates.img", info.VolumeID, info.Paths)
	}
	if !strings.Contains(info.Files["EFI/BOOT/grub.cfg"], "inst.updates=hd:LABEL=FBS-KS:/updates.img") {
		t.Errorf("EFI/BOOT/grub.cfg has no inst.updates:\n%s", info.Files["EFI/BOOT/grub.cfg"])
	}
}

func livePayload(staging string) *tasks.Payload {
	return &tasks.Payload{Owner: "t", KickstartName: "live.ks", Kickstart: "text\nrootpw --lock\n",
		Spec: tasks.Spec{Type: tasks.TypeLive, Arch: "x86_64", Release: "41", Staging: staging,
			Live: &tasks.LiveSpec{Label: "FBS-Live", Config: "live.ks", Builder: tasks.BuilderLiveMedia}}}
}

// TestRunStagesToolLogs runs a livemedia-creator stand-in that writes its
// logs as the real one does: they are staged under <id>/logs/ after a
// success and after a failure, and a failure names the log and line of the
// tool's error.
func TestRunStagesToolLogs(t *testing.T) {
	t.Parallel()
	wantLogs := []string{"anaconda/dnf.librepo.log", "anaconda/packaging.log", "anaconda/program.log", "livemedia.log", "program.log"}
	for _, tc := range []struct {
		name    string
		outcome loraxtest.Outcome
		err     *tasks.LogExcerpt
	}{
		{"success", loraxtest.Succeed, nil},
		{"failure", loraxtest.Fail, &tasks.LogExcerpt{Log: "anaconda/packaging.log", Line: 2, Lines: []string{loraxtest.PackagingError}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lmc := loraxtest.LiveMediaCreator(t, tc.outcome)
			f := setupWith(t, func(c *pipeline.Config) { c.Tools = builder.Tools{"livemedia-creator": lmc} })
			p := livePayload(f.staging)
			res, _, err := f.run(t, p)
			if (err != nil) != (tc.outcome == loraxtest.Fail) {
				t.Fatalf("run: %v", err)
			}
			var names []string
			for _, a := range res.Logs {
				names = append(names, a.Name)
				path := filepath.Join(strings.TrimPrefix(f.staging, "file://"), p.ID, "logs", filepath.FromSlash(a.Name))
				data, rerr := os.ReadFile(path)
				if rerr != nil || int64(len(data)) != a.Size || a.URL != "file://"+path {
					t.Errorf("%s: staged %d bytes (%v) at %s, record says %d bytes at %s", a.Name, len(data), rerr, path, a.Size, a.URL)
				}
			}
			sort.Strings(names)
			if d := cmp.Diff(wantLogs, names); d != "" {
				t.Errorf("staged tool logs (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.err, res.ToolError); d != "" {
				t.Errorf("tool error (-want +got):\n%s", d)
			}
			if tc.err != nil && !strings.Contains(err.Error(), "see logs/anaconda/packaging.log line 2") {
				t.Errorf("failure summary does not name the log and line: %v", err)
			}
		})
	}
}
