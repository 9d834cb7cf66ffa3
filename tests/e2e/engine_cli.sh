#!/usr/bin/env bash
# engine_cli.sh — end-to-end: workflows run by the real `cairn` binary on a
# real journal: templates, failures, retries, timeouts, parallel steps,
# idempotent starts, workers, signals, cancel, terminate, validation and
# the definition registry.
#   usage: engine_cli.sh CAIRN
set -uo pipefail
. "$(dirname "$0")/lib.sh"
use_cairn "$1"

# ---------------------------------------------------- a chain of steps
cat >chain.json <<'EOF'
{ "name": "chain",
  "steps": [
    { "name": "a", "kind": "exec",
      "with": { "command": ["sh", "-c",
        "echo \"$CAIRN_STEP $CAIRN_ATTEMPT $CAIRN_IDEMPOTENCY_KEY\" >> side.log; echo '{\"n\": 2}'"] } },
    { "name": "b", "kind": "exec",
      "with": { "command": "read x; echo $((x * 21))",
                "stdin": "{{ .steps.a.output.n }}" } },
    { "name": "c", "kind": "exec",
      "with": { "command": ["printf", "%s", "{{ .input.who }} got {{ .steps.b.output }}"] } } ],
  "output": { "answer": "{{ .steps.b.output }}", "text": "{{ .steps.c.output }}" } }
EOF
expect_exit 0 "a chain of exec steps completes" \
  C --format json run chain.json --input '{"who": "ada"}' --id chain-1
eq "templates feed outputs forward" "$(jq -c .output "$tmp/out")" \
  '{"answer":42,"text":"ada got 42"}'
eq "the run reports its ids" "$(jq -r .workflow_id "$tmp/out")" chain-1
C --format json show chain-1 >show.json
eq "show has the run's status" "$(jq -r .status show.json)" completed
eq "show has the input" "$(jq -c .input show.json)" '{"who":"ada"}'
eq "show has the output" "$(jq -c .output.answer show.json)" 42
eq "show has the origin" "$(jq -r .origin.kind show.json)" none
eq "show lists steps in definition order" \
  "$(jq -c '[.steps[].name]' show.json)" '["a","b","c"]'
eq "each attempt has its fields" \
  "$(jq -c '.steps[1].attempts[0] | [.attempt, .status, .output, .error,
            (.duration_ms | type)]' show.json)" '[1,"completed",42,null,"number"]'
eq "the step got its run's environment" \
  "$(cut -d' ' -f1,2 side.log)" "a 1"
check "the idempotency key names the run and step" \
  grep -q "$(jq -r .run_id show.json):a" side.log
expect_exit 0 "result prints the output" C result chain-1
eq "result is the output JSON" "$(jq -c .answer "$tmp/out")" 42
expect_exit 0 "status works" C --format json status chain-1
eq "status says completed" "$(jq -r .status "$tmp/out")" completed

# Starting an existing workflow id again executes nothing.
expect_exit 0 "running the same workflow id again attaches" \
  C run chain.json --id chain-1
eq "no step ran again" "$(wc -l <side.log)" 1

# ---------------------------------------------------- failures, retries
cat >flaky.json <<'EOF'
{ "name": "flaky",
  "steps": [
    { "name": "try", "kind": "exec",
      "retry": { "max_attempts": 3, "initial_delay_ms": 20, "backoff": 2.0 },
      "with": { "command": ["sh", "-c",
        "echo x >> tries; test $(wc -l < tries) -ge 3 || { echo 'not yet' >&2; exit 3; }; echo ok"] } } ] }
EOF
expect_exit 0 "a step succeeds on its third attempt" C run flaky.json --id flaky-1
C --format json show flaky-1 >show.json
eq "three attempts are recorded" \
  "$(jq -c '[.steps[0].attempts[].status]' show.json)" \
  '["failed","failed","completed"]'
eq "a failed attempt keeps its exit status and stderr" \
  "$(jq -r '.steps[0].attempts[0].error.message' show.json)" \
  "exit status 3: not yet"
check "the history has the retries" \
  bash -c "C() { \"$CAIRN\" \"\$@\"; }; C history flaky-1 | grep -c step.retry_scheduled | grep -q 2"

cat >broken.json <<'EOF'
{ "name": "broken",
  "steps": [
    { "name": "ok", "kind": "exec", "with": { "command": ["true"] } },
    { "name": "bug", "kind": "exec",
      "with": { "command": ["sh", "-c", "echo 'KeyError: score' >&2; exit 1"] } },
    { "name": "never", "kind": "exec", "with": { "command": ["touch", "never-ran"] } } ] }
