#!/usr/bin/env bash
# Runs the whole fbs test suite (the README's second Quick start command).
# It installs missing packages first when run as root (deploy/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin:/usr/sbin
bash deploy/setup.sh
# The fbs deploy tests boot real Debian hosts (testing/hosttest): their root
# file system is made once per machine here, at set-up, so that the tests
# reach only the hosts they boot (a few minutes the first time, cached in
# /var/cache/fbs-hosttest afterwards).
if [ "$(id -u)" -eq 0 ] && command -v debootstrap >/dev/null && command -v systemd-nspawn >/dev/null; then
  echo "fbs test: host image $(go run ./testing/hosttest/mkrootfs)"
fi
go test -count=1 -timeout 20m "$@" ./...
