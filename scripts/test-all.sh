#!/usr/bin/env bash
# `npm run test:all`, the README's test command: everything CI does, on any
# Debian host, as root. Installs the system packages the suite uses, installs
# the npm dependencies from the lock file, then runs the whole suite with
# CI=true, so a missing prerequisite fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "test:all: the suite creates users, namespaces and cgroups and installs Debian packages: run it as root (sudo npm run test:all)" >&2
  exit 2
fi
bash scripts/install-test-packages.sh
node --version
npm --version
npm ci --no-audit --no-fund
CI=true npm test
