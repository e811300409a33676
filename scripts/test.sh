#!/usr/bin/env bash
# Installs everything (scripts/setup.sh) and runs every test of the repository.
# Extra arguments filter test files by path substring, e.g. scripts/test.sh posttroll
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec node scripts/run-tests.mjs "$@"
