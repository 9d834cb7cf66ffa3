#!/usr/bin/env bash
# diff.sh — end-to-end: `cairn diff` between real runs of the real binary.
# A lead-scoring workflow fails at its score step; the step's program is
# fixed (a new definition version of the same workflow name) and run again
# with another input under another workflow id. The diff must name exactly
# the changed step, the input change and the output change; a run compared
# with itself must be identical; steps added and removed, retries and
# errors must show where they belong.
#   usage: diff.sh CAIRN
set -uo pipefail
. "$(dirname "$0")/lib.sh"
use_cairn "$1"
J() { jq -c "$1" diff.json; }

cat >score.sh <<'EOF'
read threshold
echo "score.py: model file missing" >&2
exit 2
EOF
cat >score_v2.sh <<'EOF'
read threshold
echo "{\"score\": 0.93, \"threshold\": $threshold}"
EOF
cat >lead.json <<'EOF'
{ "name": "lead_scoring",
  "steps": [
    { "name": "fetch", "kind": "exec",
      "with": { "command": ["sh", "-c", "echo '{\"lead\": \"ada\"}'"] } },
    { "name": "score", "kind": "exec",
      "with": { "command": ["sh", "score.sh"],
                "stdin": "{{ .input.threshold }}" } },
    { "name": "publish", "kind": "exec",
      "with": { "command": ["echo", "published"] } } ],
  "output": { "score": "{{ .steps.score.output.score }}" } }
EOF
sed 's/"score.sh"/"score_v2.sh"/' lead.json >lead_v2.json

expect_exit 7 "the first run fails at its score step" \
  C run lead.json --input '{"threshold": 0.5, "who": "ada"}' --id lead-1
expect_exit 0 "the fixed step, another input, another id: it completes" \
  C run lead_v2.json --input '{"threshold": 0.8, "who": "ada"}' --id lead-2

# ------------------------------------------------ what changed, as JSON
expect_exit 0 "diff exits 0 when the runs differ" \
  C --format json diff lead-1 lead-2
cp "$tmp/out" diff.json
eq "the runs are not identical" "$(J .identical)" false
eq "each run is named with its status" \
  "$(J '[.run_a.workflow_id, .run_a.status, .run_b.workflow_id,
         .run_b.status]')" '["lead-1","failed","lead-2","completed"]'
eq "the input diff is exactly the changed field" "$(J .input)" \
  '[{"path":".threshold","change":"changed","before":0.5,"after":0.8}]'
eq "exactly one step of the definition changed" \
  "$(J '[.definition.changed[].step]')" '["score"]'
eq "the changed step's diff names the changed argument" \
  "$(J '.definition.changed[0].diff')" \
  '[{"path":".with.command[1]","change":"changed",'\
'"before":"score.sh","after":"score_v2.sh"}]'
eq "no step was added or removed, nothing else changed" \
  "$(J '[.definition.added, .definition.removed, .definition.fields,
         .definition.reordered, .definition.same]')" '[[],[],[],false,false]'
eq "steps come in definition order" "$(J '[.steps[].name]')" \
  '["fetch","score","publish"]'
eq "the unchanged step is the same in both runs" \
  "$(J '.steps[0] | [.same, .output, .a.status, .b.status]')" \
  '[true,[],"completed","completed"]'
eq "the changed step went from failed to completed" \
  "$(J '.steps[1] | [.same, .a.status, .a.attempts, .a.error.code,
                     .b.status, .b.attempts, .b.error]')" \
  '[false,"failed",1,"exit_status","completed",1,null]'
eq "its output appeared" "$(J '.steps[1].output')" \
  '[{"path":".","change":"added","after":{"score":0.93,"threshold":0.8}}]'
eq "the step after it never ran in the first run" \
  "$(J '.steps[2] | [.a.status, .a.duration_ms, .b.status,
                     (.b.duration_ms | type)]')" \
  '["pending",null,"completed","number"]'
eq "the run output diff is the new output" "$(J .output)" \
  '[{"path":".","change":"added","after":{"score":0.93}}]'
eq "the first run's transitions end in its failure" \
  "$(J .transitions.a)" \
  '["running","step fetch completed","step score failed","failed"]'
eq "the second run's transitions end in its completion" \
  "$(J .transitions.b)" \
  '["running","step fetch completed","step score completed",'\
'"step publish completed","completed"]'
eq "the first run's error is reported" "$(J .run_a.error.code)" \
  '"step_failed"'

RUN1=$(jq -r .run_a.run_id diff.json)
RUN2=$(jq -r .run_b.run_id diff.json)
expect_exit 0 "runs can be named by run id" \
  C --format json diff "$RUN1" "$RUN2"
eq "by run id or workflow id, the same diff" \
  "$(jq -c 'del(.steps[].a.duration_ms, .steps[].b.duration_ms)' \
     "$tmp/out")" \
  "$(J 'del(.steps[].a.duration_ms, .steps[].b.duration_ms)')"

