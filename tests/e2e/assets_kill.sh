#!/usr/bin/env bash
# assets_kill.sh — durability of assets: a 12-step workflow whose steps
# each write a file and declare two assets (the file, and a value of
# their output) is killed with SIGKILL at random moments and resumed with
# `cairn worker --drain`. Every time: the history is contiguous; each
# step completed exactly once and never ran after its durable completion;
# every step.completed is followed, in its own commit, by exactly its two
# asset.materialized events, and no asset.materialized stands anywhere
# else (never an asset without its step, nor a completion without its
# assets); the catalogue holds what the histories say, byte for byte.
#   usage: assets_kill.sh CAIRN [TRIALS]
set -uo pipefail
TRIALS=${2:-8}
. "$(dirname "$0")/lib.sh"
use_cairn "$1"
seed=${CAIRN_TEST_SEED:-$(date +%s)}
RANDOM=$seed
echo "seed $seed (set CAIRN_TEST_SEED to repeat)"

N=12
{
  echo '{ "name": "makers", "steps": ['
  for i in $(seq 1 $N); do
    sep=$([ "$i" -lt $N ] && echo ,)
    echo "{ \"name\": \"s$i\", \"kind\": \"exec\", \"with\": { \"command\":
      [\"sh\", \"-c\", \"echo \\\"\$CAIRN_STEP \$CAIRN_ATTEMPT \$CAIRN_RUN_ID\\\" >> $tmp/side.log; mkdir -p files; echo \$CAIRN_RUN_ID-$i-\$CAIRN_ATTEMPT > files/\$CAIRN_RUN_ID-$i; sleep 0.0$((RANDOM % 4 + 1)); echo $i\"] },
      \"produces\": [
        { \"key\": \"file/{{ .run.workflow_id }}/s$i\", \"path\": \"files/{{ .run.id }}-$i\" },
        { \"key\": \"value/{{ .run.workflow_id }}/s$i\", \"value\": \"{{ .output }}\" } ] }$sep"
  done
  echo '] }'
} >makers.json


kills=0
for t in $(seq 1 "$TRIALS"); do
  wf=makers-$t
  kill_soon 500 "$CAIRN" run makers.json --id "$wf"
  "$CAIRN" status "$wf" >/dev/null 2>&1 ||
    "$CAIRN" start makers.json --id "$wf" >/dev/null
  for k in 1 2; do
    kill_soon 300 "$CAIRN" worker --drain
  done
  "$CAIRN" worker --drain >/dev/null 2>&1
  expect_exit 0 "$wf completes after its kills" "$CAIRN" result "$wf"
  run=$("$CAIRN" --format json status "$wf" | jq -r .run_id)
  "$CAIRN" --format json history "$wf" >hist.json
  eq "$wf: history is contiguous" \
    "$(jq -c '[.events[].seq] == [range(1; (.events | length) + 1)]' \
       hist.json)" true
  eq "$wf: every step completed exactly once" \
    "$(jq '[.events[] | select(.type == "step.completed")] | length' \
       hist.json)" $N
  eq "$wf: two assets per step, no more" \
    "$(jq '[.events[] | select(.type == "asset.materialized")] | length' \
       hist.json)" $((2 * N))
  # The two events after each step.completed are its assets (same step,
  # same attempt); an asset anywhere else is a defect.
  eq "$wf: each completion is followed by exactly its own assets" \
    "$(jq -c '.events as $e | [range(0; $e | length) as $i
       | select($e[$i].type == "step.completed")
       | [$e[$i + 1], $e[$i + 2]]
       | map(select(.type == "asset.materialized")) | length] | unique' \
       hist.json)" "[2]"
  eq "$wf: no asset stands apart from its step's completion" \
    "$(jq '.events as $e | [range(1; $e | length) as $i
       | select($e[$i].type == "asset.materialized")
       | select(($e[$i - 1].type != "step.completed" and
                 $e[$i - 1].type != "asset.materialized") or
                $e[$i - 1].step != $e[$i].step or
                $e[$i - 1].attempt != $e[$i].attempt)] | length' hist.json)" 0
  bad=$(jq -r '.events[] | select(.type == "step.completed") |
               "\(.step) \(.attempt)"' hist.json |
    while read -r step done_attempt; do
      late=$(awk -v s="$step" -v r="$run" -v a="$done_attempt" \
        '$1 == s && $3 == r && $2 > a' side.log | wc -l)
      [ "$late" -eq 0 ] || echo "$step ran after its durable completion"
    done)
  eq "$wf: no step ran after completing" "$bad" ""
  # the catalogue says what the history says
  "$CAIRN" assets list --prefix "file/$wf/" --format json >cat.json
  eq "$wf: the catalogue has each file asset once" \
    "$(jq '.assets | length' cat.json)" $N
  eq "$wf: with the hashes the history recorded" \
    "$(jq -c '[.assets[] | .hash] | sort' cat.json)" \
    "$(jq -c '[.events[] | select(.type == "asset.materialized" and
       (.asset.key | startswith("file/"))) | .asset.hash] | sort' hist.json)"
  eq "$wf: which are the files' contents" \
    "$(jq -r '.assets[] | "\(.hash)  \(.uri)"' cat.json | sha256sum -c --quiet 2>&1)" ""
done
check "at least $TRIALS kills landed (got $kills)" test "$kills" -ge "$TRIALS"
expect_exit 0 "the journal verifies after all the kills, catalogue included" \
  "$CAIRN" journal verify
finish
