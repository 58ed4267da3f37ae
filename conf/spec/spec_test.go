package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/kickstarts"
	"github.com/fedora-fbs/fbs/tasks"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// originalSpecs is where the original service's specs are, relative to this
// package's directory.
const originalSpecs = "../../../shared/original-specs"

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func resultJSON(t *testing.T, r *Result) []byte {
	t.Helper()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	return files
}

// parseGood parses path under its base name (so golden files do not depend
// on where the tree is) and checks the result against golden/<dir>/.
func parseGood(t *testing.T, path, dir string) *Result {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Parse(filepath.Base(path), data)
	if err != nil {
		t.Fatalf("Parse(%s): %v", path, err)
	}
	name := strings.TrimSuffix(filepath.Base(path), ".conf") + ".json"
	golden(t, filepath.Join("testdata", "golden", dir, name), resultJSON(t, r))
	roundTrip(t, r)
	return r
}

// roundTrip checks that Marshal gives text Parse reads back to the same
// spec, and that marshalling again gives the same text.
func roundTrip(t *testing.T, r *Result) {
	t.Helper()
	text := Marshal(&r.Spec)
	back, err := Parse("marshalled.conf", text)
	if err != nil {
		t.Fatalf("Parse(Marshal(spec)): %v\n%s", err, text)
	}
	if diff := cmp.Diff(r.Spec, back.Spec); diff != "" {
		t.Fatalf("Parse(Marshal(spec)) mismatch (-want +got):\n%s\n%s", diff, text)
	}
	if again := Marshal(&back.Spec); !bytes.Equal(again, text) {
		t.Fatalf("Marshal is not stable:\n%s\nthen\n%s", text, again)
	}
}

func TestParseGood(t *testing.T) {
	t.Parallel()
	for _, path := range glob(t, "testdata/good/*.conf") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			parseGood(t, path, "good")
		})
	}
}

func TestParseBad(t *testing.T) {
	t.Parallel()
	for _, path := range glob(t, "testdata/bad/*.conf") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Parse(filepath.Base(path), data)
			if err == nil {
				t.Fatalf("Parse(%s) = %+v, want an error", path, r.Spec)
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Parse(%s) error is %T, want Errors", path, err)
			}
			name := strings.TrimSuffix(filepath.Base(path), ".conf") + ".txt"
			golden(t, filepath.Join("testdata", "golden", "bad", name), []byte(err.Error()+"\n"))
		})
	}
}

// TestOriginalSpecs reads the original service's three specs unchanged.
func TestOriginalSpecs(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(originalSpecs); err != nil {
		t.Skipf("the original service's specs are not at %s (they live in the shared test data, /work/shared in CI): %v", originalSpecs, err)
	}
	want := map[string]tasks.ImageType{
		"boot_imagebuild.conf": tasks.TypeBoot,
		"dvd_imagebuild.conf":  tasks.TypeDVD,
		"live_imagebuild.conf": tasks.TypeLive,
	}
	for name, typ := range want {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := parseGood(t, filepath.Join(originalSpecs, name), "original")
			if r.Spec.Type != typ {
				t.Errorf("type = %s, want %s", r.Spec.Type, typ)
			}
			if len(r.Warnings) == 0 {
				t.Errorf("no warning about the ignored directory keys")
			}
		})
	}
}

// TestSamples parses the sample specs shipped in conf/.
func TestSamples(t *testing.T) {
	t.Parallel()
	for _, path := range glob(t, "../*_imagebuild.conf") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			r := parseGood(t, path, "sample")
			if len(r.Warnings) > 0 {
				t.Errorf("sample has warnings:\n%s", strings.Join(r.Warnings, "\n"))
			}
			if r.Spec.Staging != "file:///srv/fbs/staging" {
				t.Errorf("staging = %q, want file:///srv/fbs/staging", r.Spec.Staging)
			}
		})
	}
}

func TestParseFile(t *testing.T) {
	t.Parallel()
	r, err := ParseFile("../ksiso_imagebuild.conf")
	if err != nil {
		t.Fatal(err)
	}
	if r.Spec.KSISO == nil || r.Spec.KSISO.Config != "fbs-minimal-install" {
		t.Errorf("ParseFile gave %+v", r.Spec)
	}
	_, err = ParseFile("testdata/bad/missing.conf")
	if err == nil || !strings.HasPrefix(err.Error(), "testdata/bad/missing.conf:") {
		t.Errorf("ParseFile error %q does not start with the path", err)
	}
	if _, err := ParseFile("testdata/no-such.conf"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ParseFile of a missing file: %v, want ErrNotExist", err)
	}
}

