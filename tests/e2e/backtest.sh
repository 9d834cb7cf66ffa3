#!/usr/bin/env bash
# backtest.sh — end-to-end: `cairn backtest` and `cairn export` with the
# real binary on a real journal.
#
# The story: a grading workflow has run on 10 inputs (x = 1..10; its
# `grade` step has a check scoring .output.score; the scorer crashes on
# x = 1). A new scorer is tried on all 10 runs with --param: the backtest
# must report the mean improving, the failure gone, three runs now
# passing, and exactly one regression (x = 7). The workflow's mutating
# `notify` step must be dry-run in every replay (its side-effect log is
# unchanged). Then the errors (unknown run, run in flight, rate limit
# checked before anything is created), and `cairn export` as Markdown and
# JSON, including a reused step resolved to its original output.
#   usage: backtest.sh CAIRN
set -uo pipefail
. "$(dirname "$0")/lib.sh"
use_cairn "$1"

# The scorer in use: score x/10; it crashes on x = 1.
cat >score.sh <<'EOF'
read x
[ "$x" -eq 1 ] && { echo "scorer: cannot grade 1" >&2; exit 2; }
awk -v x="$x" 'BEGIN { printf "{\"score\": %g, \"x\": %d}\n", x / 10, x }'
EOF
# The candidate: x/10 + 0.3 (at most 1), but it gets x = 7 wrong. It
# logs its start and end (+ and -) to show how many ran at once.
cat >score_v2.sh <<'EOF'
read x
echo + >>conc.log; sleep 0.2; echo - >>conc.log
awk -v x="$x" 'BEGIN { s = x / 10 + 0.3; if (s > 1) s = 1; if (x == 7) s = 0.2;
                       printf "{\"score\": %g, \"x\": %d}\n", s, x }'
EOF
cat >grader.json <<'EOF'
{ "name": "grader",
  "steps": [
    { "name": "grade", "kind": "exec", "check": ".output.score",
      "with": { "command": ["sh", "score.sh"], "stdin": "{{ .input.x }}" } },
    { "name": "notify", "kind": "exec", "mutates": true, "needs": ["grade"],
      "with": { "command": ["sh", "-c",
        "echo \"notified {{ .input.x }}\" >> side.log; echo sent"] } } ],
  "output": { "score": "{{ .steps.grade.output.score }}" } }
EOF

expect_exit 7 "the run the scorer crashes on fails" \
  C run grader.json --input '{"x": 1}' --id g-1
for x in 2 3 4 5 6 7 8 9 10; do
  expect_exit 0 "run x=$x completes" \
    C run grader.json --input "{\"x\": $x}" --id "g-$x"
done
eq "nine runs notified" "$(wc -l <side.log)" 9

# ------------------------------------------------ the backtest, as JSON
expect_exit 0 "a backtest with a regression still exits 0" \
  C --format json backtest --workflow grader --last 10 \
    --param 'grade.command=["sh","score_v2.sh"]'
cp "$tmp/out" bt.json
cp "$tmp/err" bt.err
J() { jq -c "$1" bt.json; }
eq "ten runs, newest first" "$(J '[.runs[].workflow_id]')" \
  '["g-10","g-9","g-8","g-7","g-6","g-5","g-4","g-3","g-2","g-1"]'
eq "scores before" "$(J '[.runs[].before.score]')" \
  '[1,0.9,0.8,0.7,0.6,0.5,0.4,0.3,0.2,0]'
eq "scores after" "$(J '[.runs[].after.score]')" \
  '[1,1,1,0.2,0.9,0.8,0.7,0.6,0.5,0.4]'
eq "statuses before and after" \
  "$(J '[.runs[] | select(.workflow_id == "g-1") | .before.status, .after.status]')" \
  '["failed","completed"]'
eq "passed before and after" \
  "$(J '[.runs[] | [.before.passed, .after.passed]] | map(map(if . then "1" else "0" end) | join("")) | join(" ")')" \
  '"11 11 11 10 11 11 01 01 01 00"'
eq "each run has its replay" \
  "$(J '[.runs[] | select(.replay_run_id != .run_id and (.replay_run_id | length) == 36)] | length')" 10
eq "the mean improves" "$(J '[.summary.mean_before, .summary.mean_after]')" \
  '[0.54,0.71]'
eq "standard deviations (population)" \
  "$(J '[.summary.stddev_before, .summary.stddev_after]')" \
  '[0.303974,0.266271]'
eq "failures before and after" \
  "$(J '[.summary.failures_before, .summary.failures_after]')" '[1,0]'
g7=$(J '.runs[] | select(.workflow_id == "g-7") | .run_id')
eq "exactly one regression: x = 7" "$(J .summary.regressions)" "[$g7]"
eq "three improvements" \
  "$(J '[.summary.improvements[] as $id | .runs[] | select(.run_id == $id) | .workflow_id]')" \
  '["g-4","g-3","g-2"]'
