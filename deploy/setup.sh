#!/usr/bin/env bash
# Installs what fbs and its test suite need on a Debian or Fedora machine.
# As root it installs missing packages; otherwise it prints the exact command
# and stops. Used by the README's Quick start and by CI (.ci/run).
set -euo pipefail

# command -> Debian package, Fedora package
deps=(
  "go:golang:golang"
  "redis-server:redis-server:redis"
  "xorriso:xorriso:xorriso"
  "mcopy:mtools:mtools"
  "mkfs.fat:dosfstools:dosfstools"
  "sshd:openssh-server:openssh-server"
  "sftp:openssh-client:openssh-clients"
  "vsftpd:vsftpd:vsftpd"
  "rpmbuild:rpm:rpm-build"
  "createrepo_c:createrepo-c:createrepo_c"
  "dnf:dnf:dnf"
  "implantisomd5:isomd5sum:isomd5sum"
  "checkisomd5:isomd5sum:isomd5sum"
  "sha256sum:coreutils:coreutils"
  "openssl:openssl:openssl"
  "chromium:chromium:chromium"
  "curl:curl:curl"
  "ip:iproute2:iproute"
  "tc:iproute2:iproute-tc"
  "wrk:wrk:wrk"
  "qemu-system-x86_64:qemu-system-x86:qemu-system-x86-core"
  "busybox:busybox-static:busybox"
  "cpio:cpio:cpio"
  # fbs deploy's tests: systemd-analyze verify of the rendered units, and
  # patch applying the plan's unified diffs.
  "systemd-analyze:systemd:systemd"
  "patch:patch:patch"
  # fbs deploy's tests boot real hosts (testing/hosttest): a root file
  # system made by debootstrap, booted by systemd-nspawn.
  "debootstrap:debootstrap:debootstrap"
  "systemd-nspawn:systemd-container:systemd-container"
)
# files -> Debian package, Fedora package
files=(
  "/usr/lib/ISOLINUX/isolinux.bin:isolinux:syslinux"
  "/usr/lib/syslinux/modules/bios/ldlinux.c32:syslinux-common:syslinux"
  "/usr/lib/grub/x86_64-efi/linux.mod:grub-efi-amd64-bin:grub2-efi-x64-modules"
)
# The QEMU boot test (testing/boottest): grub-mkstandalone (Fedora:
# grub2-mkstandalone), OVMF and a kernel image under /boot.
if ! command -v grub-mkstandalone >/dev/null 2>&1 && ! command -v grub2-mkstandalone >/dev/null 2>&1; then
  files+=("/nonexistent/grub-mkstandalone:grub-common:grub2-tools-extra")
fi
if [ ! -e /usr/share/OVMF/OVMF_CODE_4M.fd ] && [ ! -e /usr/share/OVMF/OVMF_CODE.fd ] && [ ! -e /usr/share/edk2/ovmf/OVMF_CODE.fd ]; then
  files+=("/nonexistent/OVMF_CODE.fd:ovmf:edk2-ovmf")
fi
if ! compgen -G "/boot/vmlinuz-*" >/dev/null; then
  files+=("/nonexistent/vmlinuz:linux-image-amd64:kernel-core")
fi

if [ -r /etc/debian_version ]; then os=debian; elif [ -r /etc/fedora-release ]; then os=fedora; else os=unknown; fi
PATH=$PATH:/usr/sbin:/usr/local/go/bin

missing=()
for d in "${deps[@]}"; do
  IFS=: read -r cmd deb fed <<<"$d"
  command -v "$cmd" >/dev/null 2>&1 && continue
  if [ "$cmd" = go ] && [ -x /usr/local/go/bin/go ]; then continue; fi
  if [ "$os" = fedora ]; then missing+=("$fed"); else missing+=("$deb"); fi
done
for d in "${files[@]}"; do
  IFS=: read -r f deb fed <<<"$d"
  [ -e "$f" ] && continue
  if [ "$os" = fedora ]; then missing+=("$fed"); else missing+=("$deb"); fi
done
# DVD builds run `dnf download`, a plugin command on dnf 4 (dnf 5 has it built in).
if ! dnf download --help >/dev/null 2>&1; then
  missing+=(dnf-plugins-core)
fi
# Fedora ships isolinux.bin elsewhere; accept it there.
if [ "$os" = fedora ] && [ -e /usr/share/syslinux/isolinux.bin ]; then
  missing=("${missing[@]/syslinux}")
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk 'NF' | sort -u)

if [ "${#missing[@]}" -gt 0 ]; then
  case "$os" in
    debian) install=(apt-get install -y --no-install-recommends "${missing[@]}") ;;
    fedora) install=(dnf install -y "${missing[@]}") ;;
    *) echo "fbs setup: unknown OS; install: ${missing[*]}" >&2; exit 1 ;;
  esac
  if [ "$(id -u)" -ne 0 ]; then
    echo "fbs setup: missing packages. Run as root:" >&2
    [ "$os" = debian ] && echo "  apt-get update && ${install[*]}" >&2 || echo "  ${install[*]}" >&2
    exit 1
  fi
  echo "fbs setup: installing ${missing[*]}"
  if [ "$os" = debian ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${install[@]}" >/dev/null
  else
    "${install[@]}"
  fi
fi
# sshd refuses to start without its privilege separation directory.
if [ "$(id -u)" -eq 0 ]; then mkdir -p /run/sshd; fi
