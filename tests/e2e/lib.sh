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

finish() {
  echo "$pass passed, $fails failed"
  [ "$fails" -eq 0 ]
}
