#!/usr/bin/env bash
# The browser SDK's part of the project's test command (.ci/run): type-check,
# unit and cross-language conformance tests, the committed demo build, the
# package as installed from its tarball, and the end-to-end tests in Debian's
# headless Chromium.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing Debian's chromium for the browser tests"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

echo "== npm ci"
npm ci --no-audit --no-fund --loglevel=error

echo "== tsc --noEmit"
npx tsc --noEmit -p .
npx tsc --noEmit -p demo

echo "== vitest (unit and conformance tests)"
npx vitest run

echo "== committed demo build matches the source"
node build.mjs --check

echo "== npm pack: the tarball installed in a scratch project, used from Node, esbuild and tsc"
node pack-check.mjs

echo "== end-to-end tests in headless Chromium"
node e2e/run.mjs
