#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs everything (idempotent),
# then lint, types and tests.  Run as root on Debian 12.
# Extra arguments go to pytest (e.g. scripts/test.sh -k selector).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/install-deps.sh
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
exec .venv/bin/pytest -m "not slow" "$@"
