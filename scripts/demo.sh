#!/usr/bin/env bash
# demo.sh — the README's first command: install what is missing, build,
# and run a real example workflow (examples/workflows/text_report.json:
# exec steps, a parallel branch, a durable sleep, templates) on the
# embedded default journal ./.cairn, then show how to look at it.
# No server to start, nothing from the network.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" --target cairn >/dev/null

export CAIRN_HOME="${CAIRN_HOME:-$PWD/.cairn}"
file=${1:-README.md}
echo "\$ ./build/cairn run examples/workflows/text_report.json --input '{\"file\": \"$file\"}'"
./build/cairn run examples/workflows/text_report.json \
  --input "{\"file\": \"$file\"}" | tee /tmp/cairn-demo.$$
wf=$(awk '/^workflow/{print $2}' /tmp/cairn-demo.$$)
rm -f /tmp/cairn-demo.$$
echo
echo "\$ ./build/cairn show $wf        # the trace: steps, attempts, outputs"
./build/cairn show "$wf"
echo
echo "\$ ./build/cairn history $wf     # every event, in order"
./build/cairn history "$wf"
echo
echo "\$ ./build/cairn assets list     # what runs produced (docs/assets.md)"
./build/cairn assets list
echo
echo "\$ ./build/cairn journal verify"
./build/cairn journal verify
run=$(./build/cairn status "$wf" | awk '{print $3}')
echo
echo "The run stays in $CAIRN_HOME. To see it in the run viewer (docs/viewer.md),"
echo "start \`./build/cairn serve\` (CAIRN_HOME=$CAIRN_HOME) and open:"
echo "http://127.0.0.1:7070/runs/$run"
