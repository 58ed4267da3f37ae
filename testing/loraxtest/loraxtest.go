// Package loraxtest stands in for lorax, which only Fedora ships: a script
// that takes lorax's documented options and writes a small boot tree in
// lorax's output shape (images/ with boot.iso, made with xorriso, isolinux/,
// EFI/BOOT/, .treeinfo), so that the rest of a boot or DVD build runs for
// real on any machine. LiveMediaCreator
// stands in for livemedia-creator, writing its logs in the real tool's
// layout.
package loraxtest

import (
	"os"
	"path/filepath"
	"testing"
)

// script refuses options lorax does not document (lorax_parser in
// pylorax/cmdline.py) and an output directory that exists, as lorax does,
// and records its arguments, one a line, in OUTPUTDIR/../lorax.args.
const script = `#!/bin/sh
set -e
out= volid= arch= log=./lorax.log
args="$*"
while [ $# -gt 0 ]; do
	case "$1" in
	--volid) volid=$2; shift 2 ;;
	--buildarch) arch=$2; shift 2 ;;
	--logfile) log=$2; shift 2 ;;
	-p|--product|-v|--version|-r|--release|-s|--source|--repo|-m|--mirrorlist|-t|--variant|-b|--bugurl|\
	-c|--config|--proxy|-i|--installpkgs|-e|--excludepkgs|--tmp|--cachedir|--workdir|--add-template|\
	--add-template-var|--add-arch-template|--add-arch-template-var|--sharedir|--enablerepo|--disablerepo|\
	--rootfs-size|--dnfplugin|--dracut-arg)
		[ $# -ge 2 ] || { echo "lorax: $1 needs a value" >&2; exit 2; }
		shift 2 ;;
	--isfinal|--macboot|--nomacboot|--noupgrade|--force|--noverify|--noverifyssl|--squashfs-only) shift ;;
	-*) echo "lorax: error: unrecognized arguments: $1" >&2; exit 2 ;;
	*) [ -z "$out" ] || { echo "lorax: error: two output directories" >&2; exit 2; }; out=$1; shift ;;
	esac
done
[ -n "$out" ] || { echo "lorax: error: the following arguments are required: OUTPUTDIR" >&2; exit 2; }
[ ! -e "$out" ] || { echo "ERROR: Output directory $out already exists" >&2; exit 1; }
echo "$args" > "$(dirname "$out")/lorax.args"
case "$arch" in i686) basearch=i386 ;; "") basearch=$(uname -m) ;; *) basearch=$arch ;; esac
mkdir -p "$out/images/pxeboot" "$out/isolinux" "$out/EFI/BOOT"
echo "lorax stand-in kernel" > "$out/images/pxeboot/vmlinuz"
echo "lorax stand-in initrd" > "$out/images/pxeboot/initrd.img"
echo "lorax stand-in stage2" > "$out/images/install.img"
head -c 1048576 /dev/zero > "$out/images/efiboot.img"
head -c 2048 /dev/zero > "$out/isolinux/isolinux.bin"
printf 'label linux\n  kernel vmlinuz\n  append initrd=initrd.img inst.stage2=hd:LABEL=%s quiet\n' "$volid" > "$out/isolinux/isolinux.cfg"
printf 'menuentry Install {\n  linux /images/pxeboot/vmlinuz inst.stage2=hd:LABEL=%s quiet\n  initrd /images/pxeboot/initrd.img\n}\n' "$volid" > "$out/EFI/BOOT/grub.cfg"
echo "lorax stand-in shim" > "$out/EFI/BOOT/BOOTX64.EFI"
cat > "$out/.treeinfo" <<TREEINFO
[general]
name = lorax stand-in
arch = $basearch

[images-$basearch]
kernel = images/pxeboot/vmlinuz
initrd = images/pxeboot/initrd.img
efiboot.img = images/efiboot.img

[stage2]
mainimage = images/install.img
TREEINFO
xorriso -as mkisofs -quiet -V "${volid:-lorax}" -o "$out/images/boot.iso" -graft-points \
	/images/pxeboot="$out/images/pxeboot" /isolinux="$out/isolinux" /EFI="$out/EFI" /.treeinfo="$out/.treeinfo"
echo "lorax stand-in: wrote $out" | tee "$log"
`

// Script writes the stand-in into a temporary directory and returns its
// path, for [tools] lorax or builder.Tools.
func Script(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "lorax")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		tb.Fatal(err)
	}
	return path
}