// base is a valid ksiso spec the table tests change one line of.
const base = `[DEFAULT]
type=ksiso
arch=x86_64
release=42
staging=file:///srv/fbs/staging
[ksiso]
iso=https://example.org/netinst.iso
config=fedora-minimal
`

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want []string
	}{
		{
			name: "empty file",
			text: "",
			want: []string{
				"t.conf: [DEFAULT] type: missing: every spec needs one",
				"t.conf: [DEFAULT] arch: missing: every spec needs one",
				"t.conf: [DEFAULT] release: missing: every spec needs one",
				"t.conf: [DEFAULT] staging: missing: where the images go",
			},
		},
		{
			name: "bare host with path",
			text: strings.Replace(base, "staging=file:///srv/fbs/staging", "staging=host.example.org/pub", 1),
			want: []string{`t.conf:5: [DEFAULT] staging: staging "host.example.org/pub": neither a URL (file://, sftp://, ftp://, ftps://) nor a bare FTP host name`},
		},
		{
			name: "scheme",
			text: strings.Replace(base, "staging=file:///srv/fbs/staging", "staging=scp://me@host/dir", 1),
			want: []string{`t.conf:5: [DEFAULT] staging: staging URL scp://me@host/dir: unknown scheme "scp" (want file, sftp, ftp or ftps)`},
		},
		{
			name: "sftp without user",
			text: strings.Replace(base, "staging=file:///srv/fbs/staging", "staging=sftp://host/dir", 1),
			want: []string{`t.conf:5: [DEFAULT] staging: staging URL sftp://host/dir has no user: write sftp://user@host/dir`},
		},
		{
			name: "password in staging",
			text: strings.Replace(base, "staging=file:///srv/fbs/staging", "staging=ftp://me:hunter2@host/dir", 1),
			want: []string{`t.conf:5: [DEFAULT] staging: staging URL ftp://me@host/dir carries a password: specs are shown and mailed, give the worker the credentials instead`},
		},
		{
			name: "bad port",
			text: strings.Replace(base, "staging=file:///srv/fbs/staging", "staging=ftp://host:99999/dir", 1),
			want: []string{`t.conf:5: [DEFAULT] staging: staging URL ftp://host:99999/dir: bad port "99999"`},
		},
		{
			name: "relative file URL",
			text: strings.Replace(base, "staging=file:///srv/fbs/staging", "staging=file://", 1),
			want: []string{`t.conf:5: [DEFAULT] staging: staging URL file:: file:// needs an absolute directory (file:///dir)`},
		},
		{
			name: "email list",
			text: strings.Replace(base, "release=42\n", "release=42\nemail=a@x.org, b@x.org\n", 1),
			want: []string{`t.conf:5: [DEFAULT] email: "a@x.org, b@x.org" is not a single mail address`},
		},
		{
			name: "control character",
			text: strings.Replace(base, "cmdline", "", 1) + "cmdline=`a\rb`\n",
			want: []string{`t.conf:9: [ksiso] cmdline: value contains the control character U+000D`},
		},
		{
			name: "invalid UTF-8",
			text: base + "cmdline=\xff\n",
			want: []string{`t.conf:9: [ksiso] cmdline: value is not valid UTF-8`},
		},
		{
			name: "multi-line quoted value",
			text: base + "cmdline=\"\"\"one\ntwo\"\"\"\nbid=x\n",
			want: []string{
				`t.conf:9: [ksiso] cmdline: value contains the control character U+000A`,
				`t.conf:11: [ksiso] bid: malformed Koji build ID "x" (want a positive number)`,
			},
		},
		{
			name: "unclosed quote",
			text: base + "cmdline=`one\ntwo\n",
			want: []string{`t.conf:9: [ksiso]: quoted value is never closed`},
		},
		{
			name: "key before any section",
			text: "type=ksiso\n" + strings.Replace(base, "type=ksiso\n", "", 1),
			want: nil,
		},
		{
			name: "empty iso",
			text: strings.Replace(base, "iso=https://example.org/netinst.iso", "iso=", 1),
			want: []string{`t.conf:7: [ksiso] iso: must not be empty: required for type ksiso`},
		},
		{
			name: "iso URL scheme",
			text: strings.Replace(base, "iso=https://example.org/netinst.iso", "iso=ftp://example.org/netinst.iso", 1),
			want: []string{`t.conf:7: [ksiso] iso: "ftp://example.org/netinst.iso" has scheme "ftp" (want http, https)`},
		},
		{
			name: "config URL without host",
			text: strings.Replace(base, "config=fedora-minimal", "config=https:///ks.cfg", 1),
			want: []string{`t.conf:8: [ksiso] config: "https:///ks.cfg" has no host`},
		},
		{
			name: "CRLF",
			text: strings.ReplaceAll(base, "\n", "\r\n"),
			want: nil,
		},
		{
			name: "missing type section names the type line",
			text: strings.Replace(base, "[ksiso]", "[live]", 1),
			want: []string{`t.conf:2: [DEFAULT] type: type is ksiso but there is no [ksiso] section`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := Parse("t.conf", []byte(tt.text))
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
			if err == nil {
				roundTrip(t, r)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{File: "boot.conf", Section: "boot", Key: "version", Line: 12, Reason: "must not be empty"}, "boot.conf:12: [boot] version: must not be empty"},
		{&Error{File: "boot.conf", Section: "boot", Line: 3, Reason: "no repository"}, "boot.conf:3: [boot]: no repository"},
		{&Error{File: "boot.conf", Section: "DEFAULT", Key: "type", Reason: "missing"}, "boot.conf: [DEFAULT] type: missing"},
		{&Error{File: "boot.conf", Reason: "spec of type boot must carry exactly the [boot] section"}, "boot.conf: spec of type boot must carry exactly the [boot] section"},
		{&Error{File: "x.conf", Section: " boot ", Key: "k\xff", Line: 2, Reason: "unknown key"}, `x.conf:2: [" boot "] "k\xff": unknown key`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	errs := Errors{tests[0].err, tests[1].err}
	if got, want := errs.Error(), tests[0].want+"\n"+tests[1].want; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
}

// TestMarshal pins the text Marshal writes, including quoting of values
// ini.v1 would otherwise change.
func TestMarshal(t *testing.T) {
	t.Parallel()
	s := &tasks.Spec{
		Type:     tasks.TypeKSISO,
		Arch:     "x86_64",
		Release:  "42",
		Staging:  "file:///srv/fbs/staging",
		Email:    `"Build Bot" <bot@example.org>`,
		NVRs:     []string{"a-1-1", "b-2-2"},
		BuildIDs: []string{"7"},
		KSISO: &tasks.KSISOSpec{
			ISO:     "`odd`name.iso",
			Config:  `"quoted"`,
			Cmdline: `inst.cmdline="a b" ip=dhcp`,
		},
	}
	want := "[DEFAULT]\ntype=ksiso\narch=x86_64\nrelease=42\nstaging=file:///srv/fbs/staging\nemail=\"Build Bot\" <bot@example.org>\n\n" +
		"[ksiso]\niso=``odd`name.iso`\nconfig=`\"quoted\"`\ncmdline=inst.cmdline=\"a b\" ip=dhcp\nnvr=a-1-1;b-2-2\nbid=7\n"
	got := Marshal(s)
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("Marshal mismatch (-want +got):\n%s", diff)
	}
	r, err := Parse("m.conf", got)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(*s, r.Spec); diff != "" {
		t.Errorf("Parse(Marshal(s)) mismatch (-want +got):\n%s", diff)
	}
}

// FuzzParse checks that Parse never panics and that every spec it accepts
// survives Marshal and Parse unchanged.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/good/*.conf", "testdata/bad/*.conf", "../*_imagebuild.conf", originalSpecs + "/*_imagebuild.conf"} {
		files, _ := filepath.Glob(pattern)
		for _, path := range files {
			data, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte(base))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("fuzz.conf", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Parse error is %T, want Errors: %v", err, err)
			}
			return
		}
		if err := r.Spec.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid spec: %v", err)
		}
		roundTrip(t, r)
	})
}

// TestSamplesNameStandardKickstarts checks that a sample spec naming a
// standard kickstart names one fbs ships.
func TestSamplesNameStandardKickstarts(t *testing.T) {
	t.Parallel()
	std, err := kickstarts.Standard(kickstarts.Library{}, "")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, e := range std {
		known[e.Name] = true
	}
	files, _ := filepath.Glob("../*_imagebuild.conf")
	for _, f := range files {
		r, err := ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ref := r.Spec.KickstartRef()
		if ref != "" && !strings.ContainsAny(ref, "/:") && !known[ref] {
			t.Errorf("%s: config=%s is not a standard kickstart (have %v)", f, ref, known)
		}
	}
}
