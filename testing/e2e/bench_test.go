package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/testing/isotest"
)

// byHand does what the ksiso builder does, as a person would with the same
// tools: inspect, extract the boot configs, patch the kernel lines, patch
// the grub.cfg inside efiboot.img, write the new ISO with the boot records
// replayed, implant the media-check MD5 with implantisomd5 as mkksiso does,
// then checksum it and copy it to staging (mode "full"); or stop after
// implantisomd5 (mode "md5"), or after xorriso (mode "xorriso").
const byHand = `set -eu
iso=$1 ks=$2 out=$3 stage=$4 mode=${5:-full}
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
export LANG=C LC_ALL=C
xorriso -indev "$iso" -pvd_info -report_el_torito as_mkisofs -find / -type f >/dev/null 2>&1
xorriso -osirrox on -indev "$iso" -extract /isolinux/isolinux.cfg "$w/isolinux.cfg" \
  -extract /EFI/BOOT/grub.cfg "$w/efi-grub.cfg" -extract /boot/grub2/grub.cfg "$w/grub.cfg" \
  -extract /images/efiboot.img "$w/efiboot.img" >/dev/null 2>&1
chmod u+w "$w"/*
args='inst.ks=hd:LABEL=Fedora-E-dvd-x86_64-41:/ks.cfg console=ttyS0'
sed -i "s|^\(\s*append initrd.*\)|\1 $args|" "$w/isolinux.cfg"
sed -i "s|^\(\s*linux\(efi\)\? .*\)|\1 $args|" "$w/efi-grub.cfg" "$w/grub.cfg"
mdir -b -i "$w/efiboot.img" ::/EFI/BOOT >/dev/null
mcopy -n -i "$w/efiboot.img" ::/EFI/BOOT/grub.cfg "$w/img-grub.cfg"
sed -i "s|^\(\s*linux\(efi\)\? .*\)|\1 $args|" "$w/img-grub.cfg"
mcopy -o -i "$w/efiboot.img" "$w/img-grub.cfg" ::/EFI/BOOT/grub.cfg
xorriso -indev "$iso" -outdev "$out" -boot_image any replay -map "$ks" /ks.cfg \
  -update "$w/isolinux.cfg" /isolinux/isolinux.cfg -update "$w/efi-grub.cfg" /EFI/BOOT/grub.cfg \
  -update "$w/grub.cfg" /boot/grub2/grub.cfg -update "$w/efiboot.img" /images/efiboot.img >/dev/null 2>&1
[ "$mode" = xorriso ] && exit 0
implantisomd5 "$out" >/dev/null
[ "$mode" = md5 ] && exit 0
cd "$(dirname "$out")"
sha256sum "$(basename "$out")" > CHECKSUM
mkdir -p "$stage"
cp "$out" CHECKSUM "$ks" "$stage/"
`

