#!/usr/bin/env bash
# The whole test suite: unit tests (Surefire), integration and end-to-end tests (Failsafe) on real
# zfs-fuse pools, a real sshd on 127.0.0.1 and real MQTT brokers. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-prereqs.sh
exec mvn -B -ntp verify "$@"