check "the dry-run is announced" grep -q "DRY-RUN.*notify" bt.err
eq "the mutating step was not performed again" "$(wc -l <side.log)" 9
most=$(awk '/\+/ { n++; if (n > m) m = n } /-/ { n-- } END { print m }' conc.log)
check "replays ran concurrently, at most 4 at once (saw $most)" \
  test "$most" -ge 2 -a "$most" -le 4
r7=$(J '.runs[] | select(.workflow_id == "g-7") | .replay_run_id' | tr -d '"')
C --format json show "$r7" >show.json
eq "the replay records notify as a dry-run" \
  "$(jq -c '[.steps[1].status, .steps[1].attempts[0].dry_run]' show.json)" \
  '["completed",true]'
eq "the replay is a replay with reason backtest" \
  "$(jq -c '[.origin.kind, .origin.reason]' show.json)" '["replay","backtest"]'
eq "the replay ran the new scorer" \
  "$(jq -c '.steps[0].attempts[0].output' show.json)" '{"score":0.2,"x":7}'
eq "the source run is untouched" \
  "$(C --format json result g-7 | jq -c .output)" '{"score":0.7}'

# ------------------------------------------------ as text, with --runs
g5=$(J '.runs[] | select(.workflow_id == "g-5") | .run_id' | tr -d '"')
expect_exit 0 "a backtest of listed runs without a change" \
  C backtest --runs "g-3,$g5" --concurrency 1
check "the table lists each run" grep -q "^$g5 " "$tmp/out"
check "the mean is unchanged" grep -Eq "^mean score +0\.400 +0\.400" \
  "$tmp/out"
check "no regression" grep -q "^regressions: 0" "$tmp/out"

# ------------------------------------------------ errors
expect_exit 3 "an unknown run is not found" C backtest --runs nosuch
expect_exit 2 "--runs and --workflow together are refused" \
  C backtest --runs g-3 --workflow grader
expect_exit 3 "a workflow without finished runs is not found" \
  C backtest --workflow nothing
expect_exit 0 "a run left to a worker" \
  C start grader.json --input '{"x": 5}' --id pending-1
expect_exit 4 "a run in flight cannot be backtested" \
  C backtest --runs pending-1
check "the message says it is running" grep -q "still running" "$tmp/err"
runs_before=$(C --format json runs --limit 1000 | jq '.runs | length')
echo '{"limits": {"max_forks_per_minute": 13}}' >"$CAIRN_HOME/config.json"
expect_exit 6 "a backtest over the fork rate limit is refused" \
  C backtest --runs g-2,g-3
check "the message names the limit" grep -q "max_forks_per_minute" \
  "$tmp/err"
eq "nothing was created" \
  "$(C --format json runs --limit 1000 | jq '.runs | length')" "$runs_before"
rm "$CAIRN_HOME/config.json"
expect_exit 0 "a run in another namespace" \
  C --namespace other run grader.json --input '{"x": 5}' --id g-other
other=$(C --namespace other --format json result g-other | jq -r .run_id)
expect_exit 5 "a backtest reaching into another namespace is forbidden" \
  C backtest --runs "g-3,$other"
check "the message names the namespace" grep -q "namespace other" \
  "$tmp/err"
# A replay refused half-way (the override names a step the second run's
# workflow lacks): the replays already made are cancelled.
expect_exit 0 "a run of another workflow" \
  C run <(echo '{"name": "tiny", "steps": [{"name": "a", "kind": "exec",
                  "with": {"command": ["true"]}}]}') --id tiny-1
expect_exit 3 "a backtest whose second replay is refused" \
  C backtest --runs g-3,tiny-1 --param 'grade.command=["true"]'
check "the message names the step" grep -q "no such step" "$tmp/err"
eq "the replay made before it was cancelled" \
  "$(C --format json runs --status cancelled | jq -c '[.runs[].workflow_id]')" \
  '["g-3"]'

# ------------------------------------------------ export
expect_exit 0 "export as Markdown (the default)" C export g-7
cp "$tmp/out" g7.md
check "the title names the workflow" grep -q "^# grader: run " g7.md
check "a heading per step" grep -q "^### 1. grade (exec)" g7.md
check "... and the second" grep -q "^### 2. notify (exec)" g7.md
check "the step's score" grep -q "^- score: 0.700" g7.md
check "the step's output" grep -q '"score": 0.7' g7.md
check "notify's output" grep -qx "sent" g7.md
check "the input section" grep -q "^## Input" g7.md
check "the output section" grep -q "^## Output" g7.md
check "fenced JSON" grep -q '^```json' g7.md
expect_exit 0 "export as JSON" C --format json export g-7
cp "$tmp/out" g7.json
eq "the input" "$(jq -c .input g7.json)" '{"x":7}'
eq "the steps' outputs" "$(jq -c '[.steps[] | [.name, .output]]' g7.json)" \
  '[["grade",{"score":0.7,"x":7}],["notify","sent"]]'
