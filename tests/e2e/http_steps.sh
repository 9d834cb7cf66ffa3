#!/usr/bin/env bash
# http_steps.sh — end-to-end: http steps run by the real `cairn` binary
# against a scripted local server (helpers/http_server.c), checked through
# `cairn run`, `cairn show` and `cairn history` in JSON.
#   usage: http_steps.sh CAIRN HTTP_SERVER
set -uo pipefail
CAIRN=$(realpath "$1")
SERVER=$(realpath "$2")
. "$(dirname "$0")/lib.sh"

start_server "$SERVER" "the test server"
export CAIRN_HOME=$tmp/journal

# flow NAME EXIT STEP_JSON...: a workflow of these steps, run with
# {"base": URL} as input; the result in $tmp/NAME.out, the trace in
# $tmp/NAME.show, the history in $tmp/NAME.history.
flow() {
  local name=$1 want=$2
  shift 2
  local steps
  steps=$(IFS=,; echo "$*")
  echo "{\"name\": \"$name\", \"steps\": [$steps]}" >"$tmp/$name.json"
  flow_run "$name" "$want" "$tmp/$name.json" "{\"base\": \"$base\"}"
}

# ---------------------------------------------------------- successes

flow get 0 '{"name": "get", "kind": "http",
             "with": {"url": "{{ .input.base }}/json"}}'
is "GET answers 200" "$tmp/get.out" .output.status 200
is "a JSON body is parsed" "$tmp/get.out" '.output.body | type' object
is "the method defaults to GET" "$tmp/get.out" .output.body.method GET
is "response header names are lowercased" "$tmp/get.out" \
  '.output.headers["x-test-server"]' cairn
is "the content type is reported" "$tmp/get.out" \
  '.output.headers["content-type"]' application/json
is "GET sends no body" "$tmp/get.out" .output.body.body ""
is "curl's Expect header is not sent" "$tmp/get.out" \
  '.output.body.headers | has("expect")' false
run_id=$(jq -r .run_id "$tmp/get.out")
is "GET carries Idempotency-Key run:step" "$tmp/get.out" \
  .output.body.idempotency_key "$run_id:get"

flow text 0 '{"name": "t", "kind": "http",
              "with": {"url": "{{ .input.base }}/text"}}'
is "a text body stays text" "$tmp/text.out" .output.body \
  "hello from the test server"

flow post 0 '{"name": "send", "kind": "http",
              "with": {"url": "{{ .input.base }}/json",
                       "headers": {"X-Trace": "t-1"},
                       "body": {"lead": "{{ .input.base }}", "n": [1, 2]}}}'
is "a body without a method makes a POST" "$tmp/post.out" \
  .output.body.method POST
is "a JSON body is sent as compact JSON" "$tmp/post.out" \
  .output.body.body "{\"lead\":\"$base\",\"n\":[1,2]}"
is "a JSON body is sent as application/json" "$tmp/post.out" \
  .output.body.content_type application/json
is "with.headers are sent" "$tmp/post.out" '.output.body.headers["x-trace"]' \
  t-1
run_id=$(jq -r .run_id "$tmp/post.out")
is "POST carries Idempotency-Key run:step" "$tmp/post.out" \
  .output.body.idempotency_key "$run_id:send"

flow put 0 '{"name": "put", "kind": "http",
             "with": {"url": "{{ .input.base }}/json", "method": "PUT",
                      "body": "plain words"}}' \
  '{"name": "typed", "kind": "http",
    "with": {"url": "{{ .input.base }}/json", "method": "PATCH",
             "headers": {"content-type": "application/xml"},
             "body": "<a/>"}}' \
  '{"name": "empty", "kind": "http",
    "with": {"url": "{{ .input.base }}/json", "method": "POST"}}'
is "a string body is sent as is" "$tmp/put.show" \
  '.steps[0].attempts[0].output.body.body' "plain words"
