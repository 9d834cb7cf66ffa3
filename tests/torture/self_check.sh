#!/usr/bin/env bash
# self_check.sh — the torture runner's checks can fail: after a short
# torture, one effect line is added after a recorded completion, then one
# is removed; each time the runner must exit non-zero and count exactly
# that one problem (dup=1, lost=1) and nothing else.
#   usage: self_check.sh CAIRN
set -uo pipefail
here=$(dirname "$0")
fails=0
for what in dup lost; do
  out=$(bash "$here/torture.sh" "$1" --kills 3 --workers 2 --seed 7 \
        --inject "$what" 2>&1)
  rc=$?
  result=$(grep '^RESULT' <<<"$out")
  want="lost=$([ $what = lost ] && echo 1 || echo 0) dup=$([ $what = dup ] && echo 1 || echo 0) gaps=0 verify=ok"
  if [ "$rc" -eq 0 ] || [[ "$result" != *"$want"* ]]; then
    echo "FAIL: an injected $what: exit $rc, '$result', want '$want'" >&2
    echo "$out" | tail -20 >&2
    fails=$((fails + 1))
  else
    echo "ok: an injected $what is caught: $result"
  fi
done
[ "$fails" -eq 0 ]