eq "the steps' scores" "$(jq -c '[.steps[].score]' g7.json)" '[0.7,null]'
eq "the final output" "$(jq -c .output g7.json)" '{"score":0.7}'
eq "the run's score" "$(jq -c .score g7.json)" 0.7
eq "the definition" "$(jq -c '[.definition.name, .definition.version]' g7.json)" \
  '["grader",1]'
expect_exit 0 "export --format md" C --format md export g-1
check "a failed step shows its error" grep -q "cannot grade 1" "$tmp/out"
expect_exit 3 "export of an unknown run" C export nosuch
# A run whose grade step is reused: the export shows the original output.
expect_exit 0 "a rerun from notify reuses grade" \
  C rerun g-8 --from-step notify --reason "export test"
C --format json export g-8 >g8.json
eq "the reused step shows the original output and score" \
  "$(jq -c '.steps[0] | [.reused, .output, .score, (.source.run_id | length)]' g8.json)" \
  '[true,{"score":0.8,"x":8},0.8,36]'
eq "its input comes from the attempt that did the work" \
  "$(jq -c '.steps[0].input.stdin' g8.json)" 8
# --workflow takes each workflow's newest finished run once: the rerun of
# g-8 stands for g-8; the run in flight (pending-1) is left out.
rerun8=$(jq -r .run_id g8.json)
expect_exit 0 "a backtest of the last 2 runs" \
  C --format json backtest --workflow grader --last 2
eq "one run per workflow, the newest" \
  "$(jq -c '[.runs[] | [.workflow_id, .run_id == "'"$rerun8"'"]]' "$tmp/out")" \
  '[["g-8",true],["g-10",false]]'

# ------------------------------------------------ llm steps (python3 serves)
# A local OpenAI-compatible server: the answer is GOOD when the prompt says
# "carefully", else meh. A prompt override in a backtest lifts the score;
# export shows the prompt, the system text, the model and the tokens.
if command -v python3 >/dev/null; then
  cat >llm_server.py <<'EOF'
import json, http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        req = json.loads(self.rfile.read(n))
        said = req["messages"][-1]["content"]
        text = "GOOD" if "carefully" in said else "meh"
        body = json.dumps({"id": "req-1", "model": req["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_port, flush=True)
s.serve_forever()
EOF
  python3 llm_server.py >port.txt &
  llm_pid=$!
  pids+=("$llm_pid")
  wait_until "the llm server listens" 10 test -s port.txt
  export OPENAI_BASE_URL=http://127.0.0.1:$(cat port.txt)/v1
  cat >ask.json <<'EOF'
{ "name": "ask",
  "steps": [
    { "name": "answer", "kind": "llm", "check": ".output.text == \"GOOD\"",
      "with": { "model": "openai:gpt-test", "system": "Be brief.",
                "prompt": "Summarize {{ .input.topic }}" } } ],
  "output": "{{ .steps.answer.output.text }}" }
EOF
  expect_exit 0 "an llm run" C run ask.json --input '{"topic": "cairns"}' \
    --id ask-1
  expect_exit 0 "another" C run ask.json --input '{"topic": "moss"}' \
    --id ask-2
  echo '{"limits": {"max_forks_per_minute": 100}}' >"$CAIRN_HOME/config.json"
  expect_exit 0 "a backtest with a better prompt" \
    C --format json backtest --workflow ask \
      --prompt 'answer=Summarize {{ .input.topic }} carefully'
  eq "both runs improve" \
    "$(jq -c '[.summary.mean_before, .summary.mean_after, (.summary.improvements | length)]' "$tmp/out")" \
    '[0,1,2]'
  replay=$(jq -r '.runs[0].replay_run_id' "$tmp/out")
  expect_exit 0 "export of an llm run" C --format json export "$replay"
  eq "the llm step's prompt, system, model and tokens" \
    "$(jq -c '.steps[0].llm | [.prompt, .system, .model, .input_tokens, .output_tokens]' "$tmp/out")" \
    '["Summarize moss carefully","Be brief.","openai:gpt-test",12,3]'
  expect_exit 0 "... as Markdown" C export "$replay"
  check "the Markdown has the prompt" grep -qx "Summarize moss carefully" \
    "$tmp/out"
  check "... and the model" grep -q '^- model: `openai:gpt-test`' "$tmp/out"
  kill "$llm_pid"
  wait "$llm_pid" 2>/dev/null
else
  echo "(no python3: the llm part is skipped)"
fi
finish
