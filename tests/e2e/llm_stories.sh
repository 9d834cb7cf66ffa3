#!/usr/bin/env bash
# llm_stories.sh — end-to-end: the stories of the llm steps issue, told by
# the real `cairn` binary against the scripted model server
# (helpers/llm_server.c), which answers "MODEL says: PROMPT" and cuts an
# answer longer than the request's max_tokens (in words) with finish
# reason "length". So the prompt decides what a check sees, and the tests
# know every answer in advance.
#
# 1. A 4-step prompt chain (openai, openai, anthropic, openai; each prompt
#    made from the step before's output.text). Step s3's check scores 1
#    when its answer says "thoroughly", else 0.2: the first run completes
#    with s3 weak. `rerun --step s3 --prompt` adds s3's attempt 2 with the
#    better prompt and a score of 1, calls the model once (not for s1, s2
#    or s4), recomputes the run's output, and marks s4 stale.
# 2. `replay --model s2=anthropic:claude-haiku`: a new run whose s2 asks
#    the Anthropic endpoint (the server's request log) while the other
#    steps keep their models, and s3 keeps the prompt its rerun recorded
#    (not the definition's); the original run is untouched.
# 3. A backtest of a summarizing workflow over its last 10 runs (of 11)
#    with a new prompt that cites the source: the mean score rises, two
#    runs whose answers were cut before now pass, and exactly one run
#    regresses (its long source pushes the answer past max_tokens).
#   usage: llm_stories.sh CAIRN LLM_SERVER
set -uo pipefail
CAIRN=$(realpath "$1")
SERVER=$(realpath "$2")
. "$(dirname "$0")/lib.sh"
cd "$tmp"

"$SERVER" >port 2>server.err &
srv=$!
pids+=("$srv")
if ! wait_until "the model server listens" 10 test -s port ||
   [ "$(head -1 port)" = 0 ]; then
  echo "FAIL: the model server did not start: $(cat server.err)" >&2
  exit 1
fi
port=$(head -1 port)
OPENAI_KEY=sk-fake-openai-Hq3Tz8
ANTHROPIC_KEY=sk-ant-fake-Wd5Nc2
export CAIRN_HOME=$tmp/journal
export OPENAI_BASE_URL=http://127.0.0.1:$port/v1
export ANTHROPIC_BASE_URL=http://127.0.0.1:$port/v1
export OPENAI_API_KEY=$OPENAI_KEY ANTHROPIC_API_KEY=$ANTHROPIC_KEY
mkdir -p "$CAIRN_HOME"
# Two backtests of 10 runs, a rerun and a replay: above the default fork
# rate limit (20 a minute).
cat >"$CAIRN_HOME/config.json" <<'EOF'
{ "llm": { "policy": { "allowed_models": ["openai:gpt-4o-mini",
                                          "anthropic:*"] } },
  "limits": { "max_forks_per_minute": 100 } }
EOF
# requests [FROM]: the model requests the server saw, from the FROM-th
# (0-based) on, as JSON.
requests() {
  curl -s "http://127.0.0.1:$port/requests" | jq -c ".[${1:-0}:]"
}

# ---------------------------------------------------------------- 1. chain
cat >essay.json <<'EOF'
{ "name": "essay",
  "steps": [
    { "name": "s1", "kind": "llm",
      "with": { "model": "openai:gpt-4o-mini",
                "prompt": "Outline {{ .input.topic }}" } },
    { "name": "s2", "kind": "llm",
      "with": { "model": "openai:gpt-4o-mini",
                "prompt": "Draft from: {{ .steps.s1.output.text }}" } },
    { "name": "s3", "kind": "llm",
      "check": "if (.output.text | test(\"thoroughly\")) then 1 else 0.2 end",
      "with": { "model": "anthropic:claude-sonnet-4-5",
                "prompt": "Polish: {{ .steps.s2.output.text }}" } },
    { "name": "s4", "kind": "llm",
      "with": { "model": "openai:gpt-4o-mini",
                "prompt": "Title for: {{ .steps.s3.output.text }}" } } ],
  "output": { "essay": "{{ .steps.s3.output.text }}",
              "title": "{{ .steps.s4.output.text }}" } }
EOF
T1="gpt-4o-mini says: Outline cairns"
T2="gpt-4o-mini says: Draft from: $T1"
T3="claude-sonnet-4-5 says: Polish: $T2"
T4="gpt-4o-mini says: Title for: $T3"
T3B="claude-sonnet-4-5 says: Polish thoroughly: $T2"
expect_exit 0 "the chain runs" \
  C --format json run essay.json --id essay-1 --input '{"topic": "cairns"}'
