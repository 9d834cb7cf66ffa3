#!/usr/bin/env bash
# faults.sh — the fault points from outside (journal/fault.h; a build with
# CAIRN_FAULTS): CAIRN_FAULT=sync:N makes the Nth commit of a real
# `cairn run` fail as a failed fsync does (commit 1 opens the journal, 2
# starts the run, then the steps'). For every N the run meets, the
# command exits 1 with the I/O error named; the journal verifies; a later
# `cairn worker --drain` finishes the run; its history has no gap and no
# step whose completion was recorded runs again.
#   usage: faults.sh CAIRN
set -uo pipefail
. "$(dirname "$0")/lib.sh"
use_cairn "$1"
cat >three.json <<EOF2
{"name": "three", "steps": [
  {"name": "a", "kind": "exec", "with": {"command": ["sh", "-c",
    "echo \"\$CAIRN_RUN_ID a \$CAIRN_ATTEMPT\" >> $tmp/effects.log; echo 1"]}},
  {"name": "b", "kind": "exec", "needs": ["a"], "with": {"command": ["sh", "-c",
    "echo \"\$CAIRN_RUN_ID b \$CAIRN_ATTEMPT\" >> $tmp/effects.log; echo 2"]}},
  {"name": "c", "kind": "exec", "needs": ["b"], "with": {"command": ["sh", "-c",
    "echo \"\$CAIRN_RUN_ID c \$CAIRN_ATTEMPT\" >> $tmp/effects.log; echo 3"]}}
]}
EOF2
expect_exit 0 "the definition registers" C workflow register three.json
met=0
for n in 1 2 3 4 5 6 7 8 9 10; do
  CAIRN_FAULT=sync:$n "$CAIRN" run three --id "f$n" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  if [ "$rc" -eq 0 ]; then
    break # the run needs fewer commits than n
  fi
  met=$((met + 1))
  eq "commit $n failed: exit 1" "$rc" 1
  check "commit $n failed: the error names it: $(head -c 200 "$tmp/err")" \
    grep -q "Input/output error" "$tmp/err"
  expect_exit 0 "commit $n failed: the journal verifies" C journal verify
done
check "the run met several commits ($met)" [ "$met" -ge 4 ]
expect_exit 0 "worker --drain finishes what the failures left" \
  C worker --drain
for n in $(seq 1 "$met"); do
  # Commit 1 opens the journal, commit 2 starts the run: of f1 and f2
  # nothing exists.
  if [ "$n" -le 2 ]; then
    expect_exit 3 "f$n, whose start never committed, does not exist" \
      C status "f$n"
    continue
  fi
  st=$(C status "f$n" | head -1 | awk '{print $1}')
  eq "f$n completed after the drain" "$st" completed
  seqs=$(C --format json history "f$n" | jq -r '[.events[].seq] | map(tostring) | join(",")')
  last=$(C --format json history "f$n" | jq -r '.events | length')
  eq "f$n: history 1..n without gaps" "$seqs" "$(seq -s, 1 "$last")"
done
# Each step of each run ran at most once per attempt, and a step ran a
# second attempt only if its first completion was never recorded.
dups=$(sort "$tmp/effects.log" | uniq -d | wc -l)
eq "no attempt ran twice" "$dups" 0
echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
