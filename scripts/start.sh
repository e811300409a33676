#!/usr/bin/env bash
# Installs everything (scripts/setup.sh) and starts the offline demo: the GINA simulator and the
# whole suite under pm2 in a scratch base dir. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec node scripts/demo.mjs
