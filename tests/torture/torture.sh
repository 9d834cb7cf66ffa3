#!/usr/bin/env bash
# torture.sh — crash torture: a mixed workload on 1–4 `cairn worker`
# processes sharing one journal, with a random worker SIGKILLed at a random
# instant again and again (and restarted at once), then every run checked
# against the effects log its steps write.
#
#   usage: torture.sh CAIRN [--kills N] [--workers W] [--seed S]
#                     [--inject dup|lost]
#          (defaults: 50 kills, 3 workers, a seed from the clock)
#   TORTURE_KEEP=1 keeps the journal and logs for a post-mortem.
#   --inject tests the checks themselves: after the drain, one effect line
#   is added after a recorded completion (dup) or one is removed (lost),
#   and the run must then report it and fail.
#
# The workload, started while the kills go on (two runs per kill):
#   seq     six exec steps in a chain
#   fan     a, then b c d in parallel, then e (needs all three)
#   flaky   f1, f2 failing its first attempt (retried after 20 ms), f3
#   nap     t1, a durable 200 ms sleep, t2
#   gate    g1, a wait for signal "go" (sent by the runner), g2
# and, landing mid-run: resets after the first step (of runs in flight or
# finished; `cairn reset` processes are themselves killed at random),
# reruns from a step (new runs) and single-step reruns of finished runs
# (run by a `cairn rerun --step` process that may be killed too; a worker
# finishes what it recorded). After the last kill the workers drain.
#
# Every exec step appends "RUN STEP ATTEMPT TIME_US" to the effects log
# before it ends, so the log says what really ran and when. Checks:
#   lost   a history read during the torture (its event types, in seq
#          order) that is no longer a prefix of the run's final history;
#          a run not final, or a workflow whose current run did not
#          complete; a recorded step.completed with no effect line of that
#          attempt before it
#   dup    a step executed again after its completion was recorded: an
#          effect line of a completed attempt written after the completion,
#          or a new attempt started after a completion without a
#          step.rerun_requested between them; two completions of one
#          attempt
#   gaps   a history whose seqs are not 1, 2, ..., n
#   verify `cairn journal verify` after everything, and every run's view
#          (`cairn show --format json`) equal before and after
#          `cairn journal rebuild-views`; rebuild-views is itself killed at
#          random five times first
# Ends with
#   RESULT kills=N runs=N steps=N lost=0 dup=0 gaps=0 verify=ok seconds=S
# and exits 0 when lost, dup and gaps are 0 and verify is ok.
set -uo pipefail
CAIRN=$(realpath "$1")
shift
KILLS=50
WORKERS=3
SEED=$(date +%s)
INJECT=""
while [ $# -gt 0 ]; do
  case $1 in
    --kills) KILLS=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --inject) INJECT=$2; shift 2 ;;
    *) echo "usage: torture.sh CAIRN [--kills N] [--workers W] [--seed S]" >&2
       exit 2 ;;
  esac
done
if [ "$WORKERS" -lt 1 ] || [ "$WORKERS" -gt 4 ]; then
  echo "torture.sh: --workers takes 1..4" >&2
  exit 2
fi
RANDOM=$SEED
echo "seed $SEED, $KILLS kills, $WORKERS workers (--seed $SEED repeats the choices)"
tmp=$(mktemp -d)
export CAIRN_HOME=$tmp/journal
mkdir -p "$CAIRN_HOME"
# resets and reruns above the default fork limits
cat >"$CAIRN_HOME/config.json" <<'EOF'
{ "limits": { "max_forks_per_minute": 100000, "max_fork_depth": 1000 } }
EOF
log=$tmp/effects.log
: >"$log"
cd "$tmp" || exit 1
t0=$(date +%s)

