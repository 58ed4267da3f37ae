#!/usr/bin/env bash
# Runs the whole fbs test suite (the README's second Quick start command).
# It installs missing packages first when run as root (deploy/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin:/usr/sbin
bash deploy/setup.sh
go test -count=1 -timeout 20m "$@" ./...
