package kickstarts

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/testing/kstest"
)

// loopback is a policy that lets a sync reach the test's HTTP server.
func loopback() *egress.Policy {
	return egress.New(egress.Config{AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}})
}

// A spin includes Fedora's kickstarts by name: they resolve in the
// release's standard kickstarts, and so do their own includes.
func TestIncludeFedoraKickstarts(t *testing.T) {
	t.Parallel()
	fedora := kstest.FedoraDir(t)
	ctx := context.Background()
	spin := "%include fedora-live-base.ks\n%include fedora-minimal-common.ks\nrootpw --lock\n%packages\nvim-enhanced\n%end\n"
	lib := Library{SiteDir: fedora}

	// An upload (confined to itself), a local file, a local file confined.
	fsys := fstest.MapFS{"spin.ks": {Data: []byte(spin)}}
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"spin.ks": spin})
	type run struct {
		name    string
		flatten func(Options) (*Result, error)
	}
	for _, r := range []run{
		{"upload", func(o Options) (*Result, error) { return FlattenFS(ctx, fsys, "spin.ks", o) }},
		{"file", func(o Options) (*Result, error) { return Flatten(ctx, filepath.Join(dir, "spin.ks"), o) }},
		{"confined", func(o Options) (*Result, error) {
			o.Confined = true
			return Flatten(ctx, filepath.Join(dir, "spin.ks"), o)
		}},
	} {
		res, err := r.flatten(Options{Library: lib, Release: "41"})
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		for _, want := range []string{
			"#version=F41\n",
			"repo --name=rawhide", // fedora-repo-rawhide.ks, by fedora-repo.ks, by fedora-live-base.ks
			"dracut-live",         // fedora-live-base's %packages
			"vim-enhanced\n",      // the spin's own
			"\nrootpw --lock",
		} {
			if !strings.Contains(res.Text, want) {
				t.Errorf("%s: flattened kickstart lacks %q", r.name, want)
			}
		}
		if _, err := r.flatten(Options{Release: "41"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: without Fedora's kickstarts: error = %v, want ErrNotFound", r.name, err)
		} else if !strings.Contains(err.Error(), "nor a standard kickstart of release 41") {
			t.Errorf("%s: error %q does not say whose standard kickstarts were searched", r.name, err)
		}
	}

	// A file beside the including one comes first.
	writeTree(t, dir, map[string]string{"fedora-repo.ks": "repo --name=local --baseurl=http://example.org/r\n", "mine.ks": "%include fedora-repo.ks\n"})
	res, err := Flatten(ctx, filepath.Join(dir, "mine.ks"), Options{Library: lib, Release: "41"})
	if err != nil || !strings.Contains(res.Text, "repo --name=local") || strings.Contains(res.Text, "repo --name=rawhide") {
		t.Errorf("include beside the file: %v\n%v", err, res)
	}
	// A standard kickstart by name.
	res, err = Flatten(ctx, "fedora-live-workstation", Options{Library: lib, Release: "41", Confined: true})
	if err != nil || !strings.Contains(res.Text, "@^workstation-product-environment") {
		t.Errorf("fedora-live-workstation by name: %v", err)
	}
	// Every top-level kickstart of Fedora's validates for release 41 as far
	// as resolving its includes goes.
	ents, err := Standard(lib, "41")
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) < 60 || ents[0].Source != filepath.Join(fedora, ents[0].Name+".ks") {
		t.Errorf("Standard lists %d kickstarts, first %+v", len(ents), ents[0])
	}
}