wpids=()
others=()
cleanup() {
  for p in "${wpids[@]}" "${others[@]}"; do
    kill -9 "$p" 2>/dev/null
  done
  wait 2>/dev/null
  if [ -n "${TORTURE_KEEP-}" ]; then
    echo "torture: kept $tmp (TORTURE_KEEP)" >&2
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

# ------------------------------------------------------------ workload
# exec STEP [FAIL_BELOW]: an exec step that logs its execution, then takes
# 5-25 ms; with FAIL_BELOW, it fails while its attempt is below that.
step() {
  local name=$1 fail=${2:-0} needs=${3-}
  local cmd="echo \\\"\$CAIRN_RUN_ID \$CAIRN_STEP \$CAIRN_ATTEMPT \$(date +%s%6N)\\\" >> $log; sleep 0.0\$((\$\$ % 3 + 1)); [ \$CAIRN_ATTEMPT -ge $fail ]"
  printf '{ "name": "%s", "kind": "exec"%s, "retry": {"max_attempts": 20, "initial_delay_ms": 20}, "with": { "command": ["sh", "-c", "%s"] } }' \
    "$name" "${needs:+, \"needs\": $needs}" "$cmd"
}
cat >seq.json <<EOF
{ "name": "seq", "steps": [ $(step s1), $(step s2), $(step s3), $(step s4),
  $(step s5), $(step s6) ] }
EOF
cat >fan.json <<EOF
{ "name": "fan", "steps": [ $(step a), $(step b 0 '["a"]'),
  $(step c 0 '["a"]'), $(step d 0 '["a"]'), $(step e 0 '["b","c","d"]') ] }
EOF
cat >flaky.json <<EOF
{ "name": "flaky", "steps": [ $(step f1), $(step f2 2), $(step f3) ] }
EOF
cat >nap.json <<EOF
{ "name": "nap", "steps": [ $(step t1),
  { "name": "nap", "kind": "sleep", "with": { "duration_ms": 200 } },
  $(step t2) ] }
EOF
cat >gate.json <<EOF
{ "name": "gate", "steps": [ $(step g1),
  { "name": "go", "kind": "wait", "with": { "signal": "go" } },
  $(step g2) ] }
EOF
kinds=(seq fan flaky nap gate)
first=(s1 a f1 t1 g1)
for k in "${kinds[@]}"; do
  "$CAIRN" workflow register "$k.json" >/dev/null || exit 1
done

ids=()        # every workflow id started
n_started=0
start_some() {
  local n=$1
  for _ in $(seq "$n"); do
    local k=$((RANDOM % 5)) id="w$n_started"
    n_started=$((n_started + 1))
    if "$CAIRN" start "${kinds[$k]}" --id "$id" >/dev/null 2>>"$tmp/start.err"
    then
      ids+=("$id:$k")
    fi
  done
}

start_worker() {
  "$CAIRN" worker >/dev/null 2>>"$tmp/worker.err" &
  wpids[$1]=$!
}
for w in $(seq 0 $((WORKERS - 1))); do
  start_worker "$w"
done

# Snapshots: event types of a run's history as read now.
snap() {
  local id=$1
  "$CAIRN" --format json history "$id" 2>/dev/null |
    jq -r '"\(.run_id) \([.events[].type] | join(","))"' >>"$tmp/snaps" 2>/dev/null
}

# Runs "$@" in the background and SIGKILLs it after 0..$1 ms unless it
# ended; counts the kill.
kills=0
kill_soon() {
  local max=$1
  shift
  "$@" >/dev/null 2>&1 &
  local pid=$!
  others+=("$pid")
  sleep "0.$(printf '%03d' $((RANDOM % max)))"
  if kill -9 "$pid" 2>/dev/null; then
    kills=$((kills + 1))
  fi
  wait "$pid" 2>/dev/null
}

resets=0
reruns=0
step_reruns=0
signals=0
wkills=0
while [ "$wkills" -lt "$KILLS" ]; do
  start_some 2
  # the signal of every gate run started so far, once
  for e in "${ids[@]}"; do
    id=${e%%:*}
    if [ "${e##*:}" = 4 ] && [ ! -e "$tmp/sig.$id" ]; then
      "$CAIRN" signal "$id" go >/dev/null 2>&1 && : >"$tmp/sig.$id" &&
        signals=$((signals + 1))
    fi
  done
  sleep "0.$(printf '%03d' $((RANDOM % 250 + 20)))"
  w=$((RANDOM % WORKERS))
  kill -9 "${wpids[$w]}" 2>/dev/null && kills=$((kills + 1)) &&
    wkills=$((wkills + 1))
  wait "${wpids[$w]}" 2>/dev/null
  start_worker "$w"
  # something landing mid-run, one time in three
  e=${ids[$((RANDOM % ${#ids[@]}))]}
  id=${e%%:*}
  k=${e##*:}
  case $((RANDOM % 9)) in
    0)
      kill_soon 60 "$CAIRN" reset "$id" --step "${first[$k]}" --detach \
        --reason torture
      resets=$((resets + 1)) ;;
    1)
      "$CAIRN" rerun "$id" --from-step "${first[$k]}" --detach \
        --reason torture >/dev/null 2>&1 && reruns=$((reruns + 1)) ;;
    2)
      if [ "$k" = 0 ] &&
         "$CAIRN" status "$id" 2>/dev/null | grep -q '^completed'; then
        kill_soon 300 "$CAIRN" rerun "$id" --step s6 --reason torture
        step_reruns=$((step_reruns + 1))
      fi ;;
  esac
  snap "$id"
done
# gate runs started by the last round
for e in "${ids[@]}"; do
  id=${e%%:*}
  if [ "${e##*:}" = 4 ] && [ ! -e "$tmp/sig.$id" ]; then
    "$CAIRN" signal "$id" go >/dev/null 2>&1 && : >"$tmp/sig.$id"
  fi
done
echo "torture: $wkills worker kills ($kills in all), ${#ids[@]} workflows started, $resets resets," \
     "$reruns reruns, $step_reruns single-step reruns, $signals signals"

# ------------------------------------------------------------- drain
for p in "${wpids[@]}"; do
  kill -TERM "$p" 2>/dev/null
done
wait 2>/dev/null
wpids=()
# Runs derived from gate runs (reruns from g1) wait for a signal of their
# own: every run still running gets "go", then a worker drains; twice.
for _ in 1 2; do
  "$CAIRN" --format json runs --status running --limit 100000 |
    jq -r '.runs[].run_id' | while read -r run; do
      "$CAIRN" signal "$run" go >/dev/null 2>&1
    done
  "$CAIRN" worker --drain >/dev/null 2>>"$tmp/worker.err"
done

# ------------------------------------------------------------- inject
if [ -n "$INJECT" ]; then
  # the last s1 line: its attempt is the one that completed (after the
  # drain every run has ended), so the checks must see what is done to it
  # (the first line may be an attempt a kill interrupted: seen as nothing)
  victim=$(grep ' s1 ' "$log" | tail -1)
  case $INJECT in
    dup) echo "${victim% *} $(($(date +%s%6N) + 1000000))" >>"$log" ;;
    lost) grep -vxF "$victim" "$log" >"$log.new"; mv "$log.new" "$log" ;;
  esac
  echo "torture: injected one $INJECT: $victim"
fi

# ------------------------------------------------------------- checks
echo "torture: drained after $(($(date +%s) - t0)) s; checking"
[ -s "$tmp/start.err" ] && sed 's/^/start: /' "$tmp/start.err" | head -5 >&2
lost=0
dup=0
gaps=0
steps=0
"$CAIRN" --format json runs --limit 100000 >runs.json
jq -r '.runs[].run_id' runs.json >run_ids
n_runs=$(wc -l <run_ids)
while read -r run; do
  "$CAIRN" --format json history "$run" >"h.$run" || {
    echo "LOST: run $run has no readable history" >&2
    lost=$((lost + 1))
    continue
  }
done <run_ids

# Every history at once: one line per problem or completion.
#   G RUN            seqs not 1..n
#   D RUN N          N starts of a step after its completion, no rerun
#                    request between
#   C RUN STEP ATTEMPT TIME_US   a completion
jq -r -n '
  inputs | .run_id as $run | .events as $ev |
  (if ([$ev[].seq] != [range(1; ($ev | length) + 1)]) then "G \($run)"
   else empty end),
  ([$ev[] | select(.step != null)] | group_by(.step) |
   map(reduce .[] as $e ({done: false, bad: 0};
         if $e.type == "step.completed" then .done = true
         elif $e.type == "step.rerun_requested" then .done = false
         elif $e.type == "step.started" and .done then .bad += 1
         else . end) | .bad) | add // 0 |
   if . > 0 then "D \($run) \(.)" else empty end),
  ($ev[] | select(.type == "step.completed") |
   "C \($run) \(.step) \(.attempt) \(.time_us)")' h.* >facts.txt
steps=$(grep -c '^C ' facts.txt)
while read -r tag run rest; do
  case $tag in
    G) echo "GAP: run $run's seqs are not contiguous" >&2
       gaps=$((gaps + 1)) ;;
    D) echo "DUP: run $run starts $rest step(s) again after completion" >&2
       dup=$((dup + rest)) ;;
  esac