cp out chain.out
run=$(jq -r .run_id chain.out)
eq "the run's output is made from s3 and s4" "$(jq -c .output chain.out)" \
  "$(jq -nc --arg e "$T3" --arg t "$T4" '{essay: $e, title: $t}')"
C --format json show essay-1 >show1.json
eq "each step answered once" \
  "$(jq -c '[.steps[] | "\(.status)/\(.attempts | length)"]' show1.json)" \
  '["completed/1","completed/1","completed/1","completed/1"]'
eq "each prompt is made from the step before's text" \
  "$(jq -c '[.steps[].attempts[0].llm.prompt]' show1.json)" \
  "$(jq -nc --arg a "$T1" --arg b "$T2" --arg c "$T3" \
       '["Outline cairns", "Draft from: \($a)", "Polish: \($b)",
         "Title for: \($c)"]')"
eq "each step keeps its model" \
  "$(jq -c '[.steps[].attempts[0].output.model]' show1.json)" \
  '["openai:gpt-4o-mini","openai:gpt-4o-mini","anthropic:claude-sonnet-4-5","openai:gpt-4o-mini"]'
eq "s3 is weak: scored 0.2; the others have no check" \
  "$(jq -c '[.steps[].attempts[0].score]' show1.json)" '[null,null,0.2,null]'
eq "four model calls, s3's to the Anthropic endpoint" \
  "$(requests | jq -c '[.[] | "\(.path) \(.body.model)"]')" \
  '["/v1/chat/completions gpt-4o-mini","/v1/chat/completions gpt-4o-mini","/v1/messages claude-sonnet-4-5","/v1/chat/completions gpt-4o-mini"]'

# --- rerun s3 alone with a better prompt
expect_exit 0 "s3 is rerun with a better prompt" \
  C --format json rerun essay-1 --step s3 --reason "s3 is weak" \
    --prompt 's3=Polish thoroughly: {{ .steps.s2.output.text }}'
cp out rerun.out
eq "the rerun is inside the same run, as s3's attempt 2" \
  "$(jq -c '[.run_id == "'"$run"'", .kind, .attempt.step,
             .attempt.attempt, .attempt.status]' rerun.out)" \
  '[true,"rerun","s3",2,"completed"]'
eq "the rerun prints the recomputed output" \
  "$(jq -r .output.essay rerun.out)" "$T3B"
C --format json show essay-1 >show2.json
eq "the workflow's run is still the same" "$(jq -r .run_id show2.json)" \
  "$run"
eq "s3 has two attempts, scored 0.2 then 1" \
  "$(jq -c '.steps[2].attempts | [.[] | [.attempt, .status, .score]]' \
       show2.json)" '[[1,"completed",0.2],[2,"completed",1]]'
eq "attempt 2 rendered the new prompt" \
  "$(jq -r '.steps[2].attempts[1].llm.prompt' show2.json)" \
  "Polish thoroughly: $T2"
eq "attempt 1 keeps the old prompt" \
  "$(jq -r '.steps[2].attempts[0].llm.prompt' show2.json)" "Polish: $T2"
eq "attempt 2 answered the better text" \
  "$(jq -r '.steps[2].attempts[1].output.text' show2.json)" "$T3B"
eq "s1, s2 and s4 were not called again" \
  "$(jq -c '[.steps[] | .attempts | length]' show2.json)" '[1,1,2,1]'
eq "s4 is stale, the others are not" \
  "$(jq -c '[.steps[].stale]' show2.json)" '[false,false,false,true]'
eq "one more model call: s3's, with the new prompt" \
  "$(requests 4 | jq -c '[.[] | [.path, .body.model,
                                 .body.messages[-1].content]]')" \
  "$(jq -nc --arg p "Polish thoroughly: $T2" \
       '[["/v1/messages", "claude-sonnet-4-5", $p]]')"
C --format json history essay-1 >hist.json
eq "the history goes on with the rerun" \
  "$(jq -c '[.events[11:][] | [.type, .step, .attempt]]' hist.json)" \
  '[["step.rerun_requested","s3",null],["step.started","s3",2],["step.completed","s3",2],["step.evaluated","s3",2],["run.output_recomputed",null,null]]'
eq "the request records the override and the stale step" \
  "$(jq -c '.events[] | select(.type == "step.rerun_requested")
            | [.meta.overrides, .meta.with.prompt, .details]' hist.json)" \
  '[["prompt:s3=Polish thoroughly: {{ .steps.s2.output.text }}"],"Polish thoroughly: {{ .steps.s2.output.text }}",["s4"]]'
eq "run.output_recomputed carries the new output" \
  "$(jq -c '.events[] | select(.type == "run.output_recomputed") | .output' \
       hist.json)" \
  "$(jq -nc --arg e "$T3B" --arg t "$T4" '{essay: $e, title: $t}')"
