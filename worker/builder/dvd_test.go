package builder

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/testing/isotest"
	"github.com/fedora-fbs/fbs/testing/loraxtest"
	"github.com/fedora-fbs/fbs/testing/rpmtest"
	"github.com/fedora-fbs/fbs/worker/sha256sum"
	"github.com/google/go-cmp/cmp"
)

// loraxOptions are lorax's documented options (lorax_parser in
// pylorax/cmdline.py, lorax 40), true for those that take a value.
var loraxOptions = map[string]bool{
	"-p": true, "--product": true, "-v": true, "--version": true, "-r": true, "--release": true,
	"-s": true, "--source": true, "--repo": true, "-m": true, "--mirrorlist": true,
	"-t": true, "--variant": true, "-b": true, "--bugurl": true, "--isfinal": false,
	"-c": true, "--config": true, "--proxy": true, "-i": true, "--installpkgs": true,
	"-e": true, "--excludepkgs": true, "--buildarch": true, "--volid": true,
	"--macboot": false, "--nomacboot": false, "--noupgrade": false, "--logfile": true,
	"--tmp": true, "--cachedir": true, "--workdir": true, "--force": false,
	"--add-template": true, "--add-template-var": true, "--add-arch-template": true,
	"--add-arch-template-var": true, "--noverify": false, "--sharedir": true,
	"--enablerepo": true, "--disablerepo": true, "--rootfs-size": true, "--noverifyssl": false,
	"--dnfplugin": true, "--squashfs-only": false, "--dracut-arg": true,
}

// TestLoraxOptionsDocumented checks every lorax command line fbs runs, for
// boot ISOs and DVDs, against lorax's documented options: each option is
// known, each value-taking one has its value, and one output directory
// comes last.
func TestLoraxOptionsDocumented(t *testing.T) {
	t.Parallel()
	dvdSpec := tasks.Spec{Type: tasks.TypeDVD, Arch: "x86_64", Release: "41", Staging: "file:///s",
		DVD: &tasks.DVDSpec{Name: "Fedora", Version: "41", Flavor: "Server", Config: "f.ks", BugURL: "https://bugz.example"}}
	withUpdates := bootSpec()
	withUpdates.Boot.Updates, withUpdates.Boot.UpdatesTesting, withUpdates.Boot.Proxy = true, true, "http://proxy.example:3128"
	for _, s := range []tasks.Spec{bootSpec(), withUpdates, dvdSpec} {
		job := &Job{Spec: s, Kickstart: "/w/f.ks", WorkDir: "/w/work", OutDir: "/w/out", SideRepos: []string{"file:///w/side"},
			Repos: []tasks.Repo{{Name: "release1", URL: "https://dl.example/41/"}}}
		b, err := New(&s, nil)
		if err != nil {
			t.Fatal(err)
		}
		argv, err := b.(commander).command(job)
		if err != nil {
			t.Fatalf("%s: %v", s.Type, err)
		}
		if argv[0] != "lorax" {
			t.Fatalf("%s: runs %s", s.Type, argv[0])
		}
		var positional []string
		for i := 1; i < len(argv); i++ {
			takes, known := loraxOptions[argv[i]]
			switch {
			case !strings.HasPrefix(argv[i], "-"):
				positional = append(positional, argv[i])
			case !known:
				t.Errorf("%s: lorax has no option %s", s.Type, argv[i])
			case takes && (i+1 == len(argv) || strings.HasPrefix(argv[i+1], "-")):
				t.Errorf("%s: lorax option %s has no value", s.Type, argv[i])
			case takes:
				i++
			}
		}
		if len(positional) != 1 || positional[0] != argv[len(argv)-1] {
			t.Errorf("%s: positional arguments %q, want one output directory, last", s.Type, positional)
		}
	}
}

func TestParsePackages(t *testing.T) {
	t.Parallel()
	ks := "lang en_US\n%packages --excludedocs\n# a comment\n@core\n@standard --nodefaults\n@web-server --optional\n-@standard\nkernel\nvim-*\n-dracut-config-rescue\n%end\n%post\n@notagroup\n%end\n"
	pk, err := parsePackages(ks)
	if err != nil {
		t.Fatal(err)
	}
	want := &ksPackages{
		names:    []string{"kernel", "vim-*"},
		groups:   []ksGroup{{id: "core"}, {id: "web-server", optional: true}},
		excluded: []string{"dracut-config-rescue"},
	}
	if diff := cmp.Diff(want, pk, cmp.AllowUnexported(ksPackages{}, ksGroup{})); diff != "" {
		t.Errorf("parsePackages (-want +got):\n%s", diff)
	}
	for _, bad := range []struct{ ks, want string }{
		{"lang en_US\n", "no %packages section"},
		{"%packages\n@^server-product-environment\n%end\n", "line 2: %packages: environment @^server-product-environment"},
	} {
		if _, err := parsePackages(bad.ks); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("parsePackages(%q) = %v, want an error containing %q", bad.ks, err, bad.want)
		}
	}
}

