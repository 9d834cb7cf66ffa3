#!/usr/bin/env bash
# peers.sh — cairn, Restate and DBOS side by side, on one machine in one
# sitting, on the workload of shared/peers: workflows of 10 durable no-op
# steps one after another;
#   seq200    200 workflows one after another (p50 and p99 end to end)
#   c32       2,000 workflows with 32 in flight (closed loop)
#   c256      2,000 workflows with 256 in flight
# each after a warm-up of 100 sequential and 100 at 32 in flight.
#
#   usage: bash bench/peers.sh [BUILD_DIR]     (default: build)
#   env:   PEERS="restate dbos"  which peers to run
#          PEERS_DIR=../shared/peers  where their harnesses are
#          PEERS_KEEP=1  keep the copies and the harnesses' logs
#
# Each engine runs in its own durable mode:
#   cairn    bench_workflows: the engine embedded in one process, native
#            no-op steps, LMDB journal with an fsync'd group commit per
#            loop turn (the default; no_sync off);
#   restate  restate-server 1.7.12 with its storage defaults (replicated
#            loglet, RocksDB WAL fsync on) and the TypeScript SDK endpoint,
#            called through the HTTP ingress (a Workflow per run);
#   dbos     DBOS Transact 5.3.0 in-process (Node) on PostgreSQL 15 with
#            its defaults (fsync on, synchronous_commit on).
# cairn runs right before each peer, so every ratio compares two runs
# minutes apart on the same machine. The peers' harnesses are copied to a
# temporary folder first (shared/ is read-only); Restate's needs two files
# it names but does not ship, kept here in bench/peers/restate/. A peer
# whose harness is missing or fails (no network for npm, no PostgreSQL)
# is skipped with a SKIP line; that is not a failure of this script.
#
# Prints, per engine and workload,
#   RESULT engine=E workload=W wf_p50_ms=.. wf_p99_ms=.. steps_per_s=..
# (the peers' harnesses measure latency only in seq200: their c32/c256
# latencies print as na; seq200's steps_per_s is 10 steps over its p50
# for every engine), then per peer and workload
#   RATIO cairn/PEER workload=W steps_per_s=X latency_p50=Y
# where X = cairn's steps/s over the peer's and Y = the peer's p50 over
# cairn's (both > 1 when cairn is ahead).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$repo/build}
bench=$build/bench_workflows
peers_dir=${PEERS_DIR:-$repo/../shared/peers}
peers=${PEERS:-restate dbos}
if [ ! -x "$bench" ]; then
  echo "peers.sh: $bench not found; build first (cmake --build $build)," \
       "or name the build folder: bash bench/peers.sh BUILD_DIR" >&2
  exit 2
fi
work=$(mktemp -d /tmp/cairn-peers.XXXXXX)
if [ -n "${PEERS_KEEP:-}" ]; then
  echo "[peers] keeping $work" >&2
else
  trap 'rm -rf "$work"' EXIT
fi
declare -A res   # res[engine.workload.key]

# cairn: one bench_workflows run, its RESULT line into res[cairn.*].
run_cairn() {
  local out line
  out=$("$bench" 2>&1) || { echo "$out" >&2; echo "peers.sh: bench_workflows failed" >&2; exit 1; }
  echo "$out" | sed 's/^/  [cairn] /' >&2
  line=$(grep '^RESULT bench=workflows' <<<"$out" | tail -1)
  val() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
  for w in seq c32 c256; do
    res[cairn.$w.p50]=$(val ${w}_p50_ms)
    res[cairn.$w.p99]=$(val ${w}_p99_ms)
  done
  res[cairn.seq.sps]=$(per_wf_rate "${res[cairn.seq.p50]}")
  res[cairn.c32.sps]=$(val c32_steps_per_s)
  res[cairn.c256.sps]=$(val c256_steps_per_s)
  for w in seq c32 c256; do
    echo "RESULT engine=cairn workload=$(wname $w) wf_p50_ms=${res[cairn.$w.p50]} wf_p99_ms=${res[cairn.$w.p99]} steps_per_s=${res[cairn.$w.sps]}"
  done
}

# seq200's steps/s, for every engine alike: 10 steps over the p50 (the
# peers' harnesses time each workflow there, not the phase).
per_wf_rate() { awk -v m="$1" 'BEGIN{ printf "%.1f", 10000 / m }'; }

wname() { case $1 in seq) echo seq200 ;; c32) echo c32 ;; c256) echo c256 ;; esac; }

# A peer's harness at concurrency CONC; prints its RESULT line or fails.
run_peer_once() {
  local p=$1 conc=$2 log=$work/$1.c$2.log
  echo "[peers] $p, $conc in flight (log: $log)" >&2
  CONC=$conc bash "$work/$p/bench.sh" >"$log" 2>&1
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "SKIP engine=$p: its harness failed (exit $rc) at $conc in flight; last lines:"
    tail -n 5 "$log" | sed 's/^/  /'
    return 1
  fi
  grep -E '^(DURABILITY|ENV|CPU) ' "$log" | sed 's/^/  /' >&2
  grep "^RESULT peer=$p " "$log" | tail -1
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "" || b == "" || b + 0 == 0) print "na"; else printf "%.1f", a / b }'; }

run_peer() {
  local p=$1 line256 line32
  if [ ! -f "$peers_dir/$p/bench.sh" ]; then
    echo "SKIP engine=$p: no harness at $peers_dir/$p (set PEERS_DIR)"
    return 0
  fi
  cp -r "$peers_dir/$p" "$work/$p" && chmod -R u+w "$work/$p"
  for f in "$repo/bench/peers/$p"/*; do
    [ -e "$f" ] && [ ! -e "$work/$p/$(basename "$f")" ] && cp "$f" "$work/$p/"
  done
  run_cairn
  line32=$(run_peer_once "$p" 32) || { echo "$line32"; return 0; }
  line256=$(run_peer_once "$p" 256) || { echo "$line256"; return 0; }
  val() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
  res[$p.seq.p50]=$(val "$line32" lat_p50_ms)
  res[$p.seq.p99]=$(val "$line32" lat_p99_ms)
  res[$p.c32.sps]=$(val "$line32" steps_per_s)
  res[$p.c256.sps]=$(val "$line256" steps_per_s)
  res[$p.seq.sps]=$(per_wf_rate "${res[$p.seq.p50]}")
  echo "RESULT engine=$p workload=seq200 wf_p50_ms=${res[$p.seq.p50]} wf_p99_ms=${res[$p.seq.p99]} steps_per_s=${res[$p.seq.sps]}"
  echo "RESULT engine=$p workload=c32 wf_p50_ms=na wf_p99_ms=na steps_per_s=${res[$p.c32.sps]}"
  echo "RESULT engine=$p workload=c256 wf_p50_ms=na wf_p99_ms=na steps_per_s=${res[$p.c256.sps]}"
  echo "RATIO cairn/$p workload=seq200 steps_per_s=$(ratio "${res[cairn.seq.sps]}" "${res[$p.seq.sps]}") latency_p50=$(ratio "${res[$p.seq.p50]}" "${res[cairn.seq.p50]}")"
  for w in c32 c256; do
    echo "RATIO cairn/$p workload=$w steps_per_s=$(ratio "${res[cairn.$w.sps]}" "${res[$p.$w.sps]}")"
  done
}

echo "[peers] $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), /tmp on $(df --output=fstype /tmp | tail -1), $(date -u +%Y-%m-%dT%H:%MZ)" >&2
echo "DURABILITY engine=cairn journal=lmdb group_commit=fsync_per_turn"
for p in $peers; do
  run_peer "$p"
done
