#!/usr/bin/env bash
# demo.sh — the README's first command: install what is missing, build,
# and record a real run on the embedded default journal (./.cairn), then
# show its history and verify the journal. No server to start.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCAIRN_BUILD_TESTS=OFF -DCAIRN_BUILD_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

export CAIRN_HOME="${CAIRN_HOME:-$PWD/.cairn}"
out=$(./build/example_record_run "${1:-README.md}")
echo "$out"
run=$(echo "$out" | awk '/^run /{print $2}')
echo
echo "\$ ./build/cairn history $run"
./build/cairn history "$run"
echo
echo "\$ ./build/cairn journal verify"
./build/cairn journal verify
echo
echo "\$ ./build/cairn journal stats"
./build/cairn journal stats