// fbs ks sync: from a local checkout and from a branch archive over HTTP,
// per release, replacing a release's copy in one step.
func TestSyncRelease(t *testing.T) {
	t.Parallel()
	fedora := kstest.FedoraDir(t)
	ctx := context.Background()
	lib := Library{SyncDir: filepath.Join(t.TempDir(), "kickstarts")}

	r, err := SyncRelease(ctx, lib, "41", fedora, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Dir != filepath.Join(lib.SyncDir, "41") || r.Files < 100 || r.Kickstarts < 60 {
		t.Errorf("sync from a directory: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "snippets")); err != nil {
		t.Errorf("snippets not synced: %v", err)
	}
	spin := fstest.MapFS{"spin.ks": {Data: []byte("%include fedora-live-base.ks\n")}}
	if res, err := FlattenFS(ctx, spin, "spin.ks", Options{Library: lib, Release: "41"}); err != nil || !strings.Contains(res.Text, "dracut-live") {
		t.Errorf("flatten against the synced release: %v", err)
	}
	if _, err := FlattenFS(ctx, spin, "spin.ks", Options{Library: lib, Release: "42"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("release 42, not synced: error = %v, want ErrNotFound", err)
	}

	// Over HTTP, the default policy refuses loopback; the operator's
	// policy allows it.
	url := kstest.Serve(t, kstest.Archive(t, fedora, "fedora-kickstarts-f41")) + "/fedora-kickstarts/archive/f41/fedora-kickstarts-f41.tar.gz"
	if _, err := SyncRelease(ctx, lib, "41", url, Options{}); !errors.Is(err, ErrRefused) {
		t.Errorf("loopback under the default policy: error = %v, want ErrRefused", err)
	}
	old, _ := os.Readlink(r.Dir)
	r, err = SyncRelease(ctx, lib, "41", url, Options{Egress: loopback()})
	if err != nil {
		t.Fatal(err)
	}
	if r.Kickstarts < 60 {
		t.Errorf("sync from an archive: %+v", r)
	}
	now, _ := os.Readlink(r.Dir)
	if now == old || !strings.HasSuffix(now, "fedora-kickstarts-f41") {
		t.Errorf("link %q -> %q: want the archive's top directory", old, now)
	}
	if _, err := os.Stat(filepath.Join(lib.SyncDir, strings.Split(old, "/")[0])); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old copy %s left behind: %v", old, err)
	}
	// Synced kickstarts come first, then the site's, then the embedded.
	site := t.TempDir()
	writeTree(t, site, map[string]string{"fedora-live-base.ks": "# a site copy\n", "site-spin.ks": "# Site spin.\nlang C\n"})
	ents, err := Standard(Library{SyncDir: lib.SyncDir, SiteDir: site}, "41")
	if err != nil {
		t.Fatal(err)
	}
	where := map[string]string{}
	for _, e := range ents {
		where[e.Name] = e.Source
	}
	if where["fedora-live-base"] != filepath.Join(r.Dir, "fedora-live-base.ks") || where["site-spin"] != filepath.Join(site, "site-spin.ks") || where["fbs-live-minimal"] != "embedded" {
		t.Errorf("Standard for 41: %v", where)
	}

	// Failures leave the copy in place: not an archive, no kickstarts,
	// a bad release, a file.
	notKS := t.TempDir()
	writeTree(t, notKS, map[string]string{"README": "nothing here"})
	for _, tc := range []struct{ release, from string }{
		{"41", kstest.Serve(t, []byte("not an archive"))},
		{"41", notKS},
		{"f41", fedora},
		{"41", filepath.Join(fedora, "fedora-live-base.ks")},
		{"41", "ftp://example.org/x.tar.gz"},
	} {
		if _, err := SyncRelease(ctx, lib, tc.release, tc.from, Options{Egress: loopback()}); err == nil {
			t.Errorf("sync %s from %s succeeded", tc.release, tc.from)
		}
	}
	if after, _ := os.Readlink(r.Dir); after != now {
		t.Errorf("failed syncs changed the link: %q -> %q", now, after)
	}
	left, _ := os.ReadDir(lib.SyncDir)
	if len(left) != 3 { // .lock, 41 and the directory it points into
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Errorf("sync dir holds %v, want the link and its copy", names)
	}
}

// The syntax is the release's: a command removed later still validates for
// an older release, one added later is refused for an older release, and
// the flattened file says which syntax it was read with.
func TestReleaseSyntax(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		release, text string
		version       string // the #version= line; "" when the kickstart is refused
		warn          string
	}{
		// vnc: removed in F45 (rdp replaces it from F43).
		{"41", "vnc --password=secret\n", "F41", ""},
		{"43", "vnc --password=secret\n", "F43", "deprecated"},
		{"45", "vnc --password=secret\n", "", ""},
		{"rawhide", "vnc --password=secret\n", "", ""},
		// rdp: new in F43.
		{"41", "rdp --username=u --password=p\n", "", ""},
		{"42", "rdp --username=u --password=p\n", "", ""},
		{"43", "rdp --username=u --password=p\n", "F43", ""},
		{"rawhide", "rdp --username=u --password=p\n", "DEVEL", ""},
		// module: deprecated in F41, removed in F45.
		{"40", "module --name=nodejs --stream=20\n", "F40", ""},
		{"41", "module --name=nodejs --stream=20\n", "F41", "deprecated"},
		{"45", "module --name=nodejs --stream=20\n", "", ""},
		// autopart --hw-passphrase: an option new in F41.
		{"40", "autopart --hw-passphrase=x\n", "", ""},
		{"41", "autopart --hw-passphrase=x\n", "F41", ""},
		// A release newer than the tables reads with the development syntax.
		{"99", "rdp\n", "DEVEL", ""},
	} {
		fsys := fstest.MapFS{"a.ks": {Data: []byte(tc.text)}}
		opts := Options{Release: tc.release}
		probs, err := ValidateFS(ctx, fsys, "a.ks", opts)
		if err != nil {
			t.Fatalf("%s %q: %v", tc.release, tc.text, err)
		}
		if got := !HasErrors(probs); got != (tc.version != "") {
			t.Errorf("release %s, %q: valid = %v, want %v (%v)", tc.release, tc.text, got, !got, probs)
			continue
		}
		if tc.version == "" {
			continue
		}
		res, err := FlattenFS(ctx, fsys, "a.ks", opts)
		if err != nil {
			t.Errorf("release %s, %q: flatten: %v", tc.release, tc.text, err)
			continue
		}
		if !strings.Contains(res.Text, "\n#version="+tc.version+"\n") {
			t.Errorf("release %s: flattened kickstart does not say #version=%s:\n%s", tc.release, tc.version, res.Text)
		}
		warned := false
		for _, w := range res.Warnings {
			warned = warned || strings.Contains(w.Message, tc.warn)
		}
		if tc.warn != "" && !warned {
			t.Errorf("release %s, %q: no %q warning in %v", tc.release, tc.text, tc.warn, res.Warnings)
		}
	}
	for release, want := range map[string]string{"41": "F41", "rawhide": "DEVEL", "45": "F45", "46": "DEVEL", "39": "F40", "17": "F40"} {
		if got, err := SyntaxVersion(release); err != nil || got != want {
			t.Errorf("SyntaxVersion(%s) = %q, %v; want %q", release, got, err, want)
		}
	}
	// A release older than the tables (the original specs name 17) is read
	// with the oldest syntax, and both flatten and validate say so.
	old := fstest.MapFS{"a.ks": {Data: []byte("rootpw --lock\n")}}
	res, err := FlattenFS(ctx, old, "a.ks", Options{Release: "17"})
	if err != nil {
		t.Fatalf("flatten for release 17: %v", err)
	}
	if !strings.Contains(res.Text, "#version=F40") || len(res.Warnings) == 0 || !strings.Contains(res.Warnings[0].Message, "release 17 is older than the kickstart syntax fbs knows: read with F40's") {
		t.Errorf("release 17: text %q, warnings %v; want #version=F40 and a warning", res.Text, res.Warnings)
	}
	problems, err := ValidateFS(ctx, old, "a.ks", Options{Release: "17"})
	if err != nil || len(problems) != 1 || problems[0].Severity != "warning" || HasErrors(problems) {
		t.Errorf("validate for release 17: %v, %v; want one warning", problems, err)
	}
	if problems, err := ValidateFS(ctx, old, "a.ks", Options{Release: "41"}); err != nil || len(problems) != 0 {
		t.Errorf("validate for release 41: %v, %v; want no problem", problems, err)
	}
	for _, bad := range []string{"f41", "", "041"} {
		if _, err := SyntaxVersion(bad); err == nil {
			t.Errorf("SyntaxVersion(%q) succeeded", bad)
		}
	}
	// An explicit version wins over the release's.
	if _, err := FlattenFS(ctx, fstest.MapFS{"a.ks": {Data: []byte("rdp\n")}}, "a.ks", Options{Release: "41", Version: "F43"}); err != nil {
		t.Errorf("explicit F43 for release 41: %v", err)
	}
}

// A sync writes at most syncMaxBytes: an archive that unpacks to more (a
// few KiB of gzip) is refused, and nothing of it stays.
func TestSyncLimit(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	size := int64(syncMaxBytes + 1)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "repo/big.ks", Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeros{}, size); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	gz.Close()
	lib := Library{SyncDir: t.TempDir()}
	_, err := SyncRelease(context.Background(), lib, "41", kstest.Serve(t, buf.Bytes()), Options{Egress: loopback()})
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("sync of a %d-byte file: error = %v, want ErrLimit", size, err)
	}
	left, _ := os.ReadDir(lib.SyncDir)
	if len(left) != 1 || left[0].Name() != ".lock" {
		t.Errorf("a refused sync left %v", left)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
