#!/usr/bin/env bash
# deps.sh [--test] — installs, from Debian's archive, whatever cairn needs
# to build that this machine lacks; with --test also what its tests need:
# Debian's chromium and Node.js for the viewer's browser tests, and their
# node packages (tests/viewer/package-lock.json: puppeteer-core, which
# downloads no browser) from the npm registry. Needs root (or sudo) only
# when a package is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(gcc make cmake pkg-config clang libclang-rt-14-dev llvm
      liblmdb-dev libmsgpack-dev libuv1-dev libcurl4-openssl-dev
      libcjson-dev libjq-dev libssl-dev uthash-dev jq libmicrohttpd-dev curl
      libpq-dev)
test=false
[ "${1-}" = "--test" ] && test=true
if $test; then
  pkgs+=(chromium postgresql)
  command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

# The browser tests' node packages, again only when the lock changed.
if $test; then
  v=tests/viewer
  if [ ! -f $v/node_modules/.package-lock.json ] ||
     [ $v/package-lock.json -nt $v/node_modules/.package-lock.json ]; then
    echo "deps: npm ci in $v"
    (cd $v && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null)
  fi
fi
