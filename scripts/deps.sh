#!/usr/bin/env bash
# deps.sh — installs, from Debian's archive, whatever cairn needs to build
# and test that this machine lacks. Needs root (or sudo) only when
# something is missing.
set -euo pipefail

pkgs=(gcc make cmake pkg-config clang libclang-rt-14-dev llvm
      liblmdb-dev libmsgpack-dev libuv1-dev libcurl4-openssl-dev
      libcjson-dev libjq-dev libssl-dev uthash-dev jq libmicrohttpd-dev curl)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
