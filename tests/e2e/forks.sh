#!/usr/bin/env bash
# forks.sh — end-to-end: the stories people come to reset, rerun and replay
# with, told by the real `cairn` binary on a real journal. Steps are small
# programs that append to side-effect logs, so what ran again (and what did
# not) is read from the world, not from cairn's own account of it.
#   1  a workflow fails at step 4 of 6 (a bug in that step's program); the
#      program is fixed; reset after s3 completes it without running s1-s3
#   2  reset and rerun errors: a step that did not complete, unknown steps
#      and runs
#   3  rerun from a step, with a parameter override and a changed input
#   4  single-step rerun inside a finished run
#   5  replay against a definition where a step was renamed
#   6  dry-run of a mutating step in a replay
#   7  request ids: the same request twice acts once
#   8  limits from $CAIRN_HOME/config.json: depth, rate, a broken file
#   9  paused workflows and deleted definition versions
#  10  namespaces
#  11  reset of a running run: the parent is terminated, signals re-delivered
#   usage: forks.sh CAIRN
set -uo pipefail
. "$(dirname "$0")/lib.sh"
use_cairn "$1"
export CAIRN_ACTOR=ada-oncall
# JSON of the last expect_exit's stdout.
J() { jq -c "$@" "$tmp/out"; }
# The events of one type in a run's history, as compact JSON lines.
events() { C --format json history "$1" | jq -c ".events[] | select(.type == \"$2\")"; }
# The error message of the last expect_exit contains a text.
says() { grep -q -- "$1" "$tmp/err"; }
# expect_fail "sentence" command...: any non-zero exit (out, err as above)
expect_fail() {
  local what=$1
  shift
  if "$@" >"$tmp/out" 2>"$tmp/err"; then
    echo "FAIL: $what (exit 0, want a failure)" >&2
    fails=$((fails + 1))
  else
    pass=$((pass + 1))
  fi
}

# This file makes many derived runs in a minute: lift the rate limit here
# (story 8 tests the limits in journals of its own).
mkdir -p "$CAIRN_HOME"
echo '{"limits": {"max_forks_per_minute": 1000}}' >"$CAIRN_HOME/config.json"

# step.sh NAME: the side effect of a step: one line in side.log.
cat >step.sh <<'EOF'
#!/bin/sh
echo "$1" >> side.log
echo "{\"step\": \"$1\"}"
EOF
chmod +x step.sh

# ------------------------------------- 1. fail at step 4 of 6, fix, reset
cat >s4.sh <<'EOF'
#!/bin/sh
echo s4 >> side.log
echo "Traceback: KeyError: 'score'" >&2
exit 1
EOF
chmod +x s4.sh
cat >six.json <<'EOF'
{ "name": "six",
  "steps": [
    { "name": "s1", "kind": "exec", "with": { "command": ["./step.sh", "s1"] } },
    { "name": "s2", "kind": "exec", "with": { "command": ["./step.sh", "s2"] } },
    { "name": "s3", "kind": "exec", "with": { "command": ["./step.sh", "s3"] } },
    { "name": "s4", "kind": "exec", "with": { "command": ["./s4.sh"] } },
    { "name": "s5", "kind": "exec", "with": { "command": ["./step.sh", "s5"] } },
    { "name": "s6", "kind": "exec", "with": { "command": ["./step.sh", "s6"] } } ],
  "output": { "last": "{{ .steps.s6.output.step }}",
              "fixed": "{{ .steps.s4.output.step }}" } }
EOF
expect_exit 7 "the run fails at s4" C --format json run six.json --id orders-7
A=$(J -r .run_id)
eq "s1-s4 ran once, s5 and s6 never" "$(tr '\n' ' ' <side.log)" "s1 s2 s3 s4 "
C --format json show "$A" >parent_before.json
C --format json history "$A" >parent_history_before.json

# The fix: s4's program no longer fails.
cat >s4.sh <<'EOF'
#!/bin/sh
echo s4 >> side.log
echo '{"step": "s4"}'
EOF
: >side.log
expect_exit 0 "reset after s3 completes the workflow" \
  C --format json reset orders-7 --step s3 --reason "s4: KeyError fixed"
