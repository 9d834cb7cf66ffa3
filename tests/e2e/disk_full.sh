#!/usr/bin/env bash
# disk_full.sh — the journal on a disk that fills up: runs of big outputs
# until a commit fails, processes SIGKILLed while the disk is full, then
# space freed. The user sees a clear error naming the full disk; nothing
# recorded before is lost or changed; the journal still opens and verifies;
# once there is room, `cairn worker --drain` finishes what was in flight
# and no step whose completion was recorded runs again.
#   usage: disk_full.sh CAIRN
# The disk is a 4 MiB tmpfs in a private mount namespace (unshare -m, so
# the mount disappears with the test, however it ends): needs root.
if [ -z "${CAIRN_DISK_FULL_NS:-}" ]; then
  CAIRN_DISK_FULL_NS=1 exec unshare -m --propagation private \
    bash "$0" "$@"
fi
CAIRN=$(realpath "$1")
source "$(dirname "$0")/lib.sh"

disk=$tmp/disk
mkdir -p "$disk"
if ! mount -t tmpfs -o size=4m tmpfs "$disk"; then
  echo "FAIL: cannot mount a 4 MiB tmpfs at $disk (this test runs as root)" >&2
  exit 1
fi
export CAIRN_HOME=$disk/journal
mkdir -p "$CAIRN_HOME"
effects=$tmp/effects.log
: >"$effects"
# Step a writes 150 KB of output, so about 25 runs fill the disk.
cat >"$tmp/big.json" <<EOF
{"name": "big", "steps": [
  {"name": "a", "kind": "exec", "with": {"command": ["sh", "-c",
    "echo \"\$CAIRN_RUN_ID a \$CAIRN_ATTEMPT\" >> $effects; head -c 150000 /dev/zero | tr '\\\\0' x | sed 's/.*/\"&\"/'"]}},
  {"name": "b", "kind": "exec", "needs": ["a"], "with": {"command": ["sh", "-c",
    "echo \"\$CAIRN_RUN_ID b \$CAIRN_ATTEMPT\" >> $effects; echo '\"done\"'"]}}
]}
EOF
expect_exit 0 "the definition registers" C workflow register "$tmp/big.json"

# Run until the disk is full.
full=0
for i in $(seq 1 100); do
  if ! C run big >"$tmp/run.out" 2>"$tmp/run.err"; then
    full=$i
    break
  fi
done
check "a run fails once the disk is full" [ "$full" -gt 5 ]
err=$(cat "$tmp/run.err")
check "the error names the full disk and the journal: $err" \
  grep -q "the disk holding the journal $CAIRN_HOME is full" "$tmp/run.err"
check "the error says what to do" grep -q "free space there" "$tmp/run.err"

# What was recorded before: every run, its status and its output.
snapshot() {
  C runs --limit 100000 | awk '{print $1}' | sort | while read -r r; do
    printf '%s %s %s\n' "$r" "$(C status "$r" | head -1 | awk '{print $1}')" \
      "$(C --format json result "$r" 2>/dev/null | jq -r .output | sha256sum | cut -c1-16)"
  done
}
snapshot >"$tmp/before"
completed_before=$(grep -c ' completed ' "$tmp/before")
check "runs completed before the disk filled ($completed_before)" \
  [ "$completed_before" -ge 5 ]
grep ' completed ' "$tmp/before" | awk '{print $1}' >"$tmp/done_runs"
effects_of_done() { grep -F -f "$tmp/done_runs" "$effects" | sort; }
effects_of_done >"$tmp/effects_before"

# SIGKILL runs and workers while the disk is full, at random instants.
for k in 1 2 3 4 5 6; do
  "$CAIRN" run big >/dev/null 2>&1 &
  a=$!
  "$CAIRN" worker --drain >/dev/null 2>&1 &
  b=$!
  pids+=("$a" "$b")
  sleep "0.0$((RANDOM % 9))"
  kill -9 "$a" "$b" 2>/dev/null
  wait "$a" "$b" 2>/dev/null
done
expect_exit 1 "a worker on the full disk stops with an error" \
  C worker --drain
check "it names the full disk" grep -q "is full" "$tmp/err"

expect_exit 0 "the journal verifies on the full disk" C journal verify
snapshot >"$tmp/during"
check "nothing recorded before changed while the disk was full" \
  diff <(grep ' completed ' "$tmp/before") <(grep -F -f "$tmp/done_runs" "$tmp/during")

# Free space: the runs left in flight finish, nothing completed runs again.
mount -o remount,size=64m "$disk"
expect_exit 0 "with room again, worker --drain finishes the runs in flight" \
  C worker --drain
expect_exit 0 "the journal verifies" C journal verify
snapshot >"$tmp/after"
check "no run is left unfinished" \
  [ "$(awk '$2 != "completed"' "$tmp/after" | wc -l)" -eq 0 ]
check "every run recorded before is still there, completed ones unchanged" \
  diff <(grep ' completed ' "$tmp/before") <(grep -F -f "$tmp/done_runs" "$tmp/after")
check "no step of a completed run ran again" \
  diff "$tmp/effects_before" <(effects_of_done)
# Each run's step b ran exactly once per attempt that completed it.
dups=$(awk '{print $1, $2, $3}' "$effects" | sort | uniq -d | wc -l)
eq "no attempt of any step ran twice" "$dups" 0

umount "$disk"
echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