EOF
expect_exit 7 "a failing step fails the run with exit 7" \
  C run broken.json --id broken-1
check "later steps never run" test ! -e never-ran
expect_exit 7 "result of a failed run exits 7" C result broken-1
check "its message names the step and the error" \
  grep -q "step bug failed: exit status 1: KeyError: score" "$tmp/err"

cat >slow.json <<'EOF'
{ "name": "slow",
  "steps": [ { "name": "hang", "kind": "exec", "timeout_ms": 200,
               "with": { "command": ["sleep", "10"] } } ] }
EOF
expect_exit 7 "a step past its timeout fails" C run slow.json --id slow-1
C --format json show slow-1 >show.json
eq "with the timeout code" \
  "$(jq -r '.steps[0].attempts[0].error.code' show.json)" timeout

# ---------------------------------------------------- parallel steps
cat >fan.json <<'EOF'
{ "name": "fan",
  "steps": [
    { "name": "left", "kind": "exec", "needs": [],
      "with": { "command": ["sh", "-c", "touch left.started; sleep 0.3; test -e right.started"] } },
    { "name": "right", "kind": "exec", "needs": [],
      "with": { "command": ["sh", "-c", "touch right.started; sleep 0.3; test -e left.started"] } },
    { "name": "join", "kind": "exec", "needs": ["left", "right"],
      "with": { "command": ["echo", "joined"] } } ] }
EOF
expect_exit 0 "roots run concurrently, then the join" C run fan.json --id fan-1

# ---------------------------------------------------- workers
expect_exit 0 "start records a run for a worker" \
  C --format json start chain.json --input '{"who": "bob"}' --id chain-2
eq "start prints the run id" "$(jq -r '.run_id | length' "$tmp/out")" 36
expect_exit 0 "the run waits" C --format json status chain-2
eq "it is running (no worker yet)" "$(jq -r .status "$tmp/out")" running
expect_exit 0 "a draining worker executes it" C worker --drain
expect_exit 0 "and it completed" C result chain-2
eq "with its own input" "$(jq -r .text "$tmp/out")" "bob got 42"

# ---------------------------------------------------- signals and cancel
cp "$E2E/defs/approve.json" .
C start approve.json --id appr-1 >/dev/null
C start approve.json --id appr-2 >/dev/null
"$CAIRN" worker >worker.log 2>&1 &
pids+=($!)
wait_until "the wait step has started" 5 \
  bash -c "\"$CAIRN\" show appr-1 | grep -q 'ask .*running'"
expect_exit 0 "a signal is accepted" \
  C signal appr-1 approval --data '{"by": "carol"}' --reason "looks good"
wait_until "the signal completes the run" 5 \
  bash -c "\"$CAIRN\" status appr-1 | grep -q ^completed"
expect_exit 0 "its output comes from the signal" C result appr-1
eq "the signal's data is the step's output" "$(cat "$tmp/out")" '"carol"'
expect_exit 0 "cancel is accepted" C cancel appr-2 --reason "not needed"
wait_until "the run is cancelled" 5 \
  bash -c "\"$CAIRN\" status appr-2 | grep -q ^cancelled"
check "the history keeps the reason" \
  bash -c "\"$CAIRN\" history appr-2 | grep -q 'run.cancelled .*reason: not needed'"
expect_exit 4 "a finished run takes no signal" C signal appr-2 approval
expect_exit 4 "nor a second cancel" C cancel appr-2

cat >long.json <<'EOF'
{ "name": "long",
  "steps": [ { "name": "work", "kind": "exec",
               "with": { "command": ["sh", "-c", "echo $$ > work.pid; exec sleep 5"] } } ] }
EOF
C start long.json --id long-1 >/dev/null
wait_until "the long step runs" 5 \
  bash -c "\"$CAIRN\" show long-1 | grep -q 'work .*running'"
expect_exit 0 "terminate is accepted" C terminate long-1 --reason "runaway"
wait_until "the run is terminated" 5 \
  bash -c "\"$CAIRN\" status long-1 | grep -q ^terminated"
sleep 0.3
check "the step's process was killed" \
  bash -c "! kill -0 \$(cat work.pid) 2>/dev/null"
kill "${pids[@]}" 2>/dev/null

