package boottest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Marker lines the initrd's /init writes to the serial console; Boot reads
// them back.
const (
	markCmdline = "fbs-boottest cmdline: "
	markLabel   = "fbs-boottest label: "
	markDevice  = "fbs-boottest device: "
	markKS      = "fbs-boottest ks: "
	markError   = "fbs-boottest error: "
)

// cdModules are the kernel modules the stand-in installer loads to read the
// CD of QEMU's default (i440fx) machine: the PIIX IDE controller, the SCSI
// CD-ROM driver and ISO 9660. Debian builds all of them as modules.
var cdModules = []string{"ata_piix", "sr_mod", "isofs"}

// initScript is the initrd's /init, the stand-in for Anaconda's dracut
// stage: it prints the kernel command line, finds the volume named by
// inst.ks=hd:LABEL=...:/path the way Anaconda does without udev (the device
// whose ISO 9660 volume ID, at byte 32808 of the primary volume descriptor,
// matches the label), mounts it, prints the kickstart's first line and
// powers the machine off. %s is the list of modules to load, in order.
const initScript = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "` + markError + `$*"; poweroff -f; }
echo "` + markCmdline + `$(cat /proc/cmdline)"
for m in %s; do insmod /lib/modules/$m.ko || fail "insmod $m"; done
ks=
for a in $(cat /proc/cmdline); do
  case "$a" in inst.ks=*) ks=${a#inst.ks=} ;; esac
done
case "$ks" in
  hd:LABEL=*:*) ;;
  *) fail "no inst.ks=hd:LABEL=...:/path on the kernel command line" ;;
esac
rest=${ks#hd:LABEL=}
label=$(printf '%%b' "${rest%%:*}")
file=${rest##*:}
echo "` + markLabel + `$label"
dev=
i=0
while [ -z "$dev" ] && [ $i -lt 100 ]; do
  for b in /sys/block/*; do
    d=/dev/${b##*/}
    [ -b "$d" ] || continue
    v=$(dd if=$d bs=1 skip=32808 count=32 2>/dev/null | sed 's/ *$//')
    if [ "$v" = "$label" ]; then dev=$d; break; fi
  done
  [ -n "$dev" ] || { sleep 0.1; i=$((i+1)); }
done
[ -n "$dev" ] || fail "no block device has the volume label $label"
echo "` + markDevice + `$dev"
mkdir -p /run/install/repo
mount -t iso9660 -o ro "$dev" /run/install/repo || fail "mount $dev"
[ -r "/run/install/repo$file" ] || fail "no $file on $dev"
echo "` + markKS + `$(head -n 1 "/run/install/repo$file")"
poweroff -f
`

// moduleOrder returns the files (relative to the modules directory) of
// mods and of everything they depend on, dependencies first, read from
// modules.dep.
func moduleOrder(modDir string, mods []string) ([]string, error) {
	f, err := os.Open(filepath.Join(modDir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	deps := map[string][]string{} // file -> files it needs
	byName := map[string]string{} // module name -> file
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		file, needs, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[file] = strings.Fields(needs)
		name := strings.TrimSuffix(path.Base(file), ".ko")
		byName[strings.ReplaceAll(name, "-", "_")] = file
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var order []string
	seen := map[string]bool{}
	var visit func(file string)
	visit = func(file string) {
		if seen[file] {
			return
		}
		seen[file] = true
		// modules.dep lists every (transitive) dependency; load the
		// deepest first.
		needs := deps[file]
		for i := len(needs) - 1; i >= 0; i-- {
			visit(needs[i])
		}
		order = append(order, file)
	}
	for _, m := range mods {
		file, ok := byName[m]
		if !ok {
			return nil, fmt.Errorf("module %s is not in %s/modules.dep (a compressed or built-in module?)", m, modDir)
		}
		visit(file)
	}
	return order, nil
}

// makeInitrd writes a gzip-compressed newc cpio archive holding busybox as
// /bin/busybox, the modules of mods (with their dependencies) under
// /lib/modules and initScript as /init.
func makeInitrd(out, busybox, modDir string, mods []string) error {
	files, err := moduleOrder(modDir, mods)
	if err != nil {
		return err
	}
	var names []string
	w := &cpioWriter{}
	for _, d := range []string{"bin", "dev", "lib", "lib/modules", "mnt", "proc", "run", "sys"} {
		w.add(d, 0o040755, nil, 0)
	}
	w.add("dev/console", 0o020600, nil, 5<<8|1)
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	w.add("bin/busybox", 0o100755, bb, 0)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(modDir, f))
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(path.Base(f), ".ko")
		names = append(names, name)
		w.add("lib/modules/"+name+".ko", 0o100644, b, 0)
	}
	w.add("init", 0o100755, []byte(fmt.Sprintf(initScript, strings.Join(names, " "))), 0)
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if err != nil {
		return err
	}
	if _, err := zw.Write(w.close()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(out, gz.Bytes(), 0o644)
}

// cpioWriter writes the "newc" cpio format the kernel unpacks as an
// initramfs (linux Documentation/driver-api/early-userspace/buffer-format).
type cpioWriter struct {
	buf bytes.Buffer
	ino int
}

// add appends one entry; rdev is major<<8|minor for device nodes.
func (w *cpioWriter) add(name string, mode uint32, data []byte, rdev int) {
	w.ino++
	nlink := 1
	if mode&0o170000 == 0o040000 {
		nlink = 2
	}
	fmt.Fprintf(&w.buf, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		w.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev>>8, rdev&0xff, len(name)+1, 0)
	w.buf.WriteString(name)
	w.buf.WriteByte(0)
	w.pad()
	w.buf.Write(data)
	w.pad()
}

func (w *cpioWriter) pad() {
	for w.buf.Len()%4 != 0 {
		w.buf.WriteByte(0)
	}
}

// close appends the trailer and returns the archive.
func (w *cpioWriter) close() []byte {
	w.add("TRAILER!!!", 0, nil, 0)
	return w.buf.Bytes()
}
