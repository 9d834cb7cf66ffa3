#!/usr/bin/env bash
# pg_workers.sh — many workers on one PostgreSQL journal, as on many
# machines: three `cairn worker` processes share the runs (each executed
# exactly once per attempt, a run never by two workers); workers killed
# with SIGKILL at random lose nothing and repeat no durable step; the
# PostgreSQL server itself stopped like a power cut (pg_ctl stop -m
# immediate) pauses the workers, which resume when it is back; an idle
# worker is woken by a new run (LISTEN/NOTIFY).
#   usage: pg_workers.sh CAIRN    (starts a PostgreSQL of its own)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
PGSH="$E2E/../pg/pg.sh"
# A server of its own: this test stops it like a power cut, which would
# fail the other tests sharing the fixture's.
CAIRN_TEST_PG=$tmp/pg-state
PG_OWNER_PID=$$ bash "$PGSH" start "$CAIRN_TEST_PG" >/dev/null ||
  { echo "FAIL: cannot start a PostgreSQL of its own" >&2; exit 1; }
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
      bash "$PGSH" stop "$CAIRN_TEST_PG"; stop_server; cleanup' EXIT
use_cairn "$1"
seed=${CAIRN_TEST_SEED:-$(date +%s)}
RANDOM=$seed
echo "seed $seed (set CAIRN_TEST_SEED to repeat)"

# 6 steps, each logging "STEP ATTEMPT RUN WORKER_PID", then 20-50 ms.
{
  echo '{ "name": "six", "steps": ['
  for i in $(seq 1 6); do
    sep=$([ "$i" -lt 6 ] && echo ,)
    echo "{ \"name\": \"s$i\", \"kind\": \"exec\", \"with\": { \"command\":
      [\"sh\", \"-c\", \"echo \\\"\$CAIRN_STEP \$CAIRN_ATTEMPT \$CAIRN_RUN_ID \$PPID\\\" >> $tmp/side.log; sleep 0.0$((RANDOM % 4 + 2)); echo $i\"] } }$sep"
  done
  echo '] }'
} >six.json
: >side.log

workers=()
# --concurrency 10: a worker claims at most 10 runs at once, so three
# share 30 (one alone would claim every runnable run it sees).
start_worker() {
  "$CAIRN" worker --concurrency 10 >>"workers.log" 2>&1 &
  workers+=($!)
  pids+=($!)
}
completed() { # completed PREFIX: how many runs of ids PREFIX-* completed
  "$CAIRN" --format json runs --limit 1000 |
    jq --arg p "$1-" '[.runs[] | select((.workflow_id | startswith($p))
                      and .status == "completed")] | length'
}
all_done() { [ "$(completed "$1")" -eq "$2" ]; }
some_done() { [ "$(completed "$1")" -ge "$2" ]; }

