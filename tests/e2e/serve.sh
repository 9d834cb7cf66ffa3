#!/usr/bin/env bash
# serve.sh — end-to-end: `cairn serve` on 127.0.0.1 (a free port), driven
# with curl the way a service or the viewer would: every resource, the
# error object, idempotent starts, live events (SSE) exactly once and
# resumable, kill -9 of the server mid-run, tokens with namespaces and
# roles, body limits, and the same JSON as the CLI's --format json.
#   usage: serve.sh CAIRN
set -uo pipefail
. "$(dirname "$0")/lib.sh"
use_cairn "$1"

. "$(dirname "$0")/serve_lib.sh"

cat >"$tmp/steady.json" <<'EOF'
{ "name": "steady",
  "steps": [
    { "name": "one", "kind": "exec",
      "with": { "command": ["sh", "-c", "echo one >> \"$0\"; echo 1",
                            "{{ .input.effects }}"] } },
    { "name": "nap", "kind": "sleep", "with": { "duration_ms": 1200 } },
    { "name": "two", "kind": "exec",
      "with": { "command": ["sh", "-c", "echo two >> \"$0\"; echo 2",
                            "{{ .input.effects }}"] } } ],
  "output": { "one": "{{ .steps.one.output }}",
              "two": "{{ .steps.two.output }}" } }
EOF

serve

# ------------------------------------------------------------ workflows

req POST /v1/workflows "$(cat "$E2E/defs/approve.json")"
answers "POST /v1/workflows registers a definition" 201
is "registering answers the version" "$tmp/body" .version 1
req POST /v1/workflows "$(cat "$tmp/steady.json")"
answers "a second workflow registers" 201
req GET /v1/workflows
answers "workflows list" 200
is "the list names both" "$tmp/body" '[.workflows[].name] | sort | join(",")' \
  approve,steady
req GET /v1/workflows/approve/versions/1
answers "a version shows" 200
is "a version carries its definition" "$tmp/body" \
  '.definition.steps[0].kind' wait
req GET /v1/workflows/approve/versions/9
answers "an unknown version is 404" 404
is "a 404 names the problem" "$tmp/body" '.error.code' not_found
req POST /v1/workflows '{"name": "broken", "steps": [{"name": "a"}]}'
answers "an invalid definition is 400" 400
check "the 400 says what is wrong with the definition" \
  grep -q "kind" "$tmp/body"

# ------------------------------------------------------------ bad input

req POST /v1/runs '{"workflow": "approve", '
answers "malformed JSON is 400" 400
check "malformed JSON names the byte where parsing stopped" \
  grep -q "byte" "$tmp/body"
is "the error object has code, message and hint" "$tmp/body" \
  '.error | has("code") and has("message") and has("hint")' true
req POST /v1/runs '{"workflow": "approve", "inptu": {}}'
answers "an unknown field is 400" 400
check "an unknown field is named" grep -q inptu "$tmp/body"
req POST /v1/runs '{"workflow": "nope", "input": {}}'
answers "starting an unknown workflow is 404" 404
req DELETE /v1/runs
answers "a known path with another method is 405" 405
req GET /v1/nothing
answers "an unknown path is 404" 404
req GET /v1/runs/no-such-run
answers "an unknown run is 404" 404
req GET "/v1/runs?status=sleepy"
answers "a bad filter is 400" 400

# ------------------------------------------------ starts and idempotency

req POST /v1/runs '{"workflow": "approve", "input": {}}' \
  -H 'Idempotency-Key: order-17'
answers "a start is 201" 201
run1=$(body .run_id)
wf1=$(body .workflow_id)
is "a new start did not exist" "$tmp/body" .existed false
req POST /v1/runs '{"workflow": "approve", "input": {}}' \
  -H 'Idempotency-Key: order-17'