done < <(grep -v '^C ' facts.txt)
# Completions against the effects log (sleep and wait steps log nothing):
# each exec completion needs an effect line of its attempt written before
# it, and none after it; and no attempt completes twice.
{ grep '^C ' facts.txt; sed 's/^/E /' "$log"; } | awk '
  $1 == "C" && $3 != "nap" && $3 != "go" {
    k = $2 " " $3 " " $4
    if (k in done) { print "DUP " k " completed twice" }
    done[k] = $5
  }
  $1 == "E" { n++; er[n] = $2 " " $3 " " $4; et[n] = $5 }
  END {
    for (i = 1; i <= n; i++) {
      k = er[i]
      if (!(k in done)) continue
      if (et[i] < done[k]) before[k] = 1
      else print "DUP " k " ran again after its completion"
    }
    for (k in done) if (!(k in before))
      print "LOST " k " completed with no effect before it"
  }' >effects.txt
while read -r tag what; do
  echo "$tag: run $what" >&2
  case $tag in
    DUP) dup=$((dup + 1)) ;;
    LOST) lost=$((lost + 1)) ;;
  esac
done <effects.txt

# every run ended (a single-step rerun's run ends with
# run.output_recomputed, so the status says, not the last event)
while read -r run st; do
  echo "LOST: run $run is $st, not ended" >&2
  lost=$((lost + 1))
