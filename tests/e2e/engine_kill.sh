#!/usr/bin/env bash
# engine_kill.sh — durability of execution: a 20-step workflow whose exec
# steps append to a side-effect log is killed with SIGKILL at random
# moments (at least 20 kills), and resumed with `cairn worker --drain`.
# Every time it must complete; its history must be contiguous; no step
# whose completion was durable may run again; and each step may run at
# most once more than the number of kills that caught it in flight.
#   usage: engine_kill.sh CAIRN [TRIALS]
set -uo pipefail
TRIALS=${2:-16}
. "$(dirname "$0")/lib.sh"
use_cairn "$1"
seed=${CAIRN_TEST_SEED:-$(date +%s)}
RANDOM=$seed
echo "seed $seed (set CAIRN_TEST_SEED to repeat)"

# 20 steps, each logging "STEP ATTEMPT RUN" then taking 10-40 ms.
{
  echo '{ "name": "twenty", "steps": ['
  for i in $(seq 1 20); do
    sep=$([ "$i" -lt 20 ] && echo ,)
    echo "{ \"name\": \"s$i\", \"kind\": \"exec\", \"with\": { \"command\":
      [\"sh\", \"-c\", \"echo \\\"\$CAIRN_STEP \$CAIRN_ATTEMPT \$CAIRN_RUN_ID\\\" >> $tmp/side.log; sleep 0.0$((RANDOM % 4 + 1)); echo $i\"] } }$sep"
  done
  echo '] }'
} >twenty.json

# Adds to hits.txt each step that is in flight in workflow $1 now: its
# latest step.started has no completion or failure after it.
record_hits() {
  "$CAIRN" --format json history "$1" 2>/dev/null | jq -r '
    [.events[] | select(.step != null)] | group_by(.step)[] as $g |
    ($g | map(select(.type == "step.started")) | last) as $s |
    select($s != null) |
    select([$g[] | select(.seq > $s.seq and
      (.type == "step.completed" or .type == "step.failed"))] | length == 0)
    | $s.step' >>"hits-$1.txt"
}

kills=0
t=0
# TRIALS workflows, and more while fewer than 20 kills landed (a kill
# that comes after the process ended lands nothing; under load that
# happens more often), up to three times TRIALS.
while [ "$t" -lt "$TRIALS" ] ||
      { [ "$kills" -lt 20 ] && [ "$t" -lt $((TRIALS * 3)) ]; }; do
  t=$((t + 1))
  wf=twenty-$t
  : >"hits-$wf.txt"
  kill_soon 700 "$CAIRN" run twenty.json --id "$wf"
  # Killed before its start was durable: nothing exists; start it again.
  "$CAIRN" status "$wf" >/dev/null 2>&1 ||
    "$CAIRN" start twenty.json --id "$wf" >/dev/null
  record_hits "$wf"
  for k in 1 2; do
    kill_soon 400 "$CAIRN" worker --drain
    record_hits "$wf"
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
       hist.json)" 20
  # Per step: log lines (runs) <= 1 + kills that hit it; none after the
  # attempt that completed.
  bad=$(jq -r '.events[] | select(.type == "step.completed") |
               "\(.step) \(.attempt)"' hist.json |
    while read -r step done_attempt; do
      ran=$(grep -c "^$step [0-9]* $run\$" side.log)
      hit=$(grep -cx "$step" "hits-$wf.txt")
      late=$(awk -v s="$step" -v r="$run" -v a="$done_attempt" \
        '$1 == s && $3 == r && $2 > a' side.log | wc -l)
      [ "$ran" -le $((hit + 1)) ] || echo "$step ran $ran times, hit $hit"
      [ "$late" -eq 0 ] || echo "$step ran after its durable completion"
    done)
  eq "$wf: no step ran more than kills allow, none after completing" \
    "$bad" ""
done
check "at least 20 kills landed (got $kills)" test "$kills" -ge 20
expect_exit 0 "the journal verifies after all the kills" \
  "$CAIRN" journal verify
finish
