#!/usr/bin/env bash
# Starts fbs on its embedded defaults (the README's first Quick start
# command): installs missing packages when run as root, builds the binary
# and runs `fbs serve` with an embedded broker, file staging and local mail.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin:/usr/sbin
bash deploy/setup.sh
bash deploy/build.sh
exec ./fbs serve "$@"
