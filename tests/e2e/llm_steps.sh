#!/usr/bin/env bash
# llm_steps.sh — end-to-end: llm steps run by the real `cairn` binary
# against a scripted local model server (helpers/llm_server.c) speaking
# the OpenAI and Anthropic formats, checked through `cairn run`, `show`
# and `history` in JSON, the server's request log, and the journal's
# files (the API key must be nowhere).
#   usage: llm_steps.sh CAIRN LLM_SERVER
set -uo pipefail
CAIRN=$(realpath "$1")
SERVER=$(realpath "$2")
. "$(dirname "$0")/lib.sh"

KEY=sk-test-e2e-Zq9Xv7Lr4Mn2Pw8K
export LLM_SERVER_KEY=$KEY
start_server "$SERVER" "the model server"
export CAIRN_HOME=$tmp/journal
export OPENAI_BASE_URL=http://127.0.0.1:$port/v1
export ANTHROPIC_BASE_URL=http://127.0.0.1:$port/v1/
export OPENAI_API_KEY=$KEY ANTHROPIC_API_KEY=$KEY
mkdir -p "$CAIRN_HOME" "$tmp/defs/prompts"
cat >"$CAIRN_HOME/config.json" <<'EOF'
{ "llm": {
    "policy": { "allowed_models": ["openai:gpt-4o-mini", "anthropic:*"] },
    "prices": { "openai:gpt-4o-mini": { "input_per_mtok": 0.15,
                                        "output_per_mtok": 0.6 } } } }
EOF

# flow NAME EXIT STEPS_JSON [INPUT]: runs a workflow of these steps; the
# result in $tmp/NAME.out and .err, the trace in $tmp/NAME.show, the
# history in $tmp/NAME.history.
flow() {
  local name=$1 want=$2 steps=$3 input=${4:-null}
  echo "{\"name\": \"$name\", \"steps\": $steps}" >"$tmp/defs/$name.json"
  flow_run "$name" "$want" "$tmp/defs/$name.json" "$input"
}
# one NAME EXIT WITH_JSON [STEP_EXTRA]: a workflow of one llm step "s".
one() {
  flow "$1" "$2" "[{\"name\": \"s\", \"kind\": \"llm\", \"with\": $3 ${4:-}}]"
}

# --- a chain: openai -> anthropic -> openai (json), templates between,
# the first prompt from a file next to the definition
printf 'Greet {{ .input.who }} warmly\n' >"$tmp/defs/prompts/greet.txt"
flow chain 0 '[
  {"name": "greet", "kind": "llm",
   "with": {"model": "openai:gpt-4o-mini", "prompt": "@prompts/greet.txt",
            "system": "You are terse.", "temperature": 0.2,
            "max_tokens": 64}},
  {"name": "critique", "kind": "llm",
   "with": {"model": "anthropic:claude-sonnet-4-5",
            "prompt": "Critique: {{ .steps.greet.output.text }}"}},
  {"name": "score", "kind": "llm",
   "with": {"model": "openai:gpt-4o-mini", "json": true,
            "prompt": "#json Score: {{ .steps.critique.output.text }}"}}]' \
  '{"who": "Ada"}'
S=$tmp/chain.show
is "the prompt file is rendered as a template" "$S" \
  '.steps[0].attempts[0].llm.prompt' "Greet Ada warmly"
is "the system text is recorded" "$S" '.steps[0].attempts[0].llm.system' \
  "You are terse."
is "openai answers" "$S" '.steps[0].attempts[0].output.text' \
  "gpt-4o-mini says: Greet Ada warmly"
is "the next prompt is made from it" "$S" \
  '.steps[1].attempts[0].llm.prompt' \
  "Critique: gpt-4o-mini says: Greet Ada warmly"
is "anthropic answers" "$S" '.steps[1].attempts[0].output.text' \
  "claude-sonnet-4-5 says: Critique: gpt-4o-mini says: Greet Ada warmly"
is "the model is recorded as written" "$S" \
  '[.steps[].attempts[0].llm.model] | join(",")' \
  "openai:gpt-4o-mini,anthropic:claude-sonnet-4-5,openai:gpt-4o-mini"
is "token counts are recorded (words, by the server)" "$S" \
  '[.steps[0].attempts[0].llm | .input_tokens, .output_tokens] | join(",")' \
  "6,5"
is "the output carries usage" "$S" \
  '.steps[1].attempts[0].output.usage | "\(.input_tokens),\(.output_tokens)"' \
  "6,8"
is "the cost follows the configured price" "$S" \
  '.steps[0].attempts[0].llm.cost_usd * 1e9 | round' "3900"
is "a model without a price has no cost" "$S" \
  '.steps[1].attempts[0].llm.cost_usd' "null"
is "finish reasons are recorded" "$S" \
  '[.steps[].attempts[0].llm.finish_reason] | join(",")' \
  "stop,end_turn,stop"