# ------------------------------------------------ what changed, as text
expect_exit 0 "the text report exits 0" C diff lead-1 lead-2
cp "$tmp/out" diff.txt
check "the text names the input change" \
  grep -qxF 'input: .threshold: 0.5 -> 0.8' diff.txt
check "the text names the changed step and argument" \
  grep -qxF 'definition: step score changed '\
'(.with.command[1]: "score.sh" -> "score_v2.sh")' diff.txt
check "the text shows the step's status change and new output" \
  grep -qE '^step score: failed \(1 attempt, [0-9.]+ ms, exit_status\) '\
'-> completed \(1 attempt, [0-9.]+ ms\); '\
'output: \. added \{"score":0\.93,"threshold":0\.8\}$' diff.txt
check "the text leaves out the step that did not change" \
  bash -c "! grep -q '^step fetch' diff.txt"
check "the text shows the run's status change" \
  grep -qxF 'status: failed -> completed' diff.txt
check "the text shows the output change" \
  grep -qxF 'output: . added {"score":0.93}' diff.txt

# ------------------------------------------------ a run against itself
expect_exit 0 "a run diffed with itself" C --format json diff lead-1 lead-1
eq "a run is identical to itself" "$(jq -c .identical "$tmp/out")" true
eq "every section of a self-diff is empty or same" \
  "$(jq -c '[.input, .output, .definition.same, .transitions.same,
             ([.steps[].same] | all)]' "$tmp/out")" '[[],[],true,true,true]'
expect_exit 0 "a run diffed with itself, as text" C diff lead-2 "$RUN2"
eq "the text says identical for every section" \
  "$(sed 1,2d "$tmp/out")" "input: identical
definition: identical
steps: identical
transitions: identical
status: identical (completed)
output: identical"

# ------------------------------------------------ steps added and removed
jq '.steps |= map(select(.name != "publish")) + [{"name": "audit",
      "kind": "exec", "with": {"command": ["echo", "audited"]}}]
    | .output = {"score": "{{ .steps.score.output.score }}",
                 "audited": true}' lead_v2.json >lead_v3.json
expect_exit 0 "a third version with a step added and one removed runs" \
  C run lead_v3.json --input '{"threshold": 0.8, "who": "ada"}' --id lead-3
C --format json diff lead-2 lead-3 >diff.json
eq "the added and removed steps are named" \
  "$(J '[.definition.added, .definition.removed, .definition.changed]')" \
  '[["audit"],["publish"],[]]'
eq "the definition's other fields are diffed too" \
  "$(J .definition.fields)" \
  '[{"path":".output.audited","change":"added","after":true}]'
eq "the new definition's steps come first, then the old one's extras" \
  "$(J '[.steps[] | [.name, .a.status, .b.status, .same]]')" \
  '[["fetch","completed","completed",true],'\
'["score","completed","completed",true],'\
'["audit","absent","completed",false],'\
'["publish","completed","absent",false]]'
eq "the input did not change" "$(J .input)" '[]'
eq "the output gained a field" "$(J .output)" \
  '[{"path":".audited","change":"added","after":true}]'
C diff lead-2 lead-3 >diff.txt
check "the text names the added and removed steps" \
  grep -qxF 'definition: step audit added; step publish removed; '\
'.output.audited added true' diff.txt

# ------------------------------------------------ retries
cat >flaky.json <<'EOF'
{ "name": "flaky",
  "steps": [
    { "name": "try", "kind": "exec",
      "retry": { "max_attempts": 4, "initial_delay_ms": 5, "backoff": 1.0 },
      "with": { "command": ["sh", "-c",
        "echo x >> tries; test $(wc -l < tries) -ge 3 || exit 3; echo ok"]
      } } ] }
EOF
expect_exit 0 "a step that needs three attempts" \
  C run flaky.json --id flaky-1
expect_exit 0 "the same step at once" C run flaky.json --id flaky-2
C --format json diff flaky-1 flaky-2 >diff.json
eq "attempts differ, so the step is not the same" \
  "$(J '.steps[0] | [.a.attempts, .b.attempts, .output, .same]')" \
  '[3,1,[],false]'
eq "retries collapse into one transition with a count" \
  "$(J .transitions.a)" \
  '["running","step try retrying x2","step try completed","completed"]'

# ------------------------------------------------ errors
expect_exit 3 "an unknown run is not found" C diff lead-1 no-such-run
check "the message names the id" grep -q no-such-run "$tmp/err"
expect_exit 2 "diff needs two ids" C diff lead-1
expect_exit 3 "an unknown journal is not found" \
  env CAIRN_HOME="$tmp/nowhere" CAIRN_JOURNAL= "$CAIRN" diff lead-1 lead-2

finish