// BenchmarkKSISOOverhead compares `fbs build --local` of a kickstart ISO
// (the ISO written, its media-check MD5 implanted, CHECKSUM, staged to
// file:// and verified) with the same xorriso and mtools commands run by a
// shell script: alone ("xorriso only"), followed by implantisomd5 as mkksiso
// does ("xorriso + implantisomd5", the goal's reference), and followed by
// implantisomd5, sha256sum and cp, which give the same deliverables ("by
// hand"). The boot ISO is padded to FBS_BENCH_ISO_MB (default 512) MiB; the
// commands alternate so all see the same machine. FBS_BENCH_BIN runs
// another fbs binary (an older build, to measure a change). Run it with:
//
//	go test ./testing/e2e -run '^$' -bench KSISOOverhead -benchtime 10x
func BenchmarkKSISOOverhead(b *testing.B) {
	if _, err := exec.LookPath("implantisomd5"); err != nil {
		b.Skip("implantisomd5 (isomd5sum) is the reference: apt-get install isomd5sum")
	}
	bin := fbsBin
	if v := os.Getenv("FBS_BENCH_BIN"); v != "" {
		bin = v
	}
	mb := 512
	if v, err := strconv.Atoi(os.Getenv("FBS_BENCH_ISO_MB")); err == nil && v > 0 {
		mb = v
	}
	dir := b.TempDir()
	iso := filepath.Join(dir, "boot.iso")
	pad := filepath.Join(dir, "pad.img")
	writeRandom(b, pad, int64(mb)<<20)
	xorriso := exec.Command("xorriso", "-indev", isotest.BootISO(b, volID), "-outdev", iso,
		"-boot_image", "any", "replay", "-map", pad, "/pad.img")
	if out, err := xorriso.CombinedOutput(); err != nil {
		b.Fatalf("pad the boot ISO: %v\n%s", err, out)
	}
	os.Remove(pad)
	ks := filepath.Join(dir, "ks.cfg")
	staging := filepath.Join(dir, "staging")
	spec := filepath.Join(dir, "ksiso.conf")
	cfg := filepath.Join(dir, "fbs.conf")
	script := filepath.Join(dir, "by-hand.sh")
	writeFile(b, ks, "text\nlang en_US.UTF-8\nrootpw --lock\n%packages\n@core\n%end\n")
	writeFile(b, spec, fmt.Sprintf("[DEFAULT]\ntype=ksiso\narch=x86_64\nrelease=41\nstaging=file://%s\n[ksiso]\niso=%s\nconfig=ks.cfg\ncmdline=console=ttyS0\n", staging, iso))
	writeFile(b, cfg, fmt.Sprintf("[worker]\nreleases = 41\ndata_dir = %s/data\n[staging]\nfile_root = %s\n", dir, staging))
	writeFile(b, script, byHand)

	var fbsT, handT, md5T, xorrisoT []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		fbsOut, err := exec.Command(bin, "build", "--config", cfg, "--local", spec).CombinedOutput()
		if err != nil {
			b.Fatalf("fbs build --local: %v\n%s", err, fbsOut)
		}
		fbsT = append(fbsT, time.Since(start))
		if i == b.N-1 {
			b.Logf("stage timings of the last fbs run:\n%s", stageLines(string(fbsOut)))
		}

		out := filepath.Join(dir, "hand", strconv.Itoa(i), "boot-ks.iso")
		handT = append(handT, byHandRun(b, script, iso, ks, out, filepath.Join(staging, "by-hand"), "full"))
		xorrisoT = append(xorrisoT, byHandRun(b, script, iso, ks, out, "", "xorriso"))
		md5T = append(md5T, byHandRun(b, script, iso, ks, out, "", "md5"))
		os.RemoveAll(staging)
	}
	b.StopTimer()
	f, h, m, x := median(fbsT), median(handT), median(md5T), median(xorrisoT)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(f.Seconds(), "fbs-s")
	b.ReportMetric(h.Seconds(), "by-hand-s")
	b.ReportMetric(m.Seconds(), "xorriso+md5-s")
	b.ReportMetric(x.Seconds(), "xorriso-only-s")
	b.ReportMetric(f.Seconds()/m.Seconds(), "ratio-vs-xorriso+md5")
	b.ReportMetric(f.Seconds()/h.Seconds(), "ratio-vs-by-hand")
	b.ReportMetric(f.Seconds()/x.Seconds(), "ratio-vs-xorriso-only")
}

// byHandRun times one run of the byHand script in mode, writing out (whose
// directory it makes before and removes after).
func byHandRun(b *testing.B, script, iso, ks, out, stage, mode string) time.Duration {
	b.Helper()
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(out))
	start := time.Now()
	if o, err := exec.Command("bash", script, iso, ks, out, stage, mode).CombinedOutput(); err != nil {
		b.Fatalf("by hand (%s): %v\n%s", mode, err, o)
	}
	return time.Since(start)
}

// stageLines keeps the "  stage  done in X" lines of fbs build's output.
func stageLines(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "done in") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

func writeRandom(b *testing.B, path string, n int64) {
	b.Helper()
	src, err := os.Open("/dev/urandom")
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(dst, src, n); err != nil {
		b.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		b.Fatal(err)
	}
}

func writeFile(b *testing.B, path, content string) {
	b.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		b.Fatal(err)
	}
}