# ---------------------------------------------------- two workers
cat >logged.json <<'EOF'
{ "name": "logged",
  "steps": [
    { "name": "one", "kind": "exec",
      "with": { "command": ["sh", "-c", "echo \"$CAIRN_RUN_ID one\" >> two.log; sleep 0.02"] } },
    { "name": "two", "kind": "exec",
      "with": { "command": ["sh", "-c", "echo \"$CAIRN_RUN_ID two\" >> two.log"] } } ] }
EOF
for i in $(seq 1 30); do C start logged.json --id "logged-$i" >/dev/null; done
"$CAIRN" worker --drain --concurrency 4 >/dev/null 2>&1 &
w1=$!
"$CAIRN" worker --drain --concurrency 4 >/dev/null 2>&1 &
w2=$!
wait $w1 $w2
eq "two workers ran each of 60 steps exactly once" \
  "$(sort two.log | uniq | wc -l) $(wc -l <two.log)" "60 60"
eq "and completed every run" \
  "$(C --format json runs --workflow logged-7 | jq -r '.runs[0].status')" \
  completed

# ---------------------------------------------------- a sleep across crashes
cat >nap.json <<'EOF'
{ "name": "nap",
  "steps": [ { "name": "rest", "kind": "sleep", "with": { "duration_ms": 1200 } },
             { "name": "after", "kind": "exec", "with": { "command": ["echo", "woke"] } } ] }
EOF
C start nap.json --id nap-1 >/dev/null
"$CAIRN" worker --drain >/dev/null 2>&1 &
w=$!
sleep 0.4
kill -9 $w
wait $w 2>/dev/null
expect_exit 0 "a worker resumes the sleep after a crash" C worker --drain
expect_exit 0 "and the run completes" C result nap-1
eq "the deadline was set once, not restarted" \
  "$(C --format json history nap-1 | jq '[.events[] | select(.type == "timer.started")] | length')" 1

# ---------------------------------------------------- credentials
cat >secret.json <<'EOF'
{ "name": "secret",
  "steps": [ { "name": "call", "kind": "exec",
               "with": { "command": ["sh", "-c", "test \"$SERVICE_TOKEN\" = hunter2"],
                         "env": { "SERVICE_TOKEN": "{{ .input.token }}", "MODE": "x" } } } ] }
EOF
expect_exit 0 "a step gets its credential" \
  C run secret.json --input '{"token": "hunter2"}' --id secret-1
C --format json show secret-1 >show.json
eq "the recorded input hides the credential" \
  "$(jq -c '.steps[0].attempts[0].input.env' show.json)" \
  '{"SERVICE_TOKEN":"[redacted]","MODE":"x"}'

# ---------------------------------------------------- evaluation
cat >scored.json <<'EOF'
{ "name": "scored",
  "steps": [
    { "name": "draft", "kind": "exec",
      "check": ".output.score",
      "auto_rerun": { "below": 0.7, "max": 3 },
      "with": { "command": ["sh", "-c", "echo \"{\\\"score\\\": $(( CAIRN_ATTEMPT * 25 ))e-2}\""] } },
    { "name": "stable", "kind": "exec", "check": ".output == \"ok\"",
      "with": { "command": ["echo", "ok"] } } ] }
EOF
expect_exit 0 "a step scoring below its threshold runs again" \
  C run scored.json --id scored-1
C --format json show scored-1 >show.json
eq "three attempts until one passed" \
  "$(jq -c '[.steps[0].attempts[] | .output.score]' show.json)" \
  '[0.25,0.5,0.75]'
eq "each attempt keeps its score" \
  "$(C --format json history scored-1 | jq -c '[.events[] | select(.type == "step.evaluated") | .output]')" \
  '[0.25,0.5,0.75,1]'
eq "the passing attempt is the step's output" \
  "$(C --format json result scored-1 | jq -c .output)" '"ok"'
cat >never.json <<'EOF'
{ "name": "never",
  "steps": [ { "name": "weak", "kind": "exec", "check": ".output.score",
               "auto_rerun": { "below": 0.9, "max": 2 },
               "with": { "command": ["echo", "{\"score\": 0.1}"] } } ] }
EOF
expect_exit 0 "a step that never passes keeps its last attempt" \
  C run never.json --id never-1
eq "it ran 1 + max times" \
  "$(C --format json show never-1 | jq '.steps[0].attempts | length')" 3
expect_exit 2 "auto_rerun without a check is refused" \
  C run <(echo '{"name":"x","steps":[{"name":"a","kind":"exec","auto_rerun":{"below":0.5,"max":1},"with":{"command":["true"]}}]}')

