# lib.sh — shared helpers of the end-to-end scripts: sourced, not run.
# Sets $tmp (removed on exit), counts checks, and prints "N passed, N failed".
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
use_cairn() {
  CAIRN=$(realpath "$1")
  export CAIRN_HOME=$tmp/journal
  cd "$tmp" || exit 1
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

finish() {
  echo "$pass passed, $fails failed"
  [ "$fails" -eq 0 ]
}