B=$(J -r .run_id)
eq "reset reports the workflow id" "$(J -r .workflow_id)" orders-7
eq "reset reports the parent run" "$(J -r .parent_run_id)" "$A"
check "the new run has a new run id" test "$B" != "$A" -a ${#B} -eq 36
eq "the new run completed with s4's fixed output" \
  "$(J -c '[.status, .output.fixed, .output.last]')" '["completed","s4","s6"]'
eq "the side-effect log: s1-s3 did not run again, s4-s6 ran once" \
  "$(tr '\n' ' ' <side.log)" "s4 s5 s6 "
expect_exit 0 "status by workflow id" C --format json status orders-7
eq "the new run is the workflow's current run" "$(J -r .run_id)" "$B"
C --format json show "$A" >parent_after.json
C --format json history "$A" >parent_history_after.json
check "the parent's view is untouched" \
  cmp -s parent_before.json parent_after.json
check "the parent's history is untouched" \
  cmp -s parent_history_before.json parent_history_after.json
C --format json show "$B" >show.json
eq "the new run reused s1-s3 and ran s4-s6" \
  "$(jq -c '[.steps[] | [.name, .reused, (.attempts | length)]]' show.json)" \
  '[["s1",true,0],["s2",true,0],["s3",true,0],["s4",false,1],["s5",false,1],["s6",false,1]]'
eq "its history starts with the origin, then one step.reused per kept step" \
  "$(C --format json history "$B" | jq -c '[.events[0:4][] | .type]')" \
  '["run.started","step.reused","step.reused","step.reused"]'
eq "each step.reused names the original step.completed" \
  "$(events "$B" step.reused | jq -r '.source.run_id' | sort -u)" "$A"

expect_exit 0 "diff of the two runs" C --format json diff "$A" "$B"
eq "diff: only s4, s5 and s6 changed" \
  "$(J '[.steps[] | select(.same | not) | .name]')" '["s4","s5","s6"]'
eq "diff: s4 failed -> completed, s5 and s6 pending -> completed" \
  "$(J '[.steps[3:][] | [.a.status, .b.status]]')" \
  '[["failed","completed"],["pending","completed"],["pending","completed"]]'
eq "diff: s1-s3 are identical (reused on one side)" \
  "$(J '[.steps[0:3][] | [.same, .output, .a.status, .b.status, .b.reused]]')" \
  '[[true,[],"completed","completed",true],[true,[],"completed","completed",true],[true,[],"completed","completed",true]]'
eq "diff: same input and definition" \
  "$(J '[.input, .definition.same]')" '[[],true]'
eq "diff: the run went failed -> completed" \
  "$(J '[.run_a.status, .run_b.status, .run_b.origin.kind]')" \
  '["failed","completed","reset"]'

expect_exit 0 "audit of the workflow" \
  C --format json audit --workflow orders-7
eq "audit: the start, then the reset" "$(J '[.records[].action]')" \
  '["start","reset"]'
eq "audit: the reset's actor, reason and runs" \
  "$(J '.records[1] | [.actor, .reason, .run_id, .new_run_id]')" \
  "[\"ada-oncall\",\"s4: KeyError fixed\",\"$A\",\"$B\"]"
T=$(J -r '.records[1].time')
expect_exit 0 "audit since the time it printed for the reset" \
  C --format json audit --workflow orders-7 --since "$T"
eq "starts at the reset" "$(J '[.records[].action]')" '["reset"]'
expect_exit 0 "audit since an age" C --format json audit --since 10m --limit 1
eq "the oldest record of the last 10 minutes" "$(J '[.records[].action]')" \
  '["start"]'
expect_exit 0 "audit in text" C audit --workflow orders-7
check "the text names the actor, the runs and the reason" \
  grep -q "ada-oncall .*reset .*$A -> $B .*s4: KeyError fixed" "$tmp/out"

expect_exit 0 "lineage of the workflow" C --format json lineage orders-7
eq "lineage: two runs, the reset is current" \
  "$(J '[(.runs | length), .current_run_id]')" "[2,\"$B\"]"
eq "lineage: the parent -> child link and the origin" \
  "$(J ".runs[] | select(.run_id == \"$B\") |
       [.parent_run_id, .origin.kind, .origin.point, .origin.reason,
        .origin.actor, .current]")" \
  "[\"$A\",\"reset\",\"s3\",\"s4: KeyError fixed\",\"ada-oncall\",true]"
eq "lineage: the original has no parent" \
  "$(J ".runs[] | select(.run_id == \"$A\") | [.parent_run_id, .origin.kind]")" \
  '[null,"none"]'
expect_exit 0 "lineage in text" C lineage orders-7
check "the text tree shows the reset under its parent" \
  grep -q "└─ $B \*.*reset at s3 by ada-oncall: \"s4: KeyError fixed\"" \
  "$tmp/out"

# ------------------------------------------------ 2. what cannot be reset
expect_exit 4 "reset after a step that never ran" C reset "$A" --step s5
check "the message names the step's state" says "s5 .*pending"
expect_exit 4 "reset after the failed step" C reset "$A" --step s4
check "the message says it failed" says "s4 .*failed"
expect_exit 3 "reset after an unknown step" C reset "$A" --step s9
check "the message lists the steps" says "s1, s2, s3, s4, s5, s6"
expect_exit 3 "rerun from an unknown step" C rerun "$A" --from-step s9
check "the message lists the steps" says "s1, s2, s3, s4, s5, s6"
expect_exit 3 "single-step rerun of an unknown step" C rerun "$A" --step s9
check "the message lists the steps" says "s1, s2, s3, s4, s5, s6"
expect_exit 3 "reset of an unknown run id" \
  C reset 01a1fcd7-0000-7000-8000-000000000000 --step s1
expect_exit 3 "reset of an unknown workflow id" C reset orders-999 --step s1
check "the message names the id" says "orders-999"
expect_exit 2 "reset needs --step" C reset orders-7

# ------------------------------------------------------- 3. rerun from
cat >chain.json <<'EOF'
{ "name": "chain",
  "steps": [
    { "name": "s1", "kind": "exec",
      "with": { "command": ["sh", "-c", "echo s1 >> chain.log; echo '{\"n\": 1}'"] } },
    { "name": "s2", "kind": "exec",
      "with": { "command": ["sh", "-c", "echo s2 >> chain.log; echo $(($1 + 1))", "s2",
                            "{{ .steps.s1.output.n }}"] } },
    { "name": "s3", "kind": "exec",
      "with": { "command": ["sh", "-c", "echo s3 >> chain.log; read x; echo \"\\\"$x-$1\\\"\"",
                            "s3", "{{ .input.tag }}"],
                "stdin": "{{ .steps.s2.output }}" } },
    { "name": "s4", "kind": "exec",
      "with": { "command": ["sh", "-c", "echo s4 >> chain.log; echo \"\\\"$1!\\\"\"", "s4",
                            "{{ .steps.s3.output }}"] } } ],
  "output": { "s3": "{{ .steps.s3.output }}", "s4": "{{ .steps.s4.output }}" } }
EOF
expect_exit 0 "a 4-step chain completes" \
  C --format json run chain.json --id chain-1 --input '{"tag": "v1"}'
R1=$(J -r .run_id)
eq "its output" "$(J -c .output)" '{"s3":"2-v1","s4":"2-v1!"}'
: >chain.log
expect_exit 0 "rerun from s2 with s3's stdin overridden" \
  C --format json rerun chain-1 --from-step s2 --param 's3.stdin="41"' \
  --reason "try 41"
R2=$(J -r .run_id)
eq "it reports the parent and the point" "$(J -c '[.parent_run_id, .kind, .step]')" \
  "[\"$R1\",\"rerun\",\"s2\"]"
eq "only s2..s4 ran again" "$(tr '\n' ' ' <chain.log)" "s2 s3 s4 "
eq "the override took effect" "$(J -c .output)" '{"s3":"41-v1","s4":"41-v1!"}'
eq "the rerun is the current run" \
  "$(C --format json status chain-1 | jq -r .run_id)" "$R2"
eq "the origin records the point, the reason and the override" \
  "$(events "$R2" run.started | jq -c '.origin | [.kind, .point, .reason, .overrides]')" \
  "[\"rerun\",\"s2\",\"try 41\",[\"param:s3.stdin=\\\"41\\\"\"]]"
eq "s1 was reused, s2..s4 ran" \
  "$(C --format json show "$R2" | jq -c '[.steps[] | .reused]')" \
  '[true,false,false,false]'
eq "the recorded input of s3 is the overridden one" \
  "$(C --format json show "$R2" | jq -c '.steps[2].attempts[0].input.stdin')" '"41"'
: >chain.log
expect_exit 0 "rerun from s3 with a changed input" \
  C --format json rerun "$R2" --from-step s3 --set-input 'tag="v2"'
R3=$(J -r .run_id)
eq "s3 and s4 ran again" "$(tr '\n' ' ' <chain.log)" "s3 s4 "
eq "with the new input (and the inherited override)" "$(J -c .output)" \
  '{"s3":"41-v2","s4":"41-v2!"}'
eq "the run's input is the changed one" \
  "$(C --format json show "$R3" | jq -c .input)" '{"tag":"v2"}'
eq "the origin records the input change" \
  "$(events "$R3" run.started | jq -c .origin.overrides)" \
  '["input:tag=\"v2\""]'
expect_exit 3 "an override of an unknown step" \
  C rerun "$R3" --from-step s3 --param 's7.stdin="1"'
check "lists the steps" says "s1, s2, s3, s4"
expect_exit 2 "an override that is not JSON" \
  C rerun "$R3" --from-step s3 --param 's3.stdin=oops'

# ----------------------------------------------- 4. single-step rerun
expect_exit 0 "another chain run" \
  C --format json run chain.json --id chain-2 --input '{"tag": "t"}'
R=$(J -r .run_id)
: >chain.log
# Right after the run: the process that finished it has exited, and its
# leftover lease must not hold the rerun back.
expect_exit 0 "single-step rerun of s3 with another stdin" \
  C --format json rerun "$R" --step s3 --param 's3.stdin="99"' --reason "stdin 99"
eq "it is the same run" "$(J -c '[.run_id, .parent_run_id, .kind, .step]')" \
  "[\"$R\",\"$R\",\"rerun\",\"s3\"]"
eq "only s3 ran" "$(tr '\n' ' ' <chain.log)" "s3 "
C --format json show "$R" >show.json
eq "s3 has two attempts, both kept" \
  "$(jq -c '.steps[2].attempts | map([.attempt, .status, .output])' show.json)" \
  '[[1,"completed","2-t"],[2,"completed","99-t"]]'
eq "the newest attempt used the override" \
  "$(jq -c '.steps[2].attempts[1].input.stdin' show.json)" '"99"'
eq "the downstream step is stale, the others are not" \
  "$(jq -c '[.steps[] | .stale]' show.json)" '[false,false,false,true]'
eq "the run's output is recomputed from the newest outputs" \
  "$(jq -c .output show.json)" '{"s3":"99-t","s4":"2-t!"}'
eq "the run is still completed, still current" \
  "$(C --format json status chain-2 | jq -c '[.status, .run_id]')" \
  "[\"completed\",\"$R\"]"
eq "history: the request, the new attempt, the recomputed output" \
  "$(C --format json history "$R" | jq -c '[.events[-4:][] | .type]')" \
  '["step.rerun_requested","step.started","step.completed","run.output_recomputed"]'
eq "the request carries the reason, the override and the stale steps" \
  "$(events "$R" step.rerun_requested | jq -c '[.reason, .meta.overrides, .details]')" \
  '["stdin 99",["param:s3.stdin=\"99\""],["s4"]]'
eq "run.output_recomputed has the new output" \
  "$(events "$R" run.output_recomputed | jq -c .output)" '{"s3":"99-t","s4":"2-t!"}'
expect_exit 0 "a second single-step rerun of s3" \
  C --format json rerun "$R" --step s3 --param 's3.stdin="7"'
eq "three attempts now" \
  "$(C --format json show "$R" | jq -c '[.steps[2].attempts[].output]')" \
  '["2-t","99-t","7-t"]'
expect_exit 0 "rerunning the stale step" C --format json rerun "$R" --step s4
C --format json show "$R" >show.json
eq "clears its staleness" "$(jq -c '[.steps[] | .stale]' show.json)" \
  '[false,false,false,false]'
eq "and its new output comes from s3's newest" \
  "$(jq -c .output show.json)" '{"s3":"7-t","s4":"7-t!"}'
expect_exit 7 "a single-step rerun whose attempt fails exits 7" \
  C --format json rerun "$R" --step s3 --param 's3.command=["false"]'
eq "it reports the failed attempt" \
  "$(J -c '[.attempt.step, .attempt.attempt, .attempt.status, .status]')" \
  '["s3",4,"failed","completed"]'
C --format json show "$R" >show.json
eq "the failed attempt is kept" \
  "$(jq -c '[.steps[2].attempts[].status]' show.json)" \
  '["completed","completed","completed","failed"]'
eq "the newest successful output stays visible" \
  "$(jq -c .output show.json)" '{"s3":"7-t","s4":"7-t!"}'

# ---------------------------------------------------- 5. renamed step
cat >ren.json <<'EOF'
{ "name": "ren",
  "steps": [
    { "name": "fetch", "kind": "exec", "with": { "command": ["./step.sh", "fetch"] } },
    { "name": "score", "kind": "exec", "with": { "command": ["./step.sh", "score"] } },
    { "name": "report", "kind": "exec", "with": { "command": ["./step.sh", "report"] } } ],
  "output": { "r": "{{ .steps.report.output.step }}" } }
EOF
sed 's/"name": "score"/"name": "rank"/' ren.json >ren_v2.json
expect_exit 0 "register v1" C --format json workflow register ren.json
expect_exit 0 "a run of v1" C --format json run ren --id ren-1
P=$(J -r .run_id)
expect_exit 0 "register v2 (score renamed rank)" \
  C --format json workflow register ren_v2.json
eq "it is version 2" "$(J .version)" 2
: >side.log
expect_exit 4 "replay against v2 without a mapping is refused" \
  C replay "$P" --definition ren_v2.json
check "the message lists the lost and gained steps and says --map" \
  says "lost steps (score) and gained steps (rank).*--map OLD=NEW"
expect_exit 4 "the same with --definition current" \
  C replay "$P" --definition current
eq "nothing ran" "$(wc -l <side.log)" 0
expect_exit 0 "replay with --map score=rank runs" \
  C --format json replay "$P" --definition ren_v2.json --map score=rank
N=$(J -r .run_id)
eq "every step ran" "$(tr '\n' ' ' <side.log)" "fetch score report "
eq "the replay is not current" \
  "$(C --format json status ren-1 | jq -r .run_id)" "$P"
eq "the replay ran v2's step names" \
  "$(C --format json show "$N" | jq -c '[.steps[].name]')" '["fetch","rank","report"]'
: >side.log
expect_exit 0 "replay with --map and --reuse" \
  C --format json replay "$P" --definition current --map score=rank --reuse \
  --save-mapping
N=$(J -r .run_id)
eq "nothing ran: unchanged steps reused, rank through the mapping" \
  "$(wc -l <side.log)" 0
eq "every step reused" \
  "$(C --format json show "$N" | jq -c '[.steps[] | [.name, .reused]]')" \
  '[["fetch",true],["rank",true],["report",true]]'
eq "rank's step.reused points at the original score completion" \
  "$(events "$N" step.reused | jq -r 'select(.step == "rank") | .source.run_id')" "$P"
eq "the origin records the mapping" \
  "$(events "$N" run.started | jq -c .origin.map)" '{"score":"rank"}'
expect_exit 0 "a later replay without --map uses the saved mapping" \
  C --format json replay "$P" --definition current --reuse
eq "again nothing ran" "$(wc -l <side.log)" 0
expect_exit 0 "so does one with the file of v2" \
  C --format json replay "$P" --definition ren_v2.json --reuse
eq "still nothing ran" "$(wc -l <side.log)" 0
expect_exit 0 "replay as it was (the default definition)" \
  C --format json replay "$P"
eq "everything ran again" "$(tr '\n' ' ' <side.log)" "fetch score report "
eq "the original is untouched" \
  "$(C --format json show "$P" | jq -c '[.status, [.steps[].attempts | length]]')" \
  '["completed",[1,1,1]]'

# --------------------------------------------- 6. dry-run of a mutation
cat >mut.json <<'EOF'
{ "name": "billing",
  "steps": [
    { "name": "prepare", "kind": "exec", "with": { "command": ["./step.sh", "prepare"] } },
    { "name": "charge", "kind": "exec", "mutates": true,
      "with": { "command": ["sh", "-c",
        "echo charged >> charges.log; echo \"{\\\"charge\\\": $(wc -l < charges.log)}\""] } },
    { "name": "receipt", "kind": "exec", "with": { "command": ["./step.sh", "receipt"] } } ],
  "output": { "charge": "{{ .steps.charge.output.charge }}" } }
EOF
expect_exit 0 "a run charges once" C --format json run mut.json --id bill-1
M=$(J -r .run_id)
eq "one charge" "$(wc -l <charges.log)" 1
expect_exit 0 "replay (detached: announced before anything runs)" \
  C --format json replay bill-1 --detach
D=$(J -r .run_id)
check "the command names the step it will dry-run" \
  says "DRY-RUN (recorded from the source run, not performed): charge"
eq "json lists the plan" "$(J -c '[.dry_run, .for_real]')" '[["charge"],[]]'
eq "nothing has run yet" \
  "$(C --format json status "$D" | jq -c '[.status, .steps_started]')" \
  '["running",0]'
expect_exit 0 "a worker executes the replay" C worker --drain
eq "the charge did NOT run again" "$(wc -l <charges.log)" 1
eq "the replay completed with the source run's output" \
  "$(C --format json result "$D" | jq -c .output)" '{"charge":1}'
eq "its step.completed is marked dry_run" \
  "$(events "$D" step.completed | jq -c 'select(.step == "charge") | [.dry_run, .output]')" \
  '[true,{"charge":1}]'
eq "other steps really ran" \
  "$(events "$D" step.completed | jq -c '[.dry_run // false]' | tr -d '\n')" \
  '[false][true][false]'
eq "show marks the dry-run attempt" \
  "$(C --format json show "$D" | jq -c '[.steps[] | .attempts[0].dry_run]')" \
  '[false,true,false]'
expect_exit 0 "replay in the foreground" C --format json replay bill-1
check "says DRY-RUN too" says "DRY-RUN.*charge"
eq "still one charge" "$(wc -l <charges.log)" 1
expect_exit 0 "rerun from prepare" C --format json rerun "$M" --from-step prepare
eq "a rerun dry-runs it as well" "$(J -c .dry_run)" '["charge"]'
eq "still one charge" "$(wc -l <charges.log)" 1
expect_exit 0 "replay --allow-mutations" \
  C --format json replay "$M" --allow-mutations
check "says it will really run" says "WILL REALLY RUN (mutating): charge"
eq "it charged for real" "$(wc -l <charges.log)" 2
eq "with the new output" "$(J -c .output)" '{"charge":2}'
expect_exit 0 "a reset re-executes the mutation for real" \
  C --format json reset "$M" --step prepare
eq "for_real names it" "$(J -c '[.dry_run, .for_real]')" '[[],["charge"]]'
eq "it charged again" "$(wc -l <charges.log)" 3
expect_exit 0 "a single-step rerun of the mutating step" \
  C --format json rerun "$M" --step charge
eq "dry-runs it" "$(J -c '[.dry_run, .attempt.status]')" '[["charge"],"completed"]'
eq "without charging" "$(wc -l <charges.log)" 3
eq "its new attempt is a dry-run with the previous output" \
  "$(C --format json show "$M" | jq -c '.steps[1].attempts[-1] | [.dry_run, .output]')" \
  '[true,{"charge":1}]'

# ------------------------------------------------------ 7. request ids
expect_exit 0 "a run to reset once" C --format json run six.json --id once-1
O=$(J -r .run_id)
: >side.log
expect_exit 0 "reset with a request id" \
  C --format json reset once-1 --step s2 --request-id K-7 --reason "once"
K1=$(J -r .run_id)
eq "first time: not repeated" "$(J .repeated)" false
expect_exit 0 "the same request again exits 0" \
  C --format json reset once-1 --step s2 --request-id K-7 --reason "once"
eq "and reports the first run, repeated" \
  "$(J -c '[.run_id, .parent_run_id, .repeated]')" "[\"$K1\",\"$O\",true]"
expect_exit 0 "in text too" C reset once-1 --step s2 --request-id K-7
check "the text says nothing new was done" \
  grep -q "request id K-7 was used before" "$tmp/out"
eq "the steps ran once" "$(tr '\n' ' ' <side.log)" "s3 s4 s5 s6 "
eq "lineage shows one child" \
  "$(C --format json lineage once-1 | jq -c "[.runs[] | select(.parent_run_id == \"$O\")] | length")" 1
expect_exit 4 "the request id on another action is refused" \
  C replay "$O" --request-id K-7
check "the message names its first use" says "K-7 was used for reset"

cp "$E2E/defs/approve.json" .
expect_exit 0 "a run waiting for a signal" \
  C --format json start approve.json --id appr-1
expect_exit 0 "a signal with a request id" \
  C --format json signal appr-1 note --data '{"n": 1}' --request-id S-1
eq "acted" "$(J -c '[.ok, .repeated]')" '[true,false]'
expect_exit 0 "the same signal request again" \
  C --format json signal appr-1 note --data '{"n": 1}' --request-id S-1
eq "reported as repeated" "$(J -c '[.ok, .repeated]')" '[true,true]'
eq "one signal.received" "$(events appr-1 signal.received | wc -l)" 1
expect_exit 0 "cancel with a request id" \
  C --format json cancel appr-1 --request-id C-1 --reason "not needed"
expect_exit 0 "the same cancel again exits 0" \
  C --format json cancel appr-1 --request-id C-1 --reason "not needed"
eq "reported as repeated" "$(J .repeated)" true
expect_exit 4 "a cancel without the request id conflicts" C cancel appr-1
eq "one run.cancelled" "$(events appr-1 run.cancelled | wc -l)" 1
eq "the audit has each action once" \
  "$(C --format json audit --workflow appr-1 | jq -c '[.records[] | [.action, .request_id]]')" \
  '[["start",null],["signal","S-1"],["cancel","C-1"]]'

# ------------------------------------------------------------ 8. limits
use_home "$tmp/limits"
mkdir -p "$CAIRN_HOME"
echo '{"limits": {"max_fork_depth": 2}}' >"$CAIRN_HOME/config.json"
expect_exit 0 "an original run" C --format json run six.json --id deep-1
G0=$(J -r .run_id)
expect_exit 0 "first reset (depth 1)" C reset deep-1 --step s5
expect_exit 0 "second reset (depth 2)" C --format json reset deep-1 --step s5
eq "a reset of a reset reuses the original's completions" \
  "$(events "$(J -r .run_id)" step.reused | jq -r .source.run_id | sort -u)" "$G0"
expect_exit 6 "the third reset in the chain is rate limited" \
  C reset deep-1 --step s5
check "the message names the limit and the original to start from" \
  says "max_fork_depth.*derive from the original run $G0"
expect_exit 0 "deriving from the original is allowed" \
  C reset "$G0" --step s5

echo '{"limits": {"max_forks_per_minute": 2}}' >"$CAIRN_HOME/config.json"
expect_exit 0 "a run in a fresh namespace" \
  C --namespace rate --format json run six.json --id rate-1
expect_exit 0 "first fork of the minute" C --namespace rate reset rate-1 --step s5
expect_exit 0 "second fork of the minute" C --namespace rate reset rate-1 --step s5
expect_exit 6 "the third fork within a minute is rate limited" \
  C --namespace rate reset rate-1 --step s5
check "the message says how long to wait" \
  grep -Eq "max_forks_per_minute.*try again in [0-9]+ s" "$tmp/err"
expect_exit 6 "replays count too" C --namespace rate replay rate-1
expect_exit 0 "another namespace has its own count" \
  C --namespace other --format json run six.json --id rate-2
expect_exit 0 "and may fork" C --namespace other reset rate-2 --step s5

echo '{"limits": {"max_fork_depth": ' >"$CAIRN_HOME/config.json"
expect_fail "a broken config.json stops a reset" C reset deep-1 --step s5
check "the message names the file" says "$CAIRN_HOME/config.json"
expect_fail "and a run" C run six.json --id broken-1
check "naming the file" says "$CAIRN_HOME/config.json"
check "and nothing ran" test "$(C --format json runs --workflow broken-1 | jq '.runs | length')" = 0
echo '{"limits": {"max_fork_depth": "3"}}' >"$CAIRN_HOME/config.json"
expect_fail "a setting of the wrong type is refused" C reset deep-1 --step s5
check "naming the file and the setting" \
  says "$CAIRN_HOME/config.json.*limits.max_fork_depth"
use_home "$tmp/journal"

# --------------------------------- 9. paused workflows, deleted versions
cat >life.json <<'EOF'
{ "name": "life",
  "steps": [
    { "name": "a", "kind": "exec", "with": { "command": ["./step.sh", "a"] } },
    { "name": "b", "kind": "exec", "with": { "command": ["./step.sh", "b"] } } ] }
EOF
sed 's/"b"]/"b2"]/' life.json >life_v2.json
C workflow register life.json >/dev/null
expect_exit 0 "a run of life v1" C --format json run life --id life-1
L=$(J -r .run_id)
expect_exit 0 "pause the workflow" \
  C --format json workflow pause life --reason incident
eq "json says so" "$(J -c '[.name, .action, .ok]')" '["life","workflow.pause",true]'
expect_exit 3 "pausing an unknown workflow" C workflow pause nosuch
expect_exit 4 "a paused workflow refuses a replay" C replay "$L"
check "naming the pause" says "paused.*workflow unpause life"
expect_exit 4 "and a rerun from a step" C rerun "$L" --from-step b
check "naming the pause" says "paused"
expect_exit 4 "and a single-step rerun" C rerun "$L" --step b
check "naming the pause" says "paused"
expect_exit 0 "a reset (the workflow carrying on) is allowed" \
  C --format json reset "$L" --step a
expect_exit 0 "unpause" C workflow unpause life
expect_exit 0 "replay works again" C --format json replay "$L"
C workflow register life_v2.json >/dev/null
expect_exit 0 "delete version 1" C --format json workflow delete life --version 1
eq "json names the version" "$(J -c '[.action, .version]')" '["workflow.delete",1]'
expect_exit 2 "delete needs a version" C workflow delete life
expect_exit 4 "a replay of a run of the deleted version is refused" \
  C replay "$L"
check "suggesting --definition current" says "deleted.*--definition current"
expect_exit 4 "also with --definition original" \
  C replay "$L" --definition original
expect_exit 4 "and a rerun" C rerun "$L" --from-step b
check "suggesting a replay with --definition current" \
  says "deleted.*replay the run with --definition current"
: >side.log
expect_exit 0 "a replay with --definition current works" \
  C --format json replay "$L" --definition current
eq "with the current version's steps" "$(tr '\n' ' ' <side.log)" "a b2 "
eq "the audit has the lifecycle actions" \
  "$(C --format json audit --workflow life | jq -c '[.records[] | .action | select(startswith("workflow"))]')" \
  '["workflow.pause","workflow.unpause","workflow.delete"]'

# ------------------------------------------------------- 10. namespaces
expect_exit 0 "a run in namespace a" \
  C --namespace a --format json run six.json --id shared-1
NA=$(J -r .run_id)
expect_exit 5 "a reset of it from namespace b is forbidden" \
  C --namespace b reset "$NA" --step s5
check "the message names its namespace" says "namespace a.*--namespace a"
expect_exit 5 "so is a replay" C --namespace b replay "$NA"
expect_exit 5 "and a single-step rerun" C --namespace b rerun "$NA" --step s5
expect_exit 3 "its workflow id is unknown in namespace b" \
  C --namespace b reset shared-1 --step s5
expect_exit 0 "in its own namespace it resets" \
  C --namespace a --format json reset shared-1 --step s5
eq "the reset run is in namespace a" \
  "$(C --format json history "$(J -r .run_id)" | jq -r .namespace)" a

# ---------------------------------- 11. reset of a running run, signals
cat >gate.json <<'EOF'
{ "name": "gate",
  "steps": [
    { "name": "prep", "kind": "exec", "with": { "command": ["./step.sh", "prep"] } },
    { "name": "ask", "kind": "wait", "with": { "signal": "go" } },
    { "name": "act", "kind": "exec",
      "with": { "command": ["sh", "-c", "echo \"act $1\" >> side.log; echo \"\\\"$1\\\"\"",
                            "act", "{{ .steps.ask.output.by }}"] } },
    { "name": "confirm", "kind": "wait", "with": { "signal": "late" } } ],
  "output": { "by": "{{ .steps.act.output }}", "late": "{{ .steps.confirm.output }}" } }
EOF
expect_exit 0 "start a gated run" C --format json start gate.json --id gate-1
G=$(J -r .run_id)
expect_exit 0 "start another" C --format json start gate.json --id gate-2
G2=$(J -r .run_id)
# Before any step ran: before the reset point, so never re-delivered.
C signal gate-1 late --data '"early"' >/dev/null
"$CAIRN" worker >worker.log 2>&1 &
pids+=($!)
wait_until "the run waits for its signal" 10 \
  bash -c "\"$CAIRN\" show gate-1 | grep -Eq 'ask +(running|waiting)'"
wait_until "and so does the other" 10 \
  bash -c "\"$CAIRN\" show gate-2 | grep -Eq 'ask +(running|waiting)'"
expect_exit 0 "a signal after the reset point" \
  C signal gate-1 late --data '"after"'
expect_exit 4 "a replay of a running run is refused" C replay "$G"
check "naming its state" says "still running"
expect_exit 4 "so is a rerun from a step" C rerun "$G" --from-step prep
expect_exit 4 "and a single-step rerun" C rerun "$G" --step prep
check "naming its state" says "running"
: >side.log
expect_exit 0 "reset of the running run" \
  C --format json reset gate-1 --step prep --reason "operator redo" --detach
GN=$(J -r .run_id)
eq "the parent is terminated" \
  "$(C --format json status "$G" | jq -r .status)" terminated
eq "its run.terminated carries the reason and the new run" \
  "$(events "$G" run.terminated | jq -c '[.reason, .replaced_by]')" \
  "[\"operator redo\",\"$GN\"]"
eq "the signal after the reset point is re-delivered, the early one not" \
  "$(events "$GN" signal.received | jq -c '[.signal, .output]')" \
  '["late","after"]'
eq "the new run is current" \
  "$(C --format json status gate-1 | jq -r .run_id)" "$GN"
eq "the reset was audited with its reason" \
  "$(C --format json audit --workflow gate-1 | jq -c '[.records[] | select(.action == "reset") | .new_run_id, .reason]')" \
  "[\"$GN\",\"operator redo\"]"
expect_exit 0 "the awaited signal goes to the new run" \
  C signal gate-1 go --data '{"by": "bo"}'
wait_until "the new run completes (a worker picked it up)" 10 \
  bash -c "\"$CAIRN\" status \"$GN\" | grep -q ^completed"
eq "with the awaited signal and the re-delivered one" \
  "$(C --format json result "$GN" | jq -c .output)" \
  '{"by":"bo","late":"after"}'
eq "prep was reused, act ran once" "$(tr '\n' ' ' <side.log)" "act bo "
C signal gate-2 late --data '"after"' >/dev/null
expect_exit 0 "reset --no-reapply-signals" \
  C --format json reset gate-2 --step prep --no-reapply-signals --detach
GN2=$(J -r .run_id)
eq "the parent is terminated" \
  "$(events "$G2" run.terminated | jq -r .replaced_by)" "$GN2"
eq "no signal was re-delivered" "$(events "$GN2" signal.received | wc -l)" 0
expect_exit 0 "terminate the leftover run" C terminate "$GN2" --reason done
eq "nothing was appended to the replaced parent after its termination" \
  "$(C --format json history "$G" | jq -r '.events[-1].type')" run.terminated
kill "${pids[@]}" 2>/dev/null
wait 2>/dev/null
check "the worker reported no error" test ! -s worker.log

expect_exit 0 "the journal verifies" C journal verify
finish
