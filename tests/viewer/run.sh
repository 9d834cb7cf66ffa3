#!/usr/bin/env bash
# run.sh CAIRN LLM_SERVER SCENARIO SHOTS_DIR — one browser test of the run
# viewer: a fresh journal, the scripted model server (helpers/llm_server.c)
# for llm steps, a real `cairn serve` on a free port of 127.0.0.1, and
# Debian's chromium driven by puppeteer-core (viewer.test.mjs SCENARIO),
# which saves SHOTS_DIR/SCENARIO.png. Everything stops by itself.
set -uo pipefail
CAIRN=$(realpath "$1")
LLM=$(realpath "$2")
scenario=$3
shots=$4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$shots"
if [ ! -d "$here/node_modules/puppeteer-core" ]; then
  echo "FAIL: $here/node_modules lacks puppeteer-core: run bash scripts/deps.sh" >&2
  exit 1
fi
tmp=$(mktemp -d /tmp/cairn-viewer.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

"$LLM" >"$tmp/llm.out" 2>"$tmp/llm.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/llm.out" ] && break; sleep 0.05; done
llm_port=$(head -1 "$tmp/llm.out")
[ -n "$llm_port" ] || { echo "FAIL: the model server did not start" >&2; exit 1; }

export CAIRN_HOME=$tmp/journal
export OPENAI_BASE_URL=http://127.0.0.1:$llm_port/v1
export ANTHROPIC_BASE_URL=http://127.0.0.1:$llm_port/v1/
export OPENAI_API_KEY=sk-viewer-test ANTHROPIC_API_KEY=sk-viewer-test
mkdir -p "$CAIRN_HOME"
token=""
if [ "$scenario" = tokens ]; then # a server that answers only with a token
  token=viewer-test-secret-4f9c2a7e81
  hash=$(printf '%s' "$token" | "$CAIRN" serve hash-token)
  printf '{"serve": {"tokens": [{"name": "ada", "sha256": "%s", "namespace": "default", "role": "admin"}]}}\n' \
    "$hash" >"$CAIRN_HOME/config.json"
fi
"$CAIRN" serve --listen 127.0.0.1:0 --quiet >"$tmp/serve.out" 2>"$tmp/serve.err" &
pids+=($!)
for _ in $(seq 200); do grep -q "listening on" "$tmp/serve.out" && break; sleep 0.05; done
api=$(grep -o 'http://127.0.0.1:[0-9]*' "$tmp/serve.out" | head -1)
[ -n "$api" ] || { echo "FAIL: cairn serve did not start: $(cat "$tmp/serve.err")" >&2; exit 1; }

CAIRN_API=$api CAIRN_SHOTS=$shots CAIRN_TOKEN=$token HOME=$tmp timeout 100 \
  node "$here/viewer.test.mjs" "$scenario"
rc=$?
[ $rc -ne 0 ] && { echo "--- cairn serve stderr:" >&2; tail -20 "$tmp/serve.err" >&2; }
exit $rc