expect_exit 0 "cairn result" C --format json result essay-1
eq "the result is the recomputed output; s4's title is the stale one" \
  "$(jq -c '[.status, .output]' out)" \
  "$(jq -nc --arg e "$T3B" --arg t "$T4" '["completed", {essay: $e, title: $t}]')"

# ---------------------------------------------------------------- 2. replay
C --format json show essay-1 >before_replay.json
C --format json history essay-1 >before_replay.history
seen=$(requests | jq length)
expect_exit 0 "a replay with s2 on another provider" \
  C --format json replay essay-1 --model s2=anthropic:claude-haiku \
    --reason "try haiku for drafts"
cp out replay.out
replay=$(jq -r .run_id replay.out)
eq "the replay is a new run of the same workflow" \
  "$(jq -c '[.kind, .parent_run_id == "'"$run"'", .run_id != "'"$run"'",
             .workflow_id, .status]' replay.out)" \
  '["replay",true,true,"essay-1","completed"]'
eq "its four calls: s2's went to the Anthropic endpoint" \
  "$(requests "$seen" | jq -c '[.[] | "\(.path) \(.body.model)"]')" \
  '["/v1/chat/completions gpt-4o-mini","/v1/messages claude-haiku","/v1/messages claude-sonnet-4-5","/v1/chat/completions gpt-4o-mini"]'
eq "... with the Anthropic key and version, and no bearer key" \
  "$(requests "$seen" | jq -c '.[1] | [.x_api_key, .anthropic_version,
                                       .authorization, .body.max_tokens]')" \
  "[\"$ANTHROPIC_KEY\",\"2023-06-01\",\"\",1024]"
C --format json show "$replay" >replay.json
eq "the replay records s2's new model; the others keep theirs" \
  "$(jq -c '[.steps[].attempts[-1] | .llm.model, .output.model]' replay.json)" \
  '["openai:gpt-4o-mini","openai:gpt-4o-mini","anthropic:claude-haiku","anthropic:claude-haiku","anthropic:claude-sonnet-4-5","anthropic:claude-sonnet-4-5","openai:gpt-4o-mini","openai:gpt-4o-mini"]'
eq "every step ran again, once" \
  "$(jq -c '[.steps[] | [.reused, (.attempts | length)]]' replay.json)" \
  '[[false,1],[false,1],[false,1],[false,1]]'
eq "s2 got the same prompt and the other model answered it" \
  "$(jq -c '.steps[1].attempts[0] | [.llm.prompt, .output.text,
                                      .output.finish_reason]' replay.json)" \
  "$(jq -nc --arg p "Draft from: $T1" \
       '[$p, "claude-haiku says: \($p)", "end_turn"]')"
eq "s3 replays with the prompt its rerun recorded, not the definition's" \
  "$(jq -r '.steps[2].attempts[0].llm.prompt' replay.json)" \
  "Polish thoroughly: $(jq -r '.steps[1].attempts[0].output.text' replay.json)"
eq "the origin records the override and the reason" \
  "$(C --format json history "$replay" |
     jq -c '.events[0].origin | [.kind, .overrides, .parent_run_id == "'"$run"'"]')" \
  '["replay",["model:s2=anthropic:claude-haiku"],true]'
eq "the workflow's current run is still the original" \
  "$(C --format json status essay-1 | jq -r .run_id)" "$run"
check "the original's trace is untouched" \
  cmp -s before_replay.json <(C --format json show "$run")
check "the original's history is untouched" \
  cmp -s before_replay.history <(C --format json history "$run")

# -------------------------------------------------------------- 3. backtest
# A summary step with max_tokens 12. The answer has 2 words ("gpt-4o-mini
# says:") plus the prompt's; an answer cut at max_tokens scores 0, one
# citing its source 1, another 0.5 (a pass: --pass-score is 0.5).
#   before: "Write a short summary of TITLE": 7 + t words, cut if t > 5
#   after:  "Summarize TITLE citing SOURCE":  4 + t + s words, cut if
#           t + s > 8
cat >digest.json <<'EOF'
{ "name": "digest",
  "steps": [
    { "name": "summary", "kind": "llm",
      "check": "if .output.finish_reason != \"stop\" then 0 elif (.output.text | test(\"citing\")) then 1 else 0.5 end",
      "with": { "model": "openai:gpt-4o-mini", "max_tokens": 12,
                "prompt": "Write a short summary of {{ .input.title }}" } } ],
  "output": "{{ .steps.summary.output.text }}" }
