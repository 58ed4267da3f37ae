package kickstarts

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// corpusDir is ../shared/fedora-kickstarts from the repository root.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root (go.mod) not found")
		}
		dir = parent
	}
	c := filepath.Join(dir, "..", "shared", "fedora-kickstarts")
	if _, err := os.Stat(c); err != nil {
		t.Fatalf("test corpus: %v", err)
	}
	return c
}

// corpusFiles lists every kickstart of the corpus, relative to it.
func corpusFiles(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ks") {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 100 {
		t.Fatalf("only %d kickstarts in %s", len(files), dir)
	}
	return files
}

// knownBad are the corpus files that must be rejected, with the error.
var knownBad = map[string]string{
	"fedora-eln-guest.ks":          "fedora-eln-guest.ks:12: auth has been removed.",
	"fedora-modular-arm-server.ks": "fedora-modular-arm-server.ks:1: include fedora-arm-base.ks: not found",
	"custom/qa-test-day.ks":        "custom/qa-test-day.ks:120: include qa-test-day-welcome.js: not found",
}

// missingInclude matches the error for an include absent from the snapshot.
var missingInclude = regexp.MustCompile(`^(l10n/[^:]+):\d+: include (\.\./[a-z-]+\.ks): not found`)

func TestCorpus(t *testing.T) {
	t.Parallel()
	dir := corpusDir(t)
	flattened := 0
	for _, rel := range corpusFiles(t, dir) {
		t.Run(rel, func(t *testing.T) {
			path := filepath.Join(dir, rel)
			r, err := Flatten(context.Background(), path, Options{})
			if want, bad := knownBad[rel]; bad {
				if err == nil || !strings.HasSuffix(strings.SplitN(err.Error(), " (", 2)[0], want) {
					t.Fatalf("error = %v, want it to end in %q", err, want)
				}
				return
			}
			if err != nil {
				m := missingInclude.FindStringSubmatch(strings.TrimPrefix(err.Error(), dir+"/"))
				if m == nil || !errors.Is(err, ErrNotFound) {
					t.Fatalf("Flatten: %v", err)
				}
				if _, serr := os.Stat(filepath.Join(dir, filepath.Dir(m[1]), m[2])); serr == nil {
					t.Fatalf("Flatten says %s is missing, but it is there: %v", m[2], err)
				}
				return
			}
			flattened++
			checkFlat(t, r.Text)
			// Flattening the output again gives it back: fbs's output
			// re-parses to the same merged state.
			again, err := FlattenFS(context.Background(), fstest.MapFS{rel: {Data: []byte(r.Text)}}, rel, Options{})
			if err != nil {
				t.Fatalf("flatten the output again: %v", err)
			}
			if diff := cmp.Diff(body(r.Text), body(again.Text)); diff != "" {
				t.Errorf("output changed when flattened again (-first +second):\n%s", diff)
			}
			// On a server the same tree flattens the same, confined; the
			// files under subdirectories that include "../" are refused.
			c, err := Flatten(context.Background(), path, Options{Confined: true})
			switch {
			case err != nil && strings.Contains(rel, "/") && errors.Is(err, ErrRefused) && strings.Contains(err.Error(), "include ../"):
			case err != nil:
				t.Fatalf("confined: %v", err)
			default:
				if diff := cmp.Diff(body(r.Text), body(c.Text)); diff != "" {
					t.Errorf("confined output differs (-plain +confined):\n%s", diff)
				}
			}
		})
	}
	if flattened < 80 {
		t.Errorf("only %d corpus files flattened", flattened)
	}
}

// body is a flattened kickstart without its first line (which names the
// source).
func body(text string) string {
	_, b, _ := strings.Cut(text, "\n")
	return b
}

// checkFlat checks that text is really merged: each single-instance
// command once, at most one %packages section, no %include.
func checkFlat(t *testing.T, text string) {
	t.Helper()
	syn, err := lookupSyntax("")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[*command]string)
	packages := 0
	inSection := false
	for l := range strings.Lines(text) {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if f[0] == "%include" {
			t.Errorf("output has %q", l)
		}
		if inSection {
			if f[0] == "%end" {
				inSection = false
			}
			continue
		}
		if strings.HasPrefix(f[0], "%") {
			inSection = true
			if f[0] == "%packages" {
				packages++
			}
			continue
		}
		cmd := syn.commands[f[0]]
		if cmd == nil || cmd.kind == kindMulti {
			continue
		}
		if prev, ok := seen[cmd]; ok {
			t.Errorf("single-instance command given twice: %q and %q", prev, strings.TrimSpace(l))
		}
		seen[cmd] = strings.TrimSpace(l)
	}
	if packages > 1 {
		t.Errorf("%d %%packages sections", packages)
	}
}