answers "the same Idempotency-Key attaches (200)" 200
is "it attaches to the same run" "$tmp/body" .run_id "$run1"
is "and says it existed" "$tmp/body" .existed true
req POST /v1/runs '{"workflow": "approve", "input": {}, "workflow_id": "ap-2"}'
answers "a start with a workflow id is 201" 201
req POST /v1/runs '{"workflow": "approve", "input": {}, "workflow_id": "ap-2"}'
answers "an existing workflow id attaches" 200
eq "only two runs were started" \
  "$(C runs --format json | jq '[.runs[] | select(.workflow_id | startswith("ap"))] | length')" 2

# ----------------------------------------------------- live run events

# A client follows the run before it moves, then a signal moves it.
curl -sN --max-time 20 "$api/v1/runs/$wf1/events" >"$tmp/sse1" &
sse=$!
curl -sN --max-time 6 "$api/v1/runs?follow=1" >"$tmp/follow" &
follow=$!
sleep 0.5
req POST "/v1/runs/$wf1/signal" '{"name": "approval", "data": {"by": "ann"},
  "request_id": "sig-1"}'
answers "a signal is 200" 200
req POST "/v1/runs/$wf1/signal" '{"name": "approval", "data": {"by": "ann"},
  "request_id": "sig-1"}'
answers "a repeated request id answers 200" 200
is "and says it repeated" "$tmp/body" .repeated true
wait "$sse"
eq "the event stream ends by itself after the run's last event" "$?" 0
grep '^id: ' "$tmp/sse1" | cut -d' ' -f2 >"$tmp/sse1.ids"
n=$(wc -l <"$tmp/sse1.ids")
eq "every event once, in seq order" "$(cat "$tmp/sse1.ids" | tr '\n' ' ')" \
  "$(seq 1 "$n" | tr '\n' ' ')"
C history "$wf1" --format json >"$tmp/h1"
eq "the stream holds the whole history" "$n" "$(jq '.events | length' "$tmp/h1")"
check "the stream ends with run.completed" \
  bash -c "grep '^event: ' '$tmp/sse1' | tail -1 | grep -q run.completed"
sed -n 's/^data: //p' "$tmp/sse1" | jq -s -S . >"$tmp/sse1.events"
jq -S .events "$tmp/h1" >"$tmp/h1.events"
check "the stream's events are the history's, field for field" \
  cmp -s "$tmp/sse1.events" "$tmp/h1.events"
is "the signal's data reached the step" "$tmp/h1" \
  '[.events[] | select(.type == "step.completed")][0].output.by' ann
curl -sN --max-time 10 -H 'Last-Event-ID: 3' "$api/v1/runs/$wf1/events" \
  >"$tmp/sse2"
eq "Last-Event-ID resumes after that seq" \
  "$(grep '^id: ' "$tmp/sse2" | head -1)" "id: 4"
curl -sN --max-time 10 "$api/v1/runs/$wf1/events?after=$((n - 1))" \
  >"$tmp/sse3"
eq "?after=SEQ resumes after that seq" \
  "$(grep -c '^id: ' "$tmp/sse3")" 1
wait "$follow"
check "runs?follow=1 told the run's change" grep -q "$run1" "$tmp/follow"
check "runs?follow=1 told it completed" grep -q completed "$tmp/follow"

# ---------------------------------------- the API's JSON is the CLI's

for view in "" /result /lineage; do
  req GET "/v1/runs/$run1$view"
  answers "GET /v1/runs/{id}$view" 200
  jq -S . "$tmp/body" >"$tmp/api.json"
  case $view in
    "") C show "$run1" --format json ;;
    /result) C result "$run1" --format json ;;
    /lineage) C lineage "$run1" --format json ;;
  esac | jq -S . >"$tmp/cli.json"
  check "GET /v1/runs/{id}$view is what the CLI prints with --format json" \
    cmp -s "$tmp/api.json" "$tmp/cli.json"
done
req GET "/v1/runs/$run1/history?limit=2"
answers "history pages" 200
is "a page holds limit events" "$tmp/body" '.events | length' 2
is "and names where the next begins" "$tmp/body" .next_after 2
req GET "/v1/runs/$run1/history?after=2&limit=1000"
is "the next page continues at seq 3" "$tmp/body" '.events[0].seq' 3
is "the last page has no next" "$tmp/body" .next_after null
req GET "/v1/runs/$run1/export?format=md"
answers "export" 200

