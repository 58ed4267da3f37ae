package kickstarts

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"main.ks": {Data: []byte(`lang C
frobnicate --x
selinux --frob
bootloader --timeout=soon
%include inc.ks
%end
%packages --frob
vim
%end
%packages
good-pkg
bad pkg name
-@ok group
@bad"group
%end
%post
echo fine
`)},
		"inc.ks": {Data: []byte("timezone UTC --ntpservers=a\n%include missing.ks\nauth --useshadow\n")},
	}
	got, err := ValidateFS(context.Background(), fsys, "main.ks", Options{})
	if err != nil {
		t.Fatalf("ValidateFS: %v", err)
	}
	want := []Problem{
		{File: "main.ks", Line: 2, Severity: "error", Message: "unknown command frobnicate"},
		{File: "main.ks", Line: 3, Severity: "error", Message: "selinux: unknown option --frob"},
		{File: "main.ks", Line: 4, Severity: "error", Message: `bootloader: option --timeout: invalid integer "soon"`},
		{File: "inc.ks", Line: 1, Severity: "warning", Message: "timezone: option --ntpservers is deprecated and has no effect"},
		{File: "inc.ks", Line: 2, Severity: "error", Message: "include missing.ks: not found (not beside the including file, nor a standard kickstart)"},
		{File: "inc.ks", Line: 3, Severity: "error", Message: "auth has been removed."},
		{File: "main.ks", Line: 6, Severity: "error", Message: "%end without a section"},
		{File: "main.ks", Line: 7, Severity: "error", Message: "%packages: unknown option --frob"},
		{File: "main.ks", Line: 12, Severity: "error", Message: `%packages: "bad pkg name" is not a valid package name`},
		{File: "main.ks", Line: 14, Severity: "error", Message: `%packages: "@bad\"group" is not a valid group name`},
		{File: "main.ks", Line: 16, Severity: "error", Message: "section %post is not closed with %end"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if !HasErrors(got) {
		t.Error("HasErrors = false")
	}
}

func TestValidateClean(t *testing.T) {
	t.Parallel()
	dir := corpusDir(t)
	for _, name := range []string{"fedora-live-kde.ks", "fedora-disk-server.ks"} {
		got, err := Validate(context.Background(), filepath.Join(dir, name), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if HasErrors(got) {
			t.Errorf("%s: %v", name, got)
		}
	}
	got, err := Validate(context.Background(), filepath.Join(dir, "fedora-eln-guest.ks"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Problem{{File: filepath.Join(dir, "fedora-eln-guest.ks"), Line: 12, Severity: "error", Message: "auth has been removed."}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fedora-eln-guest.ks (-want +got):\n%s", diff)
	}
	if _, err := Validate(context.Background(), filepath.Join(t.TempDir(), "none.ks"), Options{}); err == nil {
		t.Error("Validate of a missing file succeeded")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}