is "a string body is sent as text/plain" "$tmp/put.show" \
  '.steps[0].attempts[0].output.body.content_type' \
  "text/plain; charset=utf-8"
is "the method is used" "$tmp/put.show" \
  '.steps[0].attempts[0].output.body.method' PUT
is "a Content-Type header wins" "$tmp/put.show" \
  '.steps[1].attempts[0].output.body.content_type' application/xml
is "a POST without a body sends none, with no form type" "$tmp/put.out" \
  '[.output.body.method, .output.body.body, .output.body.content_type,
    .output.body.headers["content-length"]] | @csv' '"POST","",,"0"'

flow own_key 0 '{"name": "k", "kind": "http",
  "with": {"url": "{{ .input.base }}/json",
           "headers": {"idempotency-key": "{{ .run.id }}-charge"}}}'
run_id=$(jq -r .run_id "$tmp/own_key.out")
is "an Idempotency-Key in with.headers replaces cairn's" "$tmp/own_key.out" \
  '[.output.body.headers | to_entries[] | select(.key == "idempotency-key")
    | .value] | join(" ")' "$run_id-charge"

flow head 0 '{"name": "h", "kind": "http",
              "with": {"url": "{{ .input.base }}/json", "method": "HEAD"}}'
is "HEAD answers with headers and an empty body" "$tmp/head.out" \
  '[.output.status, .output.body, .output.headers["x-test-server"]] | @csv' \
  '200,"","cairn"'

flow binary 0 '{"name": "b", "kind": "http",
                "with": {"url": "{{ .input.base }}/binary"}}'
is "a body that is not UTF-8 is given in base64" "$tmp/binary.out" \
  '[.output.body, .output.body_base64] | @csv' ',"AP8QgA=="'

flow redirect 0 '{"name": "r", "kind": "http",
                  "with": {"url": "{{ .input.base }}/redirect?to=/text"}}'
is "GET follows a redirect" "$tmp/redirect.out" .output.body \
  "hello from the test server"

flow expect 0 '{"name": "gone", "kind": "http",
                "with": {"url": "{{ .input.base }}/status/404",
                         "expect_status": [404, 410]}}'
is "expect_status [404] makes a 404 a success" "$tmp/expect.out" \
  '[.status, .output.status, .output.body] | @csv' \
  '"completed",404,"status 404"'

# ------------------------------------------------------------ retries

flow flaky 0 '{"name": "flaky", "kind": "http",
               "with": {"url": "{{ .input.base }}/flaky", "method": "POST",
                        "body": {"x": 1}}}'
is "/flaky succeeds on the 3rd attempt without a retry policy" \
  "$tmp/flaky.out" .output.body.attempt 3
run_id=$(jq -r .run_id "$tmp/flaky.out")
is "every attempt sent the same Idempotency-Key" "$tmp/flaky.out" \
  .output.body.idempotency_key "$run_id:flaky"
is "show lists three attempts: failed, failed, completed" "$tmp/flaky.show" \
  '[.steps[0].attempts[].status] | join(",")' "failed,failed,completed"
is "a 503 fails with http_status, retryable, with the status" \
  "$tmp/flaky.show" \
  '.steps[0].attempts[0].error | [.code, .retryable, .details.status] | @csv' \
  '"http_status",true,503'
is "a failure's details carry the response body" "$tmp/flaky.show" \
  '.steps[0].attempts[1].error.details.body' "busy, try again"
is "history has 2 step.failed and 2 step.retry_scheduled" "$tmp/flaky.history" \
  '[.events[].type | select(. == "step.failed" or
                             . == "step.retry_scheduled")] | length' 4

flow notfound 7 '{"name": "nf", "kind": "http",
                  "with": {"url": "{{ .input.base }}/status/404?token=SECRET"}}'
is "a 404 fails the run" "$tmp/notfound.out" .status failed
is "a 404 is not retried" "$tmp/notfound.show" '.steps[0].attempts | length' 1
is "a 404 fails with http_status, not retryable" "$tmp/notfound.show" \
  '.steps[0].attempts[0].error | [.code, .retryable] | @csv' \
  '"http_status",false'
