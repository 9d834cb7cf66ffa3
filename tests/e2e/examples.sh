#!/usr/bin/env bash
# examples.sh — the examples the README points at keep working: the demo
# workflow, and the two embedding programs.
#   usage: examples.sh CAIRN EXAMPLE_NATIVE_KIND SOURCE_DIR
set -uo pipefail
CAIRN=$(realpath "$1")
NATIVE=$(realpath "$2")
SRC=$(realpath "$3")
. "$(dirname "$0")/lib.sh"
export CAIRN_HOME=$tmp/journal

printf 'the cat saw the other cat\nand the dog\n' >"$tmp/text.txt"
expect_exit 0 "the demo workflow runs" "$CAIRN" --format json run \
  "$SRC/examples/workflows/text_report.json" --input "{\"file\": \"$tmp/text.txt\"}"
eq "it counts words" "$(jq .output.stats.words "$tmp/out")" 9
eq "it finds the most frequent word" "$(jq -r '.output.top[0].word' "$tmp/out")" "other"
wf=$(jq -r .workflow_id "$tmp/out")
expect_exit 0 "its trace can be shown" "$CAIRN" show "$wf"
check "the trace lists the sleep step" grep -q "pause .*completed" "$tmp/out"
expect_exit 0 "its summary is an asset" "$CAIRN" --format json assets show \
  text_report/summary
eq "made by the summary step" "$(jq -r .step "$tmp/out")" summary

expect_exit 0 "the native-kind example runs" "$NATIVE" "abc"
check "its native step reversed the shouted text" grep -q '"CBA"' "$tmp/out"
wf=$(awk '/^workflow/{print $2}' "$tmp/out")
expect_exit 0 "its run is in the journal" "$CAIRN" --format json show "$wf"
eq "with both steps completed" \
  "$(jq -c '[.steps[].status]' "$tmp/out")" '["completed","completed"]'
finish