// goldenFiles were flattened by fbs and checked against pykickstart's
// ksflatten: ksflatten gives the same output for the golden file as for
// the original tree (see TestKsflattenContract).
var goldenFiles = []string{
	"fedora-live-kde.ks",
	"fedora-live-workstation.ks",
	"fedora-disk-minimal.ks",
	"fedora-cloud-base.ks",
	"fedora-container-base.ks",
	"fedora-iot.ks",
	"fedora-live-soas.ks",
}

// mergeCases are trees under testdata/merge written to exercise the merge
// rules, checked against ksflatten the same way.
var mergeCases = []string{"commands", "packages", "scripts"}

// goldenInputs maps each golden file to the kickstart it flattens.
func goldenInputs(t testing.TB) map[string]string {
	dir := corpusDir(t)
	in := make(map[string]string)
	for _, name := range goldenFiles {
		in[name] = filepath.Join(dir, name)
	}
	for _, c := range mergeCases {
		in["merge-"+c+".ks"] = filepath.Join("testdata", "merge", c, "main.ks")
	}
	return in
}

func TestGolden(t *testing.T) {
	t.Parallel()
	for name, path := range goldenInputs(t) {
		t.Run(name, func(t *testing.T) {
			r, err := Flatten(context.Background(), path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkFlat(t, r.Text)
			golden := filepath.Join("testdata", "golden", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(r.Text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), r.Text); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestKsflattenContract checks the contract against pykickstart:
// ksflatten on fbs's output gives what ksflatten gives on the original
// tree, for every corpus file both accept. It needs pykickstart's
// ksflatten: set FBS_KSFLATTEN to the command (e.g. "ksflatten", or a
// wrapper running a pykickstart checkout's tools/ksflatten.py).
func TestKsflattenContract(t *testing.T) {
	ksflatten := os.Getenv("FBS_KSFLATTEN")
	if ksflatten == "" {
		t.Skip("FBS_KSFLATTEN not set: the pykickstart comparison needs ksflatten")
	}
	dir := corpusDir(t)
	run := func(path string) (string, error) {
		cmd := exec.Command(ksflatten, "-c", filepath.Base(path))
		cmd.Dir = filepath.Dir(path)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return "", errors.New(strings.TrimSpace(errb.String()))
		}
		// Drop the line naming the pykickstart version.
		return regexp.MustCompile(`(?m)^# Generated by pykickstart.*\n`).ReplaceAllString(out.String(), ""), nil
	}
	tmp := t.TempDir()
	compared := 0
	paths := make(map[string]string)
	for _, rel := range corpusFiles(t, dir) {
		paths[rel] = filepath.Join(dir, rel)
	}
	for _, c := range mergeCases {
		paths["merge/"+c] = filepath.Join("testdata", "merge", c, "main.ks")
	}
	for rel, path := range paths {
		orig, err := run(path)
		if err != nil {
			continue
		}
		r, err := Flatten(context.Background(), path, Options{})
		if err != nil {
			if strings.HasPrefix(rel, "templates/") {
				continue
			}
			t.Errorf("%s: ksflatten accepts it, fbs: %v", rel, err)
			continue
		}
		out := filepath.Join(tmp, strings.ReplaceAll(rel, "/", "_"))
		if err := os.WriteFile(out, []byte(r.Text), 0o644); err != nil {
			t.Fatal(err)
		}
		ours, err := run(out)
		if err != nil {
			t.Errorf("%s: ksflatten rejects fbs's output: %v", rel, err)
			continue
		}
		if diff := cmp.Diff(orig, ours); diff != "" {
			t.Errorf("%s: ksflatten(original) vs ksflatten(fbs output) (-orig +fbs):\n%s", rel, diff)
		}
		compared++
	}
	if compared < 60 {
		t.Errorf("only %d files compared", compared)
	}
	t.Logf("%d kickstarts (corpus and merge cases): ksflatten(fbs output) == ksflatten(original)", compared)
}
