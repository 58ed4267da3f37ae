package kickstarts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStandard(t *testing.T) {
	t.Parallel()
	site := t.TempDir()
	writeTree(t, site, map[string]string{
		"fedora-live-x.ks":    "# fedora-live-x.ks\n#\n# Description:\n# - A test spin\n#   on two lines\n#\n# Maintainers: x\n\n%include common/base.ks\n",
		"common/base.ks":      "lang C\n",
		"fbs-live-minimal.ks": "# Site override of the minimal live image.\nlang de_DE.UTF-8\n",
		"notes.txt":           "not a kickstart",
	})
	got, err := Standard(Library{SiteDir: site}, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Name: "fbs-live-minimal", Description: "Site override of the minimal live image.", Source: filepath.Join(site, "fbs-live-minimal.ks")},
		{Name: "fedora-live-x", Description: "A test spin on two lines", Source: filepath.Join(site, "fedora-live-x.ks")},
		{Name: "fbs-live-desktop", Description: "A desktop live image: Fedora Workstation (GNOME) that can also install itself.", Source: "embedded"},
		{Name: "fbs-minimal-install", Description: "A minimal installation: @core on automatic partitioning, reachable over SSH.", Source: "embedded"},
		{Name: "fbs-netinstall-updates", Description: "A network installation with updates applied: installs from the Fedora mirrors with the updates repository enabled.", Source: "embedded"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Standard (-want +got):\n%s", diff)
	}
	if _, err := Standard(Library{SiteDir: filepath.Join(site, "nowhere")}, "41"); err == nil {
		t.Error("Standard of a missing site dir succeeded")
	}

	ctx := context.Background()
	// Every embedded kickstart flattens and validates cleanly.
	all, err := Standard(Library{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("%d embedded kickstarts, want 4", len(all))
	}
	for _, e := range all {
		r, err := Flatten(ctx, e.Name, Options{Confined: true})
		if err != nil {
			t.Errorf("%s: %v", e.Name, err)
			continue
		}
		checkFlat(t, r.Text)
		probs, err := Validate(ctx, e.Name+".ks", Options{})
		if err != nil || len(probs) > 0 {
			t.Errorf("%s: validate: %v %v", e.Name, probs, err)
		}
	}
	// Names resolve in the site directory first, includes confined to it.
	r, err := Flatten(ctx, "fedora-live-x", Options{Library: Library{SiteDir: site}, Confined: true})
	if err != nil || !strings.Contains(r.Text, "lang C\n") || r.Name != "fedora-live-x" {
		t.Errorf("site kickstart by name: %v %+v", err, r)
	}
	r, err = Flatten(ctx, "fbs-live-minimal", Options{Library: Library{SiteDir: site}})
	if err != nil || !strings.Contains(r.Text, "lang de_DE.UTF-8\n") {
		t.Errorf("site override: %v %+v", err, r)
	}
	for _, ref := range []string{"no-such-kickstart", "../etc/passwd", "sub/x"} {
		if _, err := Flatten(ctx, ref, Options{Library: Library{SiteDir: site}}); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: error = %v, want ErrNotFound", ref, err)
		}
	}
	if _, err := os.Stat(site); err != nil {
		t.Fatal(err)
	}
}