# check_runs PREFIX N: every run of PREFIX completed each step exactly
# once, its history contiguous, and no step ran after its durable
# completion; a step ran at most 1 + KILLS times.
check_runs() {
  local prefix=$1 n=$2 max=$3 bad=""
  for i in $(seq 1 "$n"); do
    "$CAIRN" --format json history "$prefix-$i" >hist.json
    run=$(jq -r '.events[0].run_id // empty' hist.json)
    [ -n "$run" ] || run=$("$CAIRN" --format json status "$prefix-$i" | jq -r .run_id)
    [ "$(jq -c '[.events[].seq] == [range(1; (.events | length) + 1)]' \
         hist.json)" = true ] || bad+=" $prefix-$i:gap"
    [ "$(jq '[.events[] | select(.type == "step.completed")] | length' \
         hist.json)" = 6 ] || bad+=" $prefix-$i:completions"
    while read -r step done_attempt; do
      ran=$(grep -c "^$step [0-9]* $run " side.log)
      late=$(awk -v s="$step" -v r="$run" -v a="$done_attempt" \
        '$1 == s && $3 == r && $2 > a' side.log | wc -l)
      [ "$ran" -le "$max" ] || bad+=" $prefix-$i/$step:ran$ran"
      [ "$late" -eq 0 ] || bad+=" $prefix-$i/$step:after-completion"
    done < <(jq -r '.events[] | select(.type == "step.completed") |
                    "\(.step) \(.attempt)"' hist.json)
  done
  eq "$prefix: every run whole, each step completed once, none after" \
    "${bad:-none}" none
}

# --- 1. three workers share 30 runs: exactly once, one worker a run.
for i in $(seq 1 30); do
  "$CAIRN" start six.json --id "a-$i" >/dev/null || echo "start a-$i failed" >&2
done
for _ in 1 2 3; do start_worker; done
wait_until "three workers complete 30 runs" 120 all_done a 30
check_runs a 30 1
runs_a=$(grep -c . side.log)
eq "each of the 180 steps ran exactly once" "$runs_a" 180
eq "no step ran twice" "$(awk '{print $1, $3}' side.log | sort | uniq -d | wc -l)" 0
eq "no run was executed by two workers" \
  "$(awk '{print $3, $4}' side.log | sort -u | awk '{print $1}' | uniq -d | wc -l)" 0
check "the work was shared (more than one worker executed runs)" \
  test "$(awk '{print $4}' side.log | sort -u | wc -l)" -ge 2

# --- 2. workers killed with SIGKILL at random, and started again (the
# steps take 100-190 ms here, so kills find them in flight).
# The runs are recorded while no worker runs (a slow build records them
# slower than the workers would finish them), then three workers start.
sed 's/sleep 0\.0/sleep 0.1/' six.json >six_slow.json
for p in "${workers[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p"; done
workers=()
for i in $(seq 1 60); do "$CAIRN" start six_slow.json --id "b-$i" >/dev/null; done
for _ in 1 2 3; do start_worker; done
kills=0
for round in $(seq 1 40); do
  sleep "0.$(printf '%03d' $((RANDOM % 200 + 50)))"
  victim=$((RANDOM % ${#workers[@]}))
  kill -9 "${workers[$victim]}" 2>/dev/null && kills=$((kills + 1))
  wait "${workers[$victim]}" 2>/dev/null
  "$CAIRN" worker --concurrency 10 >>"workers.log" 2>&1 &
  workers[victim]=$!
  pids+=($!)
  [ "$kills" -ge 8 ] && break
  [ "$(completed b)" -eq 60 ] && break
done
echo "$kills workers killed"
check "some kills landed" test "$kills" -ge 3
# Runs a dead worker held are taken over once their leases expire.
wait_until "the surviving and new workers complete 60 runs" 180 all_done b 60
check_runs b 60 $((kills + 1))

# --- 3. PostgreSQL stopped like a power cut, then started again.
for i in $(seq 1 20); do "$CAIRN" start six.json --id "c-$i" >/dev/null; done
wait_until "c runs are under way" 60 some_done c 2
bash "$PGSH" crash "$CAIRN_TEST_PG" >/dev/null
sleep 1
bash "$PGSH" restart "$CAIRN_TEST_PG" >/dev/null
wait_until "the workers resume and complete 20 runs" 180 all_done c 20
# A worker whose transaction the crash broke pauses and retries; one that
# was between transactions only sees a claim fail and reconnects.
echo "$(grep -c "worker paused: .*PostgreSQL" workers.log) pause(s) of workers"
check_runs c 20 3
eq "nothing recorded was lost: 110 runs" \
  "$("$CAIRN" --format json runs --limit 1000 | jq '.runs | length')" 110
expect_exit 0 "the journal verifies" "$CAIRN" journal verify

# --- 4. an idle worker is woken by a new run.
"$CAIRN" start six.json --id d-1 >/dev/null
wait_until "an idle worker starts a new run at once" 10 all_done d 1

for p in "${workers[@]}"; do kill -TERM "$p" 2>/dev/null; done
st=0
for p in "${workers[@]}"; do wait "$p" || st=$?; done
eq "the workers stop cleanly on SIGTERM" "$st" 0
[ "$fails" -eq 0 ] || { echo "--- workers.log:"; grep -v "worker paused" workers.log | tail -40; } >&2
finish