# ---------------------------------------------------- an evaluator step
cat >judged.json <<'EOF'
{ "name": "judged",
  "steps": [
    { "name": "write", "kind": "exec", "evaluator": "judge",
      "auto_rerun": { "below": 0.5, "max": 3 },
      "with": { "command": ["sh", "-c", "echo $CAIRN_ATTEMPT"] } },
    { "name": "judge", "kind": "exec",
      "with": { "command": ["sh", "-c", "echo \"{\\\"score\\\": $(( $0 * 25 ))e-2}\"", "{{ .steps.write.output }}"] } },
    { "name": "publish", "kind": "exec", "needs": ["judge"],
      "with": { "command": ["echo", "{{ .steps.write.output }}"] } } ] }
EOF
expect_exit 0 "an evaluator step scores another and sends it back" \
  C run judged.json --id judged-1
C --format json show judged-1 >show.json
eq "the judged step ran until its judge passed it" \
  "$(jq -c '[.steps[0].attempts[] | .score]' show.json)" '[0.25,0.5]'
eq "the judge ran once per attempt" \
  "$(jq '.steps[1].attempts | length' show.json)" 2
eq "what follows the judge saw the passing attempt" \
  "$(C result judged-1)" 2
expect_exit 2 "an evaluator must need the step it scores" \
  C run <(echo '{"name":"x","steps":[{"name":"a","kind":"exec","needs":[],"evaluator":"b","with":{"command":["true"]}},{"name":"b","kind":"exec","needs":[],"with":{"command":["true"]}}]}')

# ---------------------------------------------------- rerun gets its retries
cat >budget.json <<'EOF'
{ "name": "budget",
  "steps": [ { "name": "flaky", "kind": "exec",
               "retry": { "max_attempts": 2, "initial_delay_ms": 10 },
               "with": { "command": ["sh", "-c", "echo x >> budget.n; test $(wc -l < budget.n) -ge 4"] } } ] }
EOF
expect_exit 7 "a step that uses up its retries fails the run" \
  C run budget.json --id budget-1
expect_exit 0 "a single-step rerun gets the retry policy again" \
  C rerun budget-1 --step flaky --reason "try again"
eq "attempts 3 and 4 ran in the rerun" \
  "$(C --format json show budget-1 | jq -c '[.steps[0].attempts[].status]')" \
  '["failed","failed","failed","completed"]'

# ---------------------------------------------------- validation, registry
cat >cycle.json <<'EOF'
{ "name": "cycle",
  "steps": [ { "name": "a", "kind": "exec", "needs": ["b"], "with": { "command": ["true"] } },
             { "name": "b", "kind": "exec", "needs": ["a"], "with": { "command": ["true"] } } ] }
EOF
expect_exit 2 "an invalid definition is refused before running" \
  C run cycle.json
check "the message names the cycle" grep -q "cycle" "$tmp/err"
expect_exit 3 "an unknown definition name is not found" C run nosuch
expect_exit 2 "bad input JSON is refused" C run chain.json --input '{oops'
expect_exit 0 "register stores a version" \
  C --format json workflow register chain.json
eq "it is version 1" "$(jq .version "$tmp/out")" 1
sed 's/got/has/' chain.json >chain2.json
expect_exit 0 "a changed file is a new version" \
  C --format json workflow register chain2.json
eq "version 2" "$(jq .version "$tmp/out")" 2
expect_exit 0 "list shows the definitions" C --format json workflow list
eq "chain has two versions" \
  "$(jq '.workflows[] | select(.name == "chain") | .versions' "$tmp/out")" 2
expect_exit 0 "show prints a version" C workflow show chain --version 1
check "version 1 has the old text" grep -q "got" "$tmp/out"
expect_exit 0 "a run by name uses the latest version" \
  C --format json run chain --input '{"who": "dee"}' --id chain-3
eq "the new text is used" "$(jq -r .output.text "$tmp/out")" "dee has 42"
expect_exit 0 "past runs keep their snapshot" C result chain-1
eq "chain-1 still says got" "$(jq -r .text "$tmp/out")" "ada got 42"
expect_exit 0 "runs lists them" C --format json runs --status failed
eq "three failed runs (a single-step rerun does not change a status)" "$(jq '.runs | length' "$tmp/out")" 3
expect_exit 0 "the journal verifies" C journal verify

finish
