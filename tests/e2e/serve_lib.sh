# serve_lib.sh — helpers for the end-to-end tests of `cairn serve`,
# sourced after lib.sh and use_cairn: start and stop the real server on a
# free port of 127.0.0.1, send requests with curl, check their answers.

# serve [ARGS...]: starts `cairn serve --listen 127.0.0.1:0 ARGS` on the
# journal, waits for its "listening on" line; sets $api and $serve_pid.
serve_pid=""
serve() {
  "$CAIRN" serve --listen 127.0.0.1:0 --quiet "$@" >"$tmp/serve.out" \
    2>"$tmp/serve.err" &
  serve_pid=$!
  pids+=("$serve_pid")
  for _ in $(seq 200); do
    grep -q "listening on" "$tmp/serve.out" 2>/dev/null && break
    sleep 0.05
  done
  api=$(grep -o 'http://127.0.0.1:[0-9]*' "$tmp/serve.out" | head -1)
  if [ -z "$api" ]; then
    echo "FAIL: cairn serve did not start: $(cat "$tmp/serve.err")" >&2
    exit 1
  fi
}
# unserve: SIGTERM, and the exit status in $serve_rc.
unserve() {
  kill -TERM "$serve_pid"
  wait "$serve_pid"
  serve_rc=$?
}

# req METHOD PATH [BODY] [CURL_ARGS...]: the answer's body in $tmp/body,
# its status in $code.
req() {
  local method=$1 path=$2 body=${3-}
  shift 3 2>/dev/null || shift $#
  local data=()
  [ -n "$body" ] && data=(--data-binary "$body")
  code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X "$method" \
    -H 'Content-Type: application/json' "${data[@]}" "$@" "$api$path")
}
# answers "sentence" STATUS: the last request answered STATUS.
answers() {
  if [ "$code" = "$2" ]; then
    pass=$((pass + 1))
  else
    echo "FAIL: $1: status $code, want $2: $(head -c 400 "$tmp/body")" >&2
    fails=$((fails + 1))
  fi
}
body() { jq -r "$1" "$tmp/body"; }