# What the viewer reads of a big run: the summary, then one step.
req GET "/v1/runs/$run1?view=summary"
answers "the summary view" 200
C show "$run1" --format json >"$tmp/full.json"
is "the summary has every step of the full view" "$tmp/body" \
  '[.steps[].name] | join(",")' "$(jq -r '[.steps[].name] | join(",")' "$tmp/full.json")"
is "its attempts have times, not inputs or outputs" "$tmp/body" \
  '[.steps[].attempts[] | (has("started_us") and (has("input") | not) and (has("output") | not))] | all' true
step1=$(jq -r '.steps[0].name' "$tmp/full.json")
req GET "/v1/runs/$run1/steps/$step1"
answers "one step in full" 200
jq -S .step "$tmp/body" >"$tmp/step_api.json"
jq -S '.steps[0]' "$tmp/full.json" >"$tmp/step_cli.json"
check "GET /v1/runs/{id}/steps/{step} is the full view's step" \
  cmp -s "$tmp/step_api.json" "$tmp/step_cli.json"
req GET "/v1/runs/$run1/steps/no_such_step"
answers "an unknown step is 404" 404
is "the 404 names the step" "$tmp/body" '.error.message | test("no step no_such_step")' true
req GET "/v1/runs/$run1?view=everything"
answers "an unknown view is 400" 400

# The run viewer: the page at its addresses, its files, nothing else.
for page in / "/runs/$run1" "/compare/$run1/x" /audit; do
  code=$(curl -s -o "$tmp/page" -w '%{http_code}' "$api$page")
  eq "GET $page answers the viewer's page" "$code" 200
  check "GET $page is the viewer's index.html" grep -q 'viewer/js/app.js' "$tmp/page"
done
code=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$api/viewer/js/app.js")
eq "the viewer's modules are JavaScript" "$code" "200 text/javascript; charset=utf-8"
code=$(curl -s -o /dev/null -w '%{http_code}' "$api/viewer/js/nope.js")
eq "an unknown viewer file is 404" "$code" 404

# ------------------------------------------- control: reset and replay

req POST "/v1/runs/$run1/reset" '{"step": "ask", "reason": "approver typo"}'
answers "a reset is 201" 201
reset1=$(body .run_id)
is "the reset names its parent" "$tmp/body" .parent_run_id "$run1"
wait_until "the reset run completes" 20 \
  bash -c "'$CAIRN' status '$reset1' | grep -q '^completed'"
req POST "/v1/runs/$run1/reset" '{"reason": "no step"}'
answers "a reset without a step is 400" 400
req POST "/v1/runs/$run1/reset" '{"step": "nope", "reason": "x"}'
answers "a reset after an unknown step is 404" 404
check "the 404 names the step" grep -q nope "$tmp/body"
req POST "/workflow-runs/$run1/replay" '{"allowStaleAssets": true,
  "reason": "seed endpoint"}'
answers "POST /workflow-runs/{id}/replay replays (201)" 201
replay1=$(body .run_id)
is "the replay names its parent" "$tmp/body" .parent_run_id "$run1"
# A replay executes its wait step again: it waits for a new signal.
wait_until "the replay waits for its signal" 10 \
  bash -c "'$CAIRN' history '$replay1' | grep -q 'step.started *ask'"
req POST "/v1/runs/$replay1/signal" '{"name": "approval", "data": {"by": "bo"}}'
answers "the replay takes a signal by run id" 200
wait_until "the replay completes" 20 \
  bash -c "'$CAIRN' status '$replay1' | grep -q '^completed'"
