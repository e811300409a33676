#!/usr/bin/env bash
# Installs everything the suite and its tests need on a fresh machine with Node 20 and npm:
# Debian packages (inotify-tools for the stalker), the pnpm workspace, and the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v inotifywait >/dev/null 2>&1 || need+=(inotify-tools)
if [ "${#need[@]}" -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

echo "setup: installing node packages (pnpm from the npm registry)"
npx -y pnpm@10 install --frozen-lockfile --reporter=append-only

echo "setup: building"
node_modules/.bin/tsc -b
# The native addons: the daemons' malloc_trim helper and the stalker's inotify source (a few lines
# of C each against Node's headers; optional at run time).
node scripts/build-native.mjs
echo "setup: done"
