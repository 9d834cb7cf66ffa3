#!/usr/bin/env bash
# viewer.sh [BUILD_DIR] — the run viewer on a big run: bench_viewer_fixture
# writes a run of 10,000 steps with 100,002 events into a fresh journal,
# `cairn serve --no-worker` serves it on a free port of 127.0.0.1, and
# bench/viewer.mjs opens it in Debian's chromium (puppeteer-core from
# tests/viewer/node_modules: `bash scripts/deps.sh --test`). Ends with
#   RESULT bench=viewer steps=N run_json_bytes=N first_screen_ms=N
#          history_first_rows_ms=N dom_rows=N repeats=N
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(realpath "${1:-$here/../build}")
tmp=$(mktemp -d /tmp/cairn-bench-viewer.XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
run=$("$build/bench_viewer_fixture" "$tmp/journal" 10000 5)
CAIRN_HOME=$tmp/journal "$build/cairn" serve --listen 127.0.0.1:0 --quiet \
  --no-worker >"$tmp/serve.out" 2>"$tmp/serve.err" &
pid=$!
for _ in $(seq 200); do grep -q "listening on" "$tmp/serve.out" && break; sleep 0.05; done
api=$(grep -o 'http://127.0.0.1:[0-9]*' "$tmp/serve.out" | head -1)
[ -n "$api" ] || { echo "cairn serve did not start: $(cat "$tmp/serve.err")" >&2; exit 1; }
curl -s -o /dev/null -w "GET /v1/runs/RUN?view=summary (server side): %{time_total} s, %{size_download} bytes\n" "$api/v1/runs/$run?view=summary"
HOME=$tmp node "$here/viewer.mjs" "$api" "$run" 5
