// Package rpmtest builds real RPM files with rpmbuild (Debian's rpm
// package) for tests that need packages: side repositories, repo metadata,
// installers.
package rpmtest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Package is one binary RPM of a spec.
type Package struct {
	// Name is the package's full name.
	Name string
	// NoArch builds it as noarch instead of the spec's arch.
	NoArch bool
	// Payload is the size of an incompressible file it carries, beside a
	// small text file.
	Payload int64
	// Requires are the names of packages it depends on.
	Requires []string
}

// Spec is a source package and the binary RPMs it builds.
type Spec struct {
	Name, Version, Release string
	// Arch is the target arch of the non-noarch packages; x86_64 if empty.
	Arch     string
	Packages []Package
}

// Build builds s with rpmbuild in a temporary directory and returns the
// paths of the binary RPMs, sorted. RPM payloads are stored uncompressed, so
// a package's size follows its Payload.
func Build(tb testing.TB, s Spec) []string {
	tb.Helper()
	if _, err := exec.LookPath("rpmbuild"); err != nil {
		tb.Fatalf("rpmtest: rpmbuild not found (install Debian package rpm): %v", err)
	}
	if s.Arch == "" {
		s.Arch = "x86_64"
	}
	top := tb.TempDir()
	src := filepath.Join(top, "SOURCES")
	if err := os.MkdirAll(src, 0o755); err != nil {
		tb.Fatal(err)
	}
	var spec strings.Builder
	fmt.Fprintf(&spec, "Name: %s\nVersion: %s\nRelease: %s\nSummary: test package\nLicense: MIT\n", s.Name, s.Version, s.Release)
	for _, p := range s.Packages {
		if p.Name == s.Name {
			writeRequires(&spec, p.Requires)
		}
	}
	spec.WriteString("%description\ntest package\n")
	var install, files strings.Builder
	install.WriteString("%install\n")
	rng := rand.New(rand.NewChaCha8([32]byte([]byte(fmt.Sprintf("%-32.32s", s.Name+s.Version+s.Release)))))
	for _, p := range s.Packages {
		if p.Name != s.Name {
			fmt.Fprintf(&spec, "%%package -n %s\nSummary: %s\n", p.Name, p.Name)
			if p.NoArch {
				spec.WriteString("BuildArch: noarch\n")
			}
			writeRequires(&spec, p.Requires)
			fmt.Fprintf(&spec, "%%description -n %s\n%s\n", p.Name, p.Name)
			fmt.Fprintf(&files, "%%files -n %s\n", p.Name)
		} else {
			if p.NoArch {
				tb.Fatalf("rpmtest: the main package %s cannot be noarch here", p.Name)
			}
			files.WriteString("%files\n")
		}
		dir := "/usr/share/" + p.Name
		fmt.Fprintf(&install, "mkdir -p %%{buildroot}%s\necho %s > %%{buildroot}%s/README\n", dir, p.Name, dir)
		fmt.Fprintf(&files, "%s/README\n", dir)
		if p.Payload > 0 {
			name := p.Name + ".bin"
			writeRandom(tb, filepath.Join(src, name), p.Payload, rng)
			fmt.Fprintf(&install, "cp %s/%s %%{buildroot}%s/payload.bin\n", src, name, dir)
			fmt.Fprintf(&files, "%s/payload.bin\n", dir)
		}
	}
	specPath := filepath.Join(top, s.Name+".spec")
	if err := os.WriteFile(specPath, []byte(spec.String()+install.String()+files.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command("rpmbuild", "-bb", "--target", s.Arch,
		"--define", "_topdir "+top,
		"--define", "debug_package %{nil}",
		"--define", "__os_install_post %{nil}",
		"--define", "_build_id_links none",
		"--define", "_binary_payload w.ufdio",
		specPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("rpmtest: rpmbuild %s: %v\n%s", specPath, err, out)
	}
	rpms, err := filepath.Glob(filepath.Join(top, "RPMS", "*", "*.rpm"))
	if err != nil || len(rpms) != len(s.Packages) {
		tb.Fatalf("rpmtest: rpmbuild %s made %v, want %d RPMs (err %v)", specPath, rpms, len(s.Packages), err)
	}
	sort.Strings(rpms)
	return rpms
}

func writeRequires(spec *strings.Builder, names []string) {
	for _, n := range names {
		fmt.Fprintf(spec, "Requires: %s\n", n)
	}
}

func writeRandom(tb testing.TB, path string, n int64, rng *rand.Rand) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for n > 0 {
		for i := 0; i+8 <= len(buf); i += 8 {
			v := rng.Uint64()
			for j := 0; j < 8; j++ {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		k := min(int64(len(buf)), n)
		if _, err := f.Write(buf[:k]); err != nil {
			tb.Fatal(err)
		}
		n -= k
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// Header is what rpm reports of a built RPM file.
type Header struct {
	Name, Version, Release, Arch string
	// SigMD5 is RPMTAG_SIGMD5 in hex, what Koji stores as payloadhash.
	SigMD5 string
	// SourceRPM is the source package's file name, from which Koji's build
	// NVR comes.
	SourceRPM string
}

// Query reads path's header with rpm -qp.
func Query(tb testing.TB, path string) Header {
	tb.Helper()
	out, err := exec.Command("rpm", "-qp", "--nosignature", "--nodigest", "--qf",
		"%{NAME}\n%{VERSION}\n%{RELEASE}\n%{ARCH}\n%{SIGMD5}\n%{SOURCERPM}\n", path).Output()
	if err != nil {
		tb.Fatalf("rpmtest: rpm -qp %s: %v", path, err)
	}
	f := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(f) != 6 {
		tb.Fatalf("rpmtest: rpm -qp %s printed %q", path, out)
	}
	return Header{Name: f[0], Version: f[1], Release: f[2], Arch: f[3], SigMD5: f[4], SourceRPM: f[5]}
}

// RepoQuery lists the packages of the yum repository in dir, as
// name-version-release.arch sorted, with Debian's dnf, unprivileged and
// offline (its own install root and cache, no system repositories).
func RepoQuery(tb testing.TB, dir string) []string {
	tb.Helper()
	if _, err := exec.LookPath("dnf"); err != nil {
		tb.Fatalf("rpmtest: dnf not found (install Debian package dnf): %v", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		tb.Fatal(err)
	}
	root := tb.TempDir()
	cmd := exec.Command("dnf", "-q",
		"--repofrompath=side,file://"+abs, "--repo=side",
		"--installroot="+filepath.Join(root, "root"), "--releasever=41",
		"--setopt=cachedir="+filepath.Join(root, "cache"), "--setopt=reposdir=/dev/null", "--disableplugin=*",
		"repoquery", "--qf", "%{name}-%{version}-%{release}.%{arch}")
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("rpmtest: dnf repoquery %s: %v\n%s", dir, err, out)
	}
	got := strings.Fields(string(out))
	sort.Strings(got)
	return got
}

// Repo makes a yum repository of rpms in a new directory with createrepo_c,
// with comps (the text of a comps.xml) as its group file when not empty,
// and returns the directory.
func Repo(tb testing.TB, rpms []string, comps string) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, r := range rpms {
		raw, err := os.ReadFile(r)
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(r)), raw, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	args := []string{"-q"}
	if comps != "" {
		path := filepath.Join(tb.TempDir(), "comps.xml")
		if err := os.WriteFile(path, []byte(comps), 0o644); err != nil {
			tb.Fatal(err)
		}
		args = append(args, "-g", path)
	}
	if out, err := exec.Command("createrepo_c", append(args, dir)...).CombinedOutput(); err != nil {
		tb.Fatalf("rpmtest: createrepo_c %s: %v\n%s", dir, err, out)
	}
	return dir
}

// Serve serves dir over HTTP on loopback until the test ends and returns
// its base URL, ending in /.
func Serve(tb testing.TB, dir string) string {
	tb.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	tb.Cleanup(srv.Close)
	return srv.URL + "/"
}