is "request ids come from the response headers" "$S" \
  '[.steps[].attempts[0].llm.request_id] | join(",")' "req-1,req-2,req-3"
is "json: true parses the answer" "$S" \
  '.steps[2].attempts[0].output.json.model' \
  "gpt-4o-mini"
is "the run's output is the last step's" "$tmp/chain.out" '.output.json.words' \
  "10"
is "step.completed's meta holds provider, model and usage" \
  "$tmp/chain.history" \
  '[.events[] | select(.type == "step.completed") | .meta
    | "\(.provider)/\(.model)/\(.usage.input_tokens)"] | join(",")' \
  "openai/gpt-4o-mini/6,anthropic/claude-sonnet-4-5/6,openai/gpt-4o-mini/10"
"$CAIRN" show chain >"$tmp/chain.txt" 2>&1
check "show prints model, tokens and cost" \
  grep -q "model  openai:gpt-4o-mini  tokens 6 in / 5 out  cost \$0.000004" \
  "$tmp/chain.txt"
check "show prints the prompt" grep -q "prompt Greet Ada warmly" \
  "$tmp/chain.txt"
curl -s "http://127.0.0.1:$port/requests" >"$tmp/requests.json"
R=$tmp/requests.json
is "openai gets a bearer key" "$R" '.[0].authorization' "Bearer $KEY"
is "openai gets system and user messages" "$R" \
  '[.[0].body.messages[].role] | join(",")' "system,user"
is "openai gets temperature and max_tokens" "$R" \
  '"\(.[0].body.temperature),\(.[0].body.max_tokens)"' "0.2,64"
is "anthropic gets x-api-key and its version" "$R" \
  '"\(.[1].x_api_key),\(.[1].anthropic_version)"' "$KEY,2023-06-01"
is "anthropic gets max_tokens 1024 by default" "$R" \
  '.[1].body.max_tokens' "1024"
is "json: true asks openai for a JSON object" "$R" \
  '.[2].body.response_format.type' "json_object"
check "the definition snapshot holds the prompt file's text" \
  bash -c "'$CAIRN' workflow show chain |
           grep -q 'Greet {{ .input.who }} warmly'"

# --- 429 with Retry-After: 1 is retried after at least a second
one rate 0 '{"model": "openai:gpt-4o-mini", "prompt": "#429 rate"}'
is "429 is retried once" "$tmp/rate.show" '.steps[0].attempts | length' "2"
is "the first attempt failed with its status" "$tmp/rate.show" \
  '.steps[0].attempts[0].error | "\(.code),\(.details.status),\(.retryable)"' \
  "http_status,429,true"
is "the retry waits the Retry-After" "$tmp/rate.history" \
  '[.events[] | select(.type == "step.retry_scheduled") | .delay_ms >= 1000]
   | join(",")' "true"

# --- 500 twice, then an answer: retried without a policy
one flaky 0 '{"model": "anthropic:claude-haiku", "prompt": "#500 flaky"}'
is "5xx is retried until it answers" "$tmp/flaky.show" \
  '[.steps[0].attempts[].status] | join(",")' "failed,failed,completed"

# --- a 200 that is not JSON fails at once with bad_response
one malformed 7 '{"model": "openai:gpt-4o-mini", "prompt": "#malformed"}'
is "a malformed answer is bad_response, not retried" "$tmp/malformed.show" \
  '.steps[0].attempts
   | "\(length),\(.[0].error.code),\(.[0].error.retryable)"' \
  "1,bad_response,false"
is "its body is in the details" "$tmp/malformed.show" \
  '.steps[0].attempts[0].error.details.body' "<html>not json</html>"
one missing 7 '{"model": "openai:gpt-4o-mini", "prompt": "#missing"}'
is "an answer without text is bad_response" "$tmp/missing.show" \
  '.steps[0].attempts[0].error.code' "bad_response"

# --- an answer slower than timeout_ms
one slow 7 '{"model": "openai:gpt-4o-mini", "prompt": "#slow"}' \
  ', "timeout_ms": 400, "retry": {"max_attempts": 1}'
is "a slow answer times out" "$tmp/slow.show" \
  '.steps[0].attempts[0].error.code' "timeout"

# --- json: true and an answer that is not JSON
one notjson 7 '{"model": "openai:gpt-4o-mini", "prompt": "plain", "json": true}'
is "text that is not JSON fails with bad_json, not retried" \
  "$tmp/notjson.show" \
  '.steps[0].attempts
   | "\(length),\(.[0].error.code),\(.[0].error.retryable)"' \
  "1,bad_json,false"
is "its text and tokens are kept" "$tmp/notjson.show" \
  '.steps[0].attempts[0] | "\(.error.details.text),\(.llm.output_tokens)"' \
  "gpt-4o-mini says: plain,3"
one fenced 0 \
  '{"model": "anthropic:claude-haiku", "prompt": "#fenced", "json": true}'
