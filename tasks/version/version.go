// Package version is the fbs release a binary was built as: what `fbs
// version` prints, what a worker's heartbeat carries and what `fbs deploy`
// compares between a host and the binary it would install.
//
// Builds from a checkout say "0.1.0-devel"; a release build (or a test that
// needs two distinguishable binaries) sets it at link time:
//
//	go build -ldflags "-X github.com/fedora-fbs/fbs/tasks/version.release=1.2.3"
package version

import "runtime/debug"

// release is set at link time with -ldflags -X; it is the one package
// variable the linker writes, never changed at run time.
var release = "0.1.0-devel"

// Release is the fbs release this binary was built as.
func Release() string { return release }

// String is the release followed by the VCS revision the binary was built
// from, when the build recorded one ("1.2.3 4c3b65b…"), so that two builds of
// one release from different commits differ.
func String() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return release + " " + s.Value
			}
		}
	}
	return release
}