req GET "/workflow-runs/$run1/diff?compareTo=$reset1"
answers "GET /workflow-runs/{id}/diff?compareTo= diffs" 200
C diff "$run1" "$reset1" --format json | jq -S . >"$tmp/cli.json"
jq -S . "$tmp/body" >"$tmp/api.json"
check "the seed diff is the CLI's diff" cmp -s "$tmp/api.json" "$tmp/cli.json"
req GET "/v1/runs/$run1/diff"
answers "a diff without compareTo is 400" 400
req GET "/v1/runs/$run1/lineage"
is "lineage holds the run, its reset and its replay" "$tmp/body" \
  '[.. | objects | select(has("run_id")) | .run_id] | unique | length' 3
req GET "/v1/audit?action=reset"
answers "audit" 200
is "the reset is in the audit index with its reason" "$tmp/body" \
  '[.records[] | .action + ":" + .reason] | join(",")' "reset:approver typo"
req POST "/v1/runs/$reset1/cancel" '{"reason": "done already"}'
answers "cancelling a finished run is 409" 409

# ------------------------------------------------- paused workflows

req POST /v1/workflows/approve/pause '{"reason": "maintenance"}'
answers "pause" 200
req POST "/v1/runs/$run1/replay" '{"reason": "during the freeze"}'
answers "replaying a run of a paused workflow is 409" 409
check "the 409 says the workflow is paused" grep -q paused "$tmp/body"
req POST /v1/runs '{"workflow": "approve", "input": {}, "workflow_id": "ap-3"}'
answers "a paused workflow still starts new runs" 201
req POST /v1/workflows/approve/unpause '{}'
answers "unpause" 200
req GET "/v1/audit?action=workflow.pause"
is "the pause's reason is audited" "$tmp/body" '.records[0].reason' maintenance
req POST /v1/workflows/approve/pause '{"reason": 7}'
answers "a reason that is not a string is 400" 400

# ------------------------------------------------------------- listing

req GET "/v1/runs?limit=2"
answers "runs list" 200
is "a page holds limit runs" "$tmp/body" '.runs | length' 2
cursor=$(body .next_cursor)
req GET "/v1/runs?limit=2&cursor=$cursor"
is "the next page starts where the cursor says" "$tmp/body" \
  '.runs | length > 0' true
req GET "/v1/runs?origin=reset"
is "origin=reset lists the reset" "$tmp/body" '[.runs[].run_id] | join(",")' \
  "$reset1"
req GET "/v1/runs?status=running&workflow=approve"
is "status and workflow filter" "$tmp/body" '[.runs[].workflow_id] | join(",")' \
  ap-3,ap-2

# ------------------------------------ kill -9 of the server mid-run

req POST /v1/runs "{\"workflow\": \"steady\", \"workflow_id\": \"st-1\",
  \"input\": {\"effects\": \"$tmp/effects\"}}"
answers "a run that sleeps starts" 201
# The kill must come after step one's completion is committed: a step
# whose effect happened but whose completion was not yet recorded runs
# again after a crash (at-least-once), which is not what this checks.
wait_until "its first step's completion is recorded" 10 bash -c \
  "'$CAIRN' --format json history st-1 2>/dev/null |
   jq -e '[.events[] | select(.type == \"step.completed\" and
                               .step == \"one\")] | length == 1' >/dev/null"
kill -9 "$serve_pid"
wait "$serve_pid" 2>/dev/null
serve
wait_until "the restarted server completes the run" 30 \
  bash -c "'$CAIRN' status st-1 | grep -q '^completed'"
eq "no completed step ran twice, none was lost" \
  "$(tr '\n' ' ' <"$tmp/effects")" "one two "
expect_exit 0 "the journal verifies after the kill" C journal verify
unserve
eq "SIGTERM stops the server with exit 0" "$serve_rc" 0

# --------------------------------- --no-worker: workers execute instead

serve --no-worker
req POST /v1/runs "{\"workflow\": \"steady\", \"workflow_id\": \"st-2\",
  \"input\": {\"effects\": \"$tmp/effects2\"}}"
answers "a --no-worker server records starts" 201
sleep 0.5
check "a --no-worker server executes nothing" test ! -e "$tmp/effects2"
expect_exit 0 "a worker beside it drains the run" timeout 30 "$CAIRN" worker --drain
is "the worker completed it" <(C status st-2 --format json) .status completed
unserve

