package deploy

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// originalDeployConf is the original service's deploy.conf, relative to
// this package's directory. It is read here and never copied.
const originalDeployConf = "../../shared/original-specs/deploy.conf"

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
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

// loadOriginal loads the original deploy.conf, skipping when the shared
// test data is not beside the checkout.
func loadOriginal(t *testing.T) *File {
	t.Helper()
	if _, err := os.Stat(originalDeployConf); err != nil {
		t.Skipf("original deploy.conf not found: %v", err)
	}
	f, err := Load(originalDeployConf)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return f
}

// exampleDir copies example.conf into a temporary directory with the
// secret files it names, made up here.
func exampleDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile("example.conf")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"deploy.conf":                string(b),
		"secrets/smtp-password":      "example-smtp-secret\n",
		"secrets/staging_ed25519":    "example-staging-key\n",
		"secrets/oidc-client-secret": "example-oidc-secret\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dump is a readable account of everything f renders, for golden files:
// hosts, warnings, and every file with its content, secrets shown by size
// only. Local paths are shown relative to the deploy file's directory.
func dump(t *testing.T, f *File) []byte {
	t.Helper()
	dir := filepath.Dir(f.Path)
	rel := func(p string) string {
		if p == "" {
			return "(default)"
		}
		r, err := filepath.Rel(dir, p)
		if err != nil {
			return p
		}
		return r
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "original: %v\nredis: %s\nbinary: %s\n", f.Original, f.RedisURL, rel(f.Binary))
	for _, w := range f.Warnings {
		w.File = filepath.Base(w.File)
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	for _, h := range f.Hosts {
		fmt.Fprintf(&b, "\n=== host %s: ssh %s@%s port %d, key %s, known_hosts %s\n", h.Name, h.User, h.Addr, h.Port, rel(h.KeyFile), rel(h.KnownHosts))
		fmt.Fprintf(&b, "roles: %s; units: %s\n", rolesString(h.Roles), strings.Join(Units(h), " "))
		fmt.Fprintf(&b, "packages on debian: %s\n", strings.Join(Packages(h, Debian), " "))
		fmt.Fprintf(&b, "packages on fedora: %s\n", strings.Join(Packages(h, Fedora), " "))
		files, err := f.Render(h)
		if err != nil {
			t.Fatalf("Render(%s): %v", h.Name, err)
		}
		for _, file := range files {
			fmt.Fprintf(&b, "\n--- %s %04o %s:%s", file.Path, file.Mode.Perm(), file.Owner, file.Group)
			if file.Secret {
				fmt.Fprintf(&b, " secret, %d bytes\n", len(file.Content))
				continue
			}
			fmt.Fprintf(&b, "\n%s", file.Content)
		}
	}
	return b.Bytes()
}

func TestOriginalGolden(t *testing.T) {
	t.Parallel()
	golden(t, "testdata/original.golden", dump(t, loadOriginal(t)))
}

func TestExampleGolden(t *testing.T) {
	t.Parallel()
	f, err := Load(filepath.Join(exampleDir(t), "deploy.conf"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	golden(t, "testdata/example.golden", dump(t, f))
}