check "the message names the URL and what to do" \
  grep -q "GET $base/status/404?... answered 404; check the URL" \
  "$tmp/notfound.show"
jq -r '.steps[0].attempts[0].error.message' "$tmp/notfound.show" \
  >"$tmp/notfound.msgs"
jq -r '.error.message' "$tmp/notfound.out" >>"$tmp/notfound.msgs"
check "messages leave out the query string" \
  bash -c "! grep -q SECRET '$tmp/notfound.msgs'"

flow limited 7 '{"name": "lim", "kind": "http",
                 "retry": {"max_attempts": 2, "initial_delay_ms": 10},
                 "with": {"url": "{{ .input.base }}/status/429"}}'
is "a 429 is retried" "$tmp/limited.show" '.steps[0].attempts | length' 2
is "a 429's Retry-After is in the details" "$tmp/limited.show" \
  '.steps[0].attempts[0].error.details.retry_after' 1

flow posted_redirect 7 '{"name": "pr", "kind": "http",
                         "with": {"url": "{{ .input.base }}/redirect",
                                  "method": "POST", "body": "x"}}'
is "a POST does not follow a redirect, nor retries it" \
  "$tmp/posted_redirect.show" \
  '.steps[0].attempts | [length, .[0].error.details.status] | @csv' 1,302

start=$(date +%s%N)
flow timeout 7 '{"name": "slow", "kind": "http", "timeout_ms": 300,
                 "retry": {"max_attempts": 2, "initial_delay_ms": 10},
                 "with": {"url": "{{ .input.base }}/slow?ms=5000"}}'
ms=$((($(date +%s%N) - start) / 1000000))
is "passing timeout_ms fails with code timeout, retryable" "$tmp/timeout.show" \
  '.steps[0].attempts[] | [.error.code, .error.retryable] | @csv' \
  "$(printf '"timeout",true\n"timeout",true')"
check "two 300 ms attempts take well under the server's 5 s ($ms ms)" \
  test "$ms" -lt 3000

# The port of a second server, stopped: nothing listens there now.
"$SERVER" >"$tmp/port2" 2>/dev/null &
srv2=$!
for _ in $(seq 100); do
  [ -s "$tmp/port2" ] && break
  sleep 0.05
done
kill "$srv2"
wait "$srv2"
closed=$(head -1 "$tmp/port2")
cat >"$tmp/refused.json" <<EOF
{"name": "refused", "steps": [{"name": "call", "kind": "http",
  "with": {"url": "http://127.0.0.1:$closed/json"}}]}
EOF
"$CAIRN" run "$tmp/refused.json" --id refused --format json \
  >"$tmp/refused.out" 2>"$tmp/refused.err"
check "a refused connection fails the run (exit 7)" test $? -eq 7
"$CAIRN" show refused --format json >"$tmp/refused.show"
is "a refused connection fails retryable attempts" "$tmp/refused.show" \
  '[.steps[0].attempts[].error | [.code, .retryable] | @csv] | unique[]' \
  '"http_error",true'
is "a refused connection makes 4 attempts" "$tmp/refused.show" \
  '.steps[0].attempts | length' 4
check "a refused connection says which URL and what to do" \
  grep -q "GET http://127.0.0.1:$closed/json failed: .*check that the \
service is running" "$tmp/refused.out"

# ------------------------------------------------------------- limits

flow big 7 '{"name": "big", "kind": "http",
             "with": {"url": "{{ .input.base }}/big?bytes=17000000"}}'
is "a Content-Length over 16 MiB fails output_too_large, once" \
  "$tmp/big.show" '.steps[0].attempts | [length, .[0].error.code] | @csv' \
  '1,"output_too_large"'
flow big_chunked 7 '{"name": "big", "kind": "http",
  "with": {"url": "{{ .input.base }}/big?bytes=17000000&chunked=1"}}'
