#!/usr/bin/env bash
# The main job: install everything (idempotent), then run the guided tour
# `calico lab demo` (a three-host Calico cluster in network namespaces).
# Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/install-deps.sh
exec .venv/bin/calico lab demo "$@"
