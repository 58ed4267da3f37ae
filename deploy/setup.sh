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
  "sha256sum:coreutils:coreutils"
  "implantisomd5:isomd5sum:isomd5sum"
  "checkisomd5:isomd5sum:isomd5sum"
  "openssl:openssl:openssl"
  "chromium:chromium:chromium"
  "curl:curl:curl"
  "ip:iproute2:iproute"
  "tc:iproute2:iproute-tc"
  "wrk:wrk:wrk"
)
# files -> Debian package, Fedora package
files=(
  "/usr/lib/ISOLINUX/isolinux.bin:isolinux:syslinux"
  "/usr/lib/syslinux/modules/bios/ldlinux.c32:syslinux-common:syslinux"
)

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
