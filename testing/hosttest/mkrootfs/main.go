// Command mkrootfs builds the root file system the test hosts of
// testing/hosttest boot (debootstrap of Debian into
// /var/cache/fbs-hosttest), unless it is cached already, and prints its
// directory. deploy/test.sh runs it before the tests, as root, when
// debootstrap and systemd-nspawn are installed, so the tests download
// nothing.
package main

import (
	"fmt"
	"os"

	"github.com/fedora-fbs/fbs/testing/hosttest"
)

func main() {
	dir, err := hosttest.BuildRootfs()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkrootfs:", err)
		os.Exit(1)
	}
	fmt.Println(dir)
}