EOF
# digest-N: TITLE | SOURCE. digest-0 is the oldest, left out by --last 10
# (it would regress too); digest-5 and -6 are cut before and pass after;
# digest-9's long source makes the one regression.
i=0
while IFS='|' read -r title source; do
  expect_exit 0 "digest-$i runs" C run digest.json --id "digest-$i" \
    --input "$(jq -nc --arg t "$title" --arg s "$source" \
                 '{title: $t, source: $s}')"
  i=$((i + 1))
done <<'EOF'
moss|an old and very long survey of Scottish hill walkers
cairns|Wikipedia
moss on granite|a field guide
trail markers|the park service
stone stacking etiquette|a blog
the long history of Scottish cairns|a museum
why hikers build small stone piles|a survey
alpine huts|the alpine club
lichens|a botanist
rock balance|an interview with a well known artist
summit registers|a log book
EOF
wf() { # wf N: digest-N's run id
  C --format json status "digest-$1" | jq -r .run_id
}
C --format json show digest-5 >cut.json
eq "a long title's answer is cut at 12 words before" \
  "$(jq -c '.steps[0].attempts[0] | [.output.finish_reason,
        (.output.text | split(" ") | length), .output.usage.output_tokens,
        .score]' cut.json)" '["length",12,12,0]'
seen=$(requests | jq length)
NEW='summary=Summarize {{ .input.title }} citing {{ .input.source }}'
expect_exit 0 "a backtest of a new prompt over the last 10 runs" \
  C --format json backtest --workflow digest --last 10 --prompt "$NEW"
cp out bt.json
eq "the last ten runs, newest first" \
  "$(jq -c '[.runs[].workflow_id]' bt.json)" \
  '["digest-10","digest-9","digest-8","digest-7","digest-6","digest-5","digest-4","digest-3","digest-2","digest-1"]'
eq "scores before" "$(jq -c '[.runs[].before.score]' bt.json)" \
  '[0.5,0.5,0.5,0.5,0,0,0.5,0.5,0.5,0.5]'
eq "scores after" "$(jq -c '[.runs[].after.score]' bt.json)" \
  '[1,0,1,1,1,1,1,1,1,1]'
eq "every run completed, before and after" \
  "$(jq -c '[.runs[] | .before.status, .after.status] | unique' bt.json)" \
  '["completed"]'
eq "the mean improves" \
  "$(jq -c '.summary | [.mean_before, .mean_after]' bt.json)" '[0.4,0.9]'
eq "standard deviations" \
  "$(jq -c '.summary | [.stddev_before, .stddev_after]' bt.json)" '[0.2,0.3]'
eq "passed before and after, no failures" \
  "$(jq -c '.summary | [.passed_before, .passed_after, .failures_before,
                        .failures_after]' bt.json)" '[8,9,0,0]'
eq "exactly one regression: digest-9" \
  "$(jq -c .summary.regressions bt.json)" "[\"$(wf 9)\"]"
eq "two improvements: the runs cut before" \
  "$(jq -c .summary.improvements bt.json)" "[\"$(wf 6)\",\"$(wf 5)\"]"
eq "ten model calls, all with the new prompt" \
  "$(requests "$seen" |
     jq -c '[length, (map(.body.messages[-1].content | test(" citing "))
                      | all)]')" '[10,true]'
r9=$(jq -r '.runs[1].replay_run_id' bt.json)
C --format json show "$r9" >r9.json
eq "the regressed replay: its answer was cut, scored 0" \
  "$(jq -c '.steps[0].attempts[0] | [.llm.prompt, .output.finish_reason,
                                     .output.text, .score]' r9.json)" \
  '["Summarize rock balance citing an interview with a well known artist","length","gpt-4o-mini says: Summarize rock balance citing an interview with a well known",0]'
eq "it is a replay with reason backtest" \
  "$(jq -c '[.origin.kind, .origin.reason, .origin.parent_run_id]' r9.json)" \
  "[\"replay\",\"backtest\",\"$(wf 9)\"]"
eq "the source runs are untouched" \
  "$(C --format json result digest-9 | jq -r .output)" \
  "gpt-4o-mini says: Write a short summary of rock balance"
# The same backtest as the table people read.
expect_exit 0 "the backtest as text" \
  C backtest --workflow digest --last 10 --prompt "$NEW" --concurrency 2
check "the mean rises by 0.5" grep -Eq '^mean score +0\.400 +0\.900 +\(\+0\.500\)' out
eq "one row marked REGRESSED, digest-9's" \
  "$(grep REGRESSED out | cut -d' ' -f1)" "$(wf 9)"
check "one regression" grep -q '^regressions: 1 ' out
check "two improvements" grep -q '^improvements: 2 ' out

kill "$srv"
wait "$srv" 2>/dev/null
finish