is "a body without a length fails output_too_large past 16 MiB" \
  "$tmp/big_chunked.show" '.steps[0].attempts[0].error.code' \
  output_too_large
flow big_ok 0 '{"name": "b", "kind": "http",
  "with": {"url": "{{ .input.base }}/big?bytes=1000000&chunked=1"}}'
is "a body under the limit is kept whole" "$tmp/big_ok.out" \
  '.output.body | length' 1000000

cat >"$tmp/bad.json" <<'EOF'
{"name": "bad", "steps": [{"name": "call", "kind": "http",
  "with": {"url": "{{ .input.base }}/json", "method": "{{ .input.m }}"}}]}
EOF
"$CAIRN" run "$tmp/bad.json" --id bad --format json \
  --input "{\"base\": \"$base\", \"m\": \"FETCH\"}" >"$tmp/bad.out" 2>&1
check "a rendered method that is not one fails the run" test $? -eq 7
"$CAIRN" show bad --format json >"$tmp/bad.show"
is "a bad rendered input fails with input_error, once" "$tmp/bad.show" \
  '.steps[0].attempts | [length, .[0].error.code] | @csv' '1,"input_error"'

# --------------------------------------------------------- cancelling

wait_running() { # wait_running ID: until its first step runs
  for _ in $(seq 200); do
    "$CAIRN" show "$1" --format json 2>/dev/null |
      jq -e '.steps[0].status == "running"' >/dev/null && return
    sleep 0.05
  done
}

cat >"$tmp/cancel.json" <<'EOF'
{"name": "cancel", "steps": [{"name": "wait", "kind": "http",
  "with": {"url": "{{ .input.base }}/slow?ms=8000"}}]}
EOF
"$CAIRN" run "$tmp/cancel.json" --id cancelme --format json \
  --input "{\"base\": \"$base\"}" >"$tmp/cancel.out" 2>&1 &
runner=$!
wait_running cancelme
start=$(date +%s%N)
"$CAIRN" cancel cancelme --reason "test" >/dev/null 2>&1
wait "$runner"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
check "a cancelled run ends (exit 7)" test "$rc" -eq 7
check "cancelling stops the request at once ($ms ms)" test "$ms" -lt 3000
is "the run is cancelled" "$tmp/cancel.out" .status cancelled

# SIGTERM: the process lets go at once (its request closed, memory
# freed), and a worker resumes the run with a new attempt.
cat >"$tmp/resume.json" <<'EOF'
{"name": "resume", "steps": [{"name": "wait", "kind": "http",
  "with": {"url": "{{ .input.base }}/slow?ms=1500"}}]}
EOF
"$CAIRN" run "$tmp/resume.json" --id resume --format json \
  --input "{\"base\": \"$base\"}" >"$tmp/resume.out" 2>&1 &
runner=$!
wait_running resume
start=$(date +%s%N)
kill -TERM "$runner"
wait "$runner"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
check "SIGTERM during a request leaves the run running (exit 4)" \
  test "$rc" -eq 4
check "SIGTERM stops the request at once ($ms ms)" test "$ms" -lt 1000
"$CAIRN" worker --drain >"$tmp/worker.out" 2>&1
check "a worker resumes the run" test $? -eq 0
"$CAIRN" show resume --format json >"$tmp/resume.show"
is "the interrupted attempt is abandoned, the next one completes" \
  "$tmp/resume.show" '[.status, .steps[0].attempts[].status] | join(",")' \
  "completed,abandoned,completed"

curl -s "$base/count" >"$tmp/count.json"
is "the server saw /flaky three times" "$tmp/count.json" '.["/flaky"]' 3
is "the server saw /status/404 twice: once per run, never again" \
  "$tmp/count.json" '.["/status/404"]' 2

stop_server
check "the server stops cleanly on SIGTERM: $(cat "$tmp/server.err")" \
  test "$srv_rc" -eq 0
finish