done < <(jq -r '.runs[] | select(.status != "completed" and
  .status != "terminated" and .status != "cancelled") |
  "\(.run_id) \(.status)"' runs.json)

# every workflow's current run completed
while read -r wf; do
  st=$("$CAIRN" status "$wf" 2>/dev/null | awk '{print $1; exit}')
  if [ "$st" != completed ]; then
    echo "LOST: workflow $wf's current run is $st, not completed" >&2
    lost=$((lost + 1))
  fi
done < <(jq -r '.runs[].workflow_id' runs.json | sort -u)

# snapshots taken during the torture are prefixes of the final histories
if [ -s "$tmp/snaps" ]; then
  jq -r -n 'inputs | "\(.run_id) \([.events[].type] | join(","))"' h.* \
    >finals.txt
  while read -r run types; do
    final=$(awk -v r="$run" '$1 == r {print $2}' finals.txt)
    case $final in
      "$types"|"$types",*) ;;
      *) echo "LOST: run $run once had events $types; now $final" >&2
         lost=$((lost + 1)) ;;
    esac
  done <"$tmp/snaps"
fi

# projections: killed rebuilds, then views equal before and after one
views() {
  while read -r run; do
    "$CAIRN" --format json show "$run"
  done <run_ids | jq -S -c 'del(.duration_ms)'
}
views >views.before
for _ in 1 2 3 4 5; do
  kill_soon 40 "$CAIRN" journal rebuild-views
done
verify=ok
"$CAIRN" journal verify >verify.out 2>&1 || verify=failed
"$CAIRN" journal rebuild-views >/dev/null 2>&1 || verify=failed
views >views.after
if ! cmp -s views.before views.after; then
  echo "VERIFY: a view differs from its rebuild from events" >&2
  diff views.before views.after | head -20 >&2
  verify=failed
fi
"$CAIRN" journal verify >>verify.out 2>&1 || verify=failed
[ "$verify" = ok ] || cat verify.out >&2

echo "RESULT kills=$kills runs=$n_runs steps=$steps lost=$lost dup=$dup" \
     "gaps=$gaps verify=$verify seconds=$(($(date +%s) - t0))"
[ "$lost" -eq 0 ] && [ "$dup" -eq 0 ] && [ "$gaps" -eq 0 ] &&
  [ "$verify" = ok ]