// testComps is the release repository's comps file in the tests.
const testComps = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group>
    <id>fbs-core</id>
    <name>FBS Core</name>
    <name xml:lang="de">FBS Kern</name>
    <description>The smallest system.</description>
    <default>true</default>
    <uservisible>false</uservisible>
    <packagelist>
      <packagereq type="mandatory">fbs-base</packagereq>
      <packagereq type="default">fbs-tools</packagereq>
      <packagereq type="optional">fbs-unwanted</packagereq>
    </packagelist>
  </group>
  <group>
    <id>fbs-other</id>
    <name>Other</name>
    <description>Not on the DVD.</description>
    <packagelist><packagereq type="mandatory">fbs-unwanted</packagereq></packagelist>
  </group>
</comps>
`

// releaseRepo builds a yum repository of real RPMs with comps and serves
// it over loopback HTTP, as a release's repository would be.
func releaseRepo(t *testing.T, arch string) string {
	t.Helper()
	var rpms []string
	rpms = append(rpms, rpmtest.Build(t, rpmtest.Spec{Name: "fbs-hello", Version: "1.0", Release: "1", Arch: arch,
		Packages: []rpmtest.Package{{Name: "fbs-hello", Requires: []string{"fbs-lib"}}, {Name: "fbs-lib", Requires: []string{"fbs-base"}}}})...)
	rpms = append(rpms, rpmtest.Build(t, rpmtest.Spec{Name: "fbs-base", Version: "2", Release: "3", Arch: arch,
		Packages: []rpmtest.Package{{Name: "fbs-base"}, {Name: "fbs-tools", NoArch: true}, {Name: "fbs-unwanted", NoArch: true}, {Name: "fbs-docs", NoArch: true}}})...)
	return rpmtest.Serve(t, rpmtest.Repo(t, rpms, testComps))
}

// TestDVDBuild runs the whole DVD pipeline for real (lorax stands in):
// dnf downloads the kickstart's packages and groups with their
// dependencies from a release repository on loopback HTTP, createrepo_c
// indexes them with comps, xorriso makes the ISO and implantisomd5 implants
// its checksum. The ISO's tree is then read as an installer would.
func TestDVDBuild(t *testing.T) {
	t.Parallel()
	repo := releaseRepo(t, "x86_64")
	ks := filepath.Join(t.TempDir(), "dvd.ks")
	text := "lang en_US.UTF-8\nurl --url=" + repo + "\n%packages\n@fbs-core\nfbs-hello\n-fbs-tools\n%end\n"
	if err := os.WriteFile(ks, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	job := testJob(t, newRecorder(t, ""))
	job.Spec = tasks.Spec{Type: tasks.TypeDVD, Arch: "x86_64", Release: "41", Staging: "file:///s",
		DVD: &tasks.DVDSpec{Name: "Fedora", Version: "41", Flavor: "Server", Config: "dvd.ks", BugURL: "https://bugz.example"}}
	job.Kickstart = ks
	job.Repos = []tasks.Repo{{Name: "release1", URL: repo}}
	b, err := New(&job.Spec, Tools{"lorax": loraxtest.Script(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Build(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(job.OutDir, "Fedora-41-x86_64-DVD.iso")
	if out, err := exec.Command("checkisomd5", iso).CombinedOutput(); err != nil {
		t.Errorf("checkisomd5 %s: %v\n%s", iso, err, out)
	}
	el, err := exec.Command("xorriso", "-indev", iso, "-report_el_torito", "plain").CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso -report_el_torito: %v\n%s", err, el)
	}
	for _, want := range []string{"/isolinux/isolinux.bin", "/images/efiboot.img", "Fedora-Server-41-x86_64"} {
		if !strings.Contains(string(el), want) {
			t.Errorf("El Torito report lacks %s:\n%s", want, el)
		}
	}

	tree := isotest.Extract(t, iso, "")
	got := rpmtest.RepoQuery(t, tree)
	want := []string{"fbs-base-2-3.x86_64", "fbs-hello-1.0-1.x86_64", "fbs-lib-1.0-1.x86_64"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packages on the DVD (-want +got):\n%s", diff)
	}

	c, err := repoComps(tree)
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, g := range c.Groups {
		var pkgs []string
		for _, p := range g.Packages {
			pkgs = append(pkgs, p.Type+":"+p.Name)
		}
		groups = append(groups, g.ID+" "+strings.Join(pkgs, ","))
	}
	wantGroups := []string{"fbs-core mandatory:fbs-base", "kickstart-packages mandatory:fbs-hello"}
	if diff := cmp.Diff(wantGroups, groups); diff != "" {
		t.Errorf("DVD comps (-want +got):\n%s", diff)
	}

	ti, err := readINI(filepath.Join(tree, ".treeinfo"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][3]string{
		{"header", "version", "1.2"}, {"release", "name", "Fedora"}, {"release", "version", "41"},
		{"tree", "arch", "x86_64"}, {"tree", "variants", "Server"},
		{"variant-Server", "packages", "Packages"}, {"variant-Server", "repository", "."},
		{"images-x86_64", "kernel", "images/pxeboot/vmlinuz"}, {"stage2", "mainimage", "images/install.img"},
	} {
		if got := ti[kv[0]][kv[1]]; got != kv[2] {
			t.Errorf(".treeinfo [%s] %s = %q, want %q", kv[0], kv[1], got, kv[2])
		}
	}
	for path, sum := range ti["checksums"] {
		got, err := sha256sum.File(context.Background(), filepath.Join(tree, path))
		if err != nil || "sha256:"+got != sum {
			t.Errorf(".treeinfo checksum of %s = %s, file has sha256:%s (%v)", path, sum, got, err)
		}
	}
	if len(ti["checksums"]) != 4 {
		t.Errorf(".treeinfo checksums %v, want the 4 images", ti["checksums"])
	}
	di, err := os.ReadFile(filepath.Join(tree, ".discinfo"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(string(di), "\n"); len(lines) != 5 || lines[1] != "Fedora 41" || lines[2] != "x86_64" || lines[3] != "ALL" {
		t.Errorf(".discinfo = %q", di)
	}
	args, err := os.ReadFile(filepath.Join(job.WorkDir, "lorax.args"))
	if err != nil || !strings.Contains(string(args), "--volid Fedora-Server-41-x86_64") {
		t.Errorf("lorax ran with %q (%v)", args, err)
	}
}

// TestDVDBuildErrors checks that a kickstart the release cannot satisfy
// fails with one clear error naming what is missing.
func TestDVDBuildErrors(t *testing.T) {
	t.Parallel()
	repo := releaseRepo(t, "x86_64")
	tests := []struct{ name, packages, want string }{
		{"unknown group", "@nosuchgroup\n", "group @nosuchgroup is not in the release repositories' comps"},
		{"unknown package", "fbs-nosuch\n", "dnf exited with status 1"},
	}
	for _, tt := range tests {
		ks := filepath.Join(t.TempDir(), "dvd.ks")
		if err := os.WriteFile(ks, []byte("%packages\n"+tt.packages+"%end\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		job := testJob(t, newRecorder(t, ""))
		job.Spec = tasks.Spec{Type: tasks.TypeDVD, Arch: "x86_64", Release: "41", Staging: "file:///s",
			DVD: &tasks.DVDSpec{Name: "Fedora", Version: "41", Flavor: "Server", Config: "dvd.ks"}}
		job.Kickstart, job.Repos = ks, []tasks.Repo{{Name: "release1", URL: repo}}
		b, err := New(&job.Spec, Tools{"lorax": loraxtest.Script(t)})
		if err != nil {
			t.Fatal(err)
		}
		err = b.Build(context.Background(), job)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Build = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

// FuzzParsePackages: any kickstart text parses or fails without a panic,
// and what it yields is what dnf and comps take: names without the @ and -
// markers.
func FuzzParsePackages(f *testing.F) {
	f.Add("%packages\n@core\nkernel\n-foo\n-@bar\n%end\n")
	f.Add("%packages --nocore\n@web --optional\n@^env\n%end\n%packages\nvim*\n%end\n")
	f.Fuzz(func(t *testing.T, ks string) {
		pk, err := parsePackages(ks)
		if err != nil {
			return
		}
		for _, n := range append(append([]string{}, pk.names...), pk.excluded...) {
			if n == "" || strings.HasPrefix(n, "@") {
				t.Errorf("package name %q from %q", n, ks)
			}
		}
		for _, g := range pk.groups {
			if strings.HasPrefix(g.id, "^") {
				t.Errorf("environment %q taken as a group from %q", g.id, ks)
			}
		}
	})
}