is "a fenced JSON answer parses" "$tmp/fenced.show" \
  '.steps[0].attempts[0].output.json.model' "claude-haiku"

# --- the policy: forbidden models never start (exit 5)
one forbidden 5 '{"model": "openai:gpt-4o", "prompt": "hi"}'
check "the refusal names the model" grep -q "openai:gpt-4o is forbidden" \
  "$tmp/forbidden.err"
check "the refusal names the policy" grep -q "allowed_models" \
  "$tmp/forbidden.err"
check "a forbidden run is not created" \
  bash -c "! '$CAIRN' status forbidden >/dev/null 2>&1"
flow templated 7 '[{"name": "s", "kind": "llm",
  "with": {"model": "{{ .input.m }}", "prompt": "hi"}}]' \
  '{"m": "openai:o1-preview"}'
is "a templated model is checked when the step starts" "$tmp/templated.show" \
  '.steps[0].attempts
   | "\(length),\(.[0].error.code),\(.[0].error.retryable)"' \
  "1,forbidden,false"
"$CAIRN" rerun chain --from-step score --model score=openai:gpt-4o \
  >"$tmp/rerun.out" 2>"$tmp/rerun.err"
eq "a rerun on a forbidden model is refused" "$?" "5"
check "the rerun's refusal names the model" grep -q "openai:gpt-4o" \
  "$tmp/rerun.err"
"$CAIRN" rerun chain --step critique --model critique=openai:o3 \
  >/dev/null 2>"$tmp/rerun1.err"
eq "a single-step rerun on a forbidden model is refused" "$?" "5"
check "it names the step and the model" \
  grep -q "step critique: model openai:o3 is forbidden" "$tmp/rerun1.err"
"$CAIRN" rerun chain --from-step score --model score=anthropic:claude-haiku \
  --reason "another model" --format json >"$tmp/rerun2.out" \
  2>"$tmp/rerun2.err"
eq "a rerun on an allowed model runs" "$?" "0"
"$CAIRN" show chain --format json >"$tmp/rerun2.show" 2>&1
is "the rerun reuses the earlier steps and calls the new model" \
  "$tmp/rerun2.show" \
  '[.steps[] | "\(.reused)/\(.attempts[-1].llm.model)"] | join(",")' \
  "true/null,true/null,false/anthropic:claude-haiku"
mkdir -p "$tmp/blocked"
echo '{"llm": {"policy": {"blocked_providers": ["anthropic"]}}}' \
  >"$tmp/blocked/config.json"
CAIRN_HOME=$tmp/blocked "$CAIRN" run "$tmp/defs/flaky.json" \
  >/dev/null 2>"$tmp/blocked.err"
eq "a blocked provider is forbidden" "$?" "5"
check "the refusal names the blocked provider" \
  grep -q "provider anthropic is in llm.policy.blocked_providers" \
  "$tmp/blocked.err"

# --- definitions: prompt files and fields are checked before running
echo '{"name": "nofile", "steps": [{"name": "s", "kind": "llm",
  "with": {"model": "openai:gpt-4o-mini", "prompt": "@nope.txt"}}]}' \
  >"$tmp/defs/nofile.json"
"$CAIRN" run "$tmp/defs/nofile.json" >/dev/null 2>"$tmp/nofile.err"
eq "a missing prompt file is a usage error" "$?" "2"
check "it names the step and the path" grep -q "step s: with.prompt.*nope.txt" \
  "$tmp/nofile.err"
one typo 2 '{"model": "openai:gpt-4o-mini", "prompt": "x", "temprature": 1}'
check "unknown fields are refused" grep -q "with.temprature: unknown field" \
  "$tmp/typo.err"

# --- the key is nowhere: not in the journal, show or history, even when
# the server echoes it
one echo 0 '{"model": "openai:gpt-4o-mini", "prompt": "#echo-key"}'
is "an echoed key is scrubbed from the output" "$tmp/echo.show" \
  '.steps[0].attempts[0].output.text' "I was given the key [redacted]"
one badkey 7 '{"model": "anthropic:claude-haiku", "prompt": "#401"}'
is "a 401 quoting the key is recorded without it" "$tmp/badkey.show" \
  '.steps[0].attempts[0].error.message | contains("[redacted]")' "true"
for f in "$CAIRN_HOME"/*.mdb; do
  eq "the key is not in $(basename "$f")" "$(grep -c "$KEY" "$f")" "0"
done
"$CAIRN" show badkey >>"$tmp/all.txt" 2>&1
"$CAIRN" show echo >>"$tmp/all.txt" 2>&1
cat "$tmp"/*.show "$tmp"/*.history "$tmp"/*.err >>"$tmp/all.txt"
eq "the key is in no show or history output" \
  "$(grep -c "$KEY" "$tmp/all.txt")" "0"

stop_server
finish
