#!/usr/bin/env bash
# replay_carries_reruns.sh — a replay of a run as it was recorded keeps what
# a single-step rerun changed in it: the step replays with the rerun's
# `with` (the one that made the output the run shows), the origin says so,
# explicit overrides still win, and a replay against another definition
# carries nothing. Steps are programs appending to a log, so what each
# attempt really ran is read from the world.
#   usage: replay_carries_reruns.sh CAIRN
set -uo pipefail
. "$(dirname "$0")/lib.sh"
use_cairn "$1"

cat >wf.json <<JSON
{ "name": "carry",
  "steps": [
    { "name": "a", "kind": "exec",
      "with": { "command": ["sh", "-c", "echo a >>$tmp/log; echo 1"] } },
    { "name": "b", "kind": "exec",
      "with": { "command": ["sh", "-c", "echo b-old >>$tmp/log; echo old"] } },
    { "name": "c", "kind": "exec",
      "with": { "command": ["sh", "-c", "echo c >>$tmp/log; cat"],
                "stdin": "{{ .steps.b.output }}" } } ],
  "output": "{{ .steps.c.output }}" }
JSON

expect_exit 0 "the run completes" C --format json run wf.json --id carry-1
run=$(jq -r .run_id "$tmp/out")
eq "with b's original command" "$(jq -r .output "$tmp/out")" old

expect_exit 0 "b is rerun alone with a new command" \
  C --format json rerun carry-1 --step b --reason "fix b" \
    --param 'b.command=["sh", "-c", "echo b-new >>'"$tmp"'/log; echo new"]'
rerun_seq=$(C --format json history carry-1 |
            jq '[.events[] | select(.type == "step.rerun_requested")][0].seq')
: >"$tmp/log"

expect_exit 0 "a replay as recorded" C --format json replay "$run" \
  --reason "again"
replay=$(jq -r .run_id "$tmp/out")
eq "ran b with the rerun's command, not the snapshot's" \
  "$(tr '\n' ' ' <"$tmp/log")" "a b-new c "
eq "so c saw the rerun's output" \
  "$(C --format json result "$replay" | jq -r .output)" new
eq "the origin names the step carried and the rerun it came from" \
  "$(C --format json history "$replay" | jq -c '.events[0].origin.carried')" \
  "{\"b\":$rerun_seq}"

: >"$tmp/log"
expect_exit 0 "a replay with an explicit override of b" \
  C --format json replay "$run" --reason "other b" \
    --param 'b.command=["sh", "-c", "echo b-mine >>'"$tmp"'/log; echo mine"]'
eq "the explicit override wins over the carried rerun" \
  "$(tr '\n' ' ' <"$tmp/log")" "a b-mine c "

: >"$tmp/log"
expect_exit 0 "a replay against the current definition" \
  C --format json replay "$run" --definition wf.json --reason "file"
eq "carries nothing: b runs as the file says" \
  "$(tr '\n' ' ' <"$tmp/log")" "a b-old c "
eq "and the origin has no carried steps" \
  "$(C --format json history "$(jq -r .run_id "$tmp/out")" |
     jq -c '.events[0].origin.carried')" null

: >"$tmp/log"
expect_exit 0 "a replay of a run without reruns" \
  C --format json replay "$replay" --reason "plain"
eq "runs its steps as recorded" "$(tr '\n' ' ' <"$tmp/log")" "a b-new c "
finish
