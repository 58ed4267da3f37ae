package loraxtest

import (
	"os"
	"path/filepath"
	"testing"
)

// Outcome is how a stand-in ends.
type Outcome int

const (
	// Succeed makes the image and exits 0.
	Succeed Outcome = iota
	// Fail logs a packaging error in the tool's logs and exits 1.
	Fail
)

// PackagingError is the error line a failing livemedia-creator stand-in
// writes into anaconda/packaging.log, as its line 2.
const PackagingError = "10:00:02,300 ERR packaging: Failed to set up the payload: no package matched: nosuchpkg"

// LiveMediaCreator writes a stand-in for livemedia-creator (lorax's other
// tool) and returns its path, for [tools] or builder.Tools. It writes its
// own logs where, and in the format, the real one does, so the collection
// of tool logs and the search for the tool's error are tested against the
// real layout. It refuses options livemedia-creator does not document
// (lmc_parser in pylorax/cmdline.py), an option without its value, two
// --make-* actions and a missing --ks kickstart, as the real one does.
// Like `livemedia-creator --no-virt`, it writes --logfile
// (livemedia.log), program.log beside it, and anaconda's logs in anaconda/
// beside them; on success it writes the ISO named by --iso-name into
// --resultdir.
func LiveMediaCreator(t testing.TB, o Outcome) string {
	t.Helper()
	end := `mkdir -p "$result"
printf 'fbs test live ISO\n' > "$result/$name"
echo "2024-05-01 10:00:09,000 INFO pylorax: SUMMARY" >> "$log"
exit 0`
	if o == Fail {
		end = `echo '` + PackagingError + `' >> "$dir/anaconda/packaging.log"
echo "2024-05-01 10:00:03,000 ERROR pylorax: Running anaconda failed: process '['anaconda']' exited with status 1" >> "$log"
echo "Running anaconda failed" >&2
exit 1`
	}
	path := filepath.Join(t.TempDir(), "livemedia-creator")
	script := `#!/bin/sh
# livemedia-creator stand-in (fbs tests): logs laid out as the real one's.
log=./livemedia.log ks= make=
while [ $# -gt 0 ]; do
	case "$1" in
	--iso-name) name=$2; shift 2 ;;
	--resultdir) result=$2; shift 2 ;;
	--logfile) log=$2; shift 2 ;;
	--ks) ks=$2; [ -f "$ks" ] || { echo "livemedia-creator: kickstart $ks missing" >&2; exit 1; }; shift 2 ;;
	--iso|--proxy|--anaconda-arg|--armplatform|--location|--lorax-templates|--tmp|--extra-boot-args|\
	--disk-image|--fs-image|--image-name|--tar-disk-name|--fs-label|--image-size-align|--image-type|\
	--qemu-arg|--qcow2-arg|--compression|--compress-arg|--app-name|--app-template|--app-file|--ram|--vcpus|\
	--vnc|--arch|--kernel-args|--ovmf-path|--with-rng|--dracut-arg|--live-rootfs-size|--oci-config|\
	--oci-runtime|--vagrant-metadata|--vagrantfile|--title|--project|--releasever|--volid|--timeout)
		[ $# -ge 2 ] || { echo "livemedia-creator: error: argument $1: expected one argument" >&2; exit 2; }
		shift 2 ;;
	--make-iso|--make-disk|--make-fsimage|--make-appliance|--make-ami|--make-tar|--make-tar-disk|\
	--make-pxe-live|--make-ostree-live|--make-oci|--make-vagrant)
		[ -z "$make" ] || { echo "livemedia-creator: error: argument $1: not allowed with argument $make" >&2; exit 2; }
		make=$1; shift ;;
	--iso-only|--image-only|--no-virt|--macboot|--nomacboot|--keep-image|--qcow2|--virt-uefi|--no-kvm|\
	--live-rootfs-keep-size|--squashfs-only) shift ;;
	*) echo "livemedia-creator: error: unrecognized arguments: $1" >&2; exit 2 ;;
	esac
done
[ -n "$ks" ] || { echo "livemedia-creator: error: --ks is required" >&2; exit 2; }
dir=$(dirname "$log")
echo "2024-05-01 10:00:00,100 INFO pylorax: livemedia-creator 41.3-1.fc41" > "$log"
echo "2024-05-01 10:00:00,200 INFO: Running... anaconda --kickstart" > "$dir/program.log"
mkdir -p "$dir/anaconda"
echo "10:00:01,000 INF packaging: setting up the payload" > "$dir/anaconda/packaging.log"
echo "10:00:01,000 INF program: Running... udevadm settle" > "$dir/anaconda/program.log"
echo "2024-05-01T10:00:01+0000 INFO Librepo version: 1.18.0" > "$dir/anaconda/dnf.librepo.log"
echo "livemedia-creator: building $name"
` + end + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