# ---------------------------------------- tokens, namespaces, roles

secret_a=tok-alpha-0123456789abcdef
secret_b=tok-bravo-0123456789abcdef
secret_r=tok-reader-0123456789abcde
ha=$(echo -n "$secret_a" | C serve hash-token)
hb=$(echo -n "$secret_b" | C serve hash-token)
hr=$(echo -n "$secret_r" | C serve hash-token)
check "hash-token prints a sha256" bash -c "[[ '$ha' == sha256:* ]]"
expect_exit 2 "hash-token refuses a short secret" \
  bash -c "echo -n short | '$CAIRN' serve hash-token"
cat >"$CAIRN_HOME/config.json" <<EOF
{ "serve": { "max_body_bytes": 4096, "tokens": [
  { "name": "alice", "sha256": "$ha", "namespace": "alpha", "role": "admin" },
  { "name": "bob", "sha256": "$hb", "namespace": "bravo", "role": "admin" },
  { "name": "rita", "sha256": "$hr", "namespace": "alpha", "role": "read" } ] } }
EOF
serve
A=(-H "Authorization: Bearer $secret_a")
B=(-H "Authorization: Bearer $secret_b")
R=(-H "Authorization: Bearer $secret_r")
req GET /v1/runs ""
answers "no token is 401" 401
code=$(curl -s -o "$tmp/page" -w '%{http_code}' "$api/runs/any-run")
eq "the viewer's page needs no token (it holds no data)" "$code" 200
check "and is the page, not an error" grep -q 'viewer/js/app.js' "$tmp/page"
req GET /v1/runs "" -H "Authorization: Bearer not-a-token-of-ours-at-all"
answers "an unknown token is 401" 401
req POST /v1/workflows "$(cat "$E2E/defs/approve.json")" "${A[@]}"
answers "alice registers in alpha" 201
req POST /v1/runs '{"workflow": "approve", "workflow_id": "a-1"}' "${A[@]}"
answers "alice starts in alpha" 201
runa=$(body .run_id)
req POST /v1/runs '{"workflow": "approve", "workflow_id": "b-1"}' "${B[@]}"
answers "bravo has no workflow approve: 404" 404
req GET "/v1/runs/$runa" "" "${B[@]}"
answers "bob reading alpha's run by id is 403" 403
req GET /v1/runs/a-1 "" "${B[@]}"
answers "a workflow id of another namespace is not found" 404
req GET /v1/runs "" "${B[@]}"
is "bob lists none of alpha's runs" "$tmp/body" '.runs | length' 0
req GET "/v1/runs/$runa" "" "${R[@]}"
answers "rita reads alpha's run" 200
req POST /v1/runs/a-1/cancel '{"reason": "x"}' "${R[@]}"
answers "a read token cannot cancel: 403" 403
req POST /v1/runs/a-1/signal '{"name": "approval", "data": {"by": "al"}}' \
  "${A[@]}"
answers "alice signals her run" 200
wait_until "alpha's run completes" 20 \
  bash -c "'$CAIRN' --namespace alpha status a-1 | grep -q '^completed'"
req GET "/v1/audit" "" "${A[@]}"
check "the token's name is the actor in the audit index" \
  bash -c "jq -e '[.records[] | select(.actor == \"alice\")] | length > 0' \
    '$tmp/body' >/dev/null"
big=$(head -c 6000 /dev/zero | tr '\0' 'x')
req POST /v1/runs "{\"workflow\": \"approve\", \"input\": {\"pad\": \"$big\"}}" \
  "${A[@]}"
answers "a body over serve.max_body_bytes is 413" 413
unserve
eq "the token server stops with exit 0" "$serve_rc" 0

# ------------------------------------- no tokens, no public address

rm "$CAIRN_HOME/config.json"
expect_exit 2 "listening beyond loopback without tokens is refused" \
  timeout 10 "$CAIRN" serve --listen 0.0.0.0:0
check "the refusal says what to do" grep -q "tokens" "$tmp/err"

finish
