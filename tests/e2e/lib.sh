# lib.sh — shared helpers of the end-to-end scripts: sourced, not run.
# Sets $tmp (removed on exit), counts checks, and prints "N passed, N failed".
# $E2E: this folder (definitions shared by several scripts are in defs/).
E2E=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
pass=0

check() { # check "sentence" command...
  local what=$1
  shift
  if "$@"; then
    pass=$((pass + 1))
  else
    echo "FAIL: $what" >&2
    fails=$((fails + 1))
  fi
}

# expect_exit CODE "sentence" command...: output in $tmp/out, $tmp/err
expect_exit() {
  local code=$1 what=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -ne "$code" ]; then
    echo "FAIL: $what (exit $rc, want $code): $(head -c 600 "$tmp/err")" >&2
    fails=$((fails + 1))
  else
    pass=$((pass + 1))
  fi
}

# eq "sentence" ACTUAL EXPECTED
eq() {
  if [ "$2" == "$3" ]; then
    pass=$((pass + 1))
  else
    echo "FAIL: $1: got '$2', want '$3'" >&2
    fails=$((fails + 1))
  fi
}

# is "sentence" FILE JQ_FILTER WANT: the filter's raw output equals WANT.
is() {
  local got
  got=$(jq -r "$3" "$2" 2>&1)
  if [ "$got" = "$4" ]; then
    pass=$((pass + 1))
  else
    echo "FAIL: $1: $3 gave '$got', want '$4'" >&2
    fails=$((fails + 1))
  fi
}

# wait_until "sentence" SECONDS command...: polls until the command succeeds
wait_until() {
  local what=$1 secs=$2
  shift 2
  local end=$((SECONDS + secs))
  while [ $SECONDS -lt $end ]; do
    "$@" && { pass=$((pass + 1)); return 0; }
    sleep 0.05
  done
  echo "FAIL: $what (not within ${secs}s)" >&2
  fails=$((fails + 1))
  return 1
}

# C ARGS...: the cairn under test ($CAIRN), as a function for brevity.
# (Background processes run "$CAIRN" itself: a backgrounded function is a
# subshell, and killing it would leave cairn running.)
C() { "$CAIRN" "$@"; }

# use_cairn BINARY: the cairn under test, a fresh journal in $tmp/journal,
# and $tmp as the working directory.
# With $CAIRN_TEST_PG (the state folder of tests/pg/pg.sh's server) the
# journal is a fresh PostgreSQL database instead ($CAIRN_JOURNAL; the home
# keeps config.json): the same script then tests the PostgreSQL journal.
use_cairn() {
  CAIRN=$(realpath "$1")
  use_home "$tmp/journal"
  cd "$tmp" || exit 1
}

# use_home DIR: DIR becomes the home, with a journal of its own (on
# PostgreSQL: a database of its own, made at the first use of DIR).
use_home() {
  export CAIRN_HOME=$1
  [ -n "${CAIRN_TEST_PG-}" ] || return 0
  local db
  db=t_$(echo "$(basename "$tmp")_$(basename "$1")" |
    tr -c 'a-zA-Z0-9\n' _ | tr 'A-Z' 'a-z')
  if [ ! -f "$tmp/.pg_$db" ]; then
    bash "$E2E/../pg/pg.sh" createdb "$CAIRN_TEST_PG" "$db" >"$tmp/.pg_$db" ||
      { echo "FAIL: no PostgreSQL database for the test" >&2; exit 1; }
  fi
  CAIRN_JOURNAL=$(cat "$tmp/.pg_$db")
  export CAIRN_JOURNAL
  mkdir -p "$CAIRN_HOME"
}

# flow_run NAME WANT_EXIT DEF_FILE INPUT: runs DEF_FILE as workflow NAME
# and counts whether it exits WANT_EXIT; its result is in $tmp/NAME.out
# and .err, its trace in $tmp/NAME.show, its history in $tmp/NAME.history.
flow_run() {
  local name=$1 want=$2 def=$3 input=$4
  "$CAIRN" run "$def" --id "$name" --format json --input "$input" \
    >"$tmp/$name.out" 2>"$tmp/$name.err"
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL: $name exits $rc, want $want: $(cat "$tmp/$name.err")" >&2
    fails=$((fails + 1))
  else
    pass=$((pass + 1))
  fi
  "$CAIRN" show "$name" --format json >"$tmp/$name.show" 2>&1
  "$CAIRN" history "$name" --format json >"$tmp/$name.history" 2>&1
}

# start_server BINARY WHAT: starts a fake server of tests/helpers (it
# prints its port, chosen by the kernel on 127.0.0.1) and sets $port,
# $base (http://127.0.0.1:PORT) and $srv_pid; exits the test when it does
# not start. stop_server stops it and keeps its exit status in $srv_rc;
# an exiting test stops it too.
srv_pid=""
srv_rc=""
start_server() {
  local bin=$1 what=$2
  "$bin" >"$tmp/port" 2>"$tmp/server.err" &
  srv_pid=$!
  for _ in $(seq 100); do
    [ -s "$tmp/port" ] && break
    sleep 0.05
  done
  port=$(head -1 "$tmp/port")
  if [ -z "$port" ] || [ "$port" = 0 ]; then
    echo "FAIL: $what did not start: $(cat "$tmp/server.err")" >&2
    exit 1
  fi
  base=http://127.0.0.1:$port
}
stop_server() {
  if [ -n "$srv_pid" ]; then
    kill "$srv_pid" 2>/dev/null
    wait "$srv_pid" 2>/dev/null
    srv_rc=$?
    srv_pid=""
  fi
}
trap 'stop_server; cleanup' EXIT

# kill_soon MAX_MS COMMAND...: runs the command in the background and
# SIGKILLs it after 0 to MAX_MS ms (RANDOM: seed it to repeat); counts a
# kill that landed in $kills.
kills=0
kill_soon() {
  local max=$1
  shift
  "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % max)))"
  kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
  wait "$pid" 2>/dev/null
}

finish() {
  echo "$pass passed, $fails failed"
  [ "$fails" -eq 0 ]
}
