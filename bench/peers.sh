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
#            loop turn (the default; no_sync off); engine=cairn runs the
#            steps on the loop thread (--inline, as the peers run their
#            no-op steps on their event loops), engine=cairn-pool on
#            libuv's thread pool (the default for native kinds);
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

# cairn: bench_workflows twice, its no-op steps on the loop thread (as
# the peers' no-op steps run on their event loops; engine=cairn, the one
# the ratios take) and on libuv's thread pool (engine=cairn-pool); their
# RESULT lines into res[cairn.*] and res[cairn-pool.*].
run_cairn() {
  local name args out line
  for name in cairn-pool cairn; do
    args=$([ $name = cairn ] && echo --inline)
    out=$("$bench" $args 2>&1) || { echo "$out" >&2; echo "peers.sh: bench_workflows $args failed" >&2; exit 1; }
    echo "$out" | sed "s/^/  [$name] /" >&2
    line=$(grep '^RESULT bench=workflows' <<<"$out" | tail -1)
    for w in seq c32 c256; do
      res[$name.$w.p50]=$(field "$line" ${w}_p50_ms)
      res[$name.$w.p99]=$(field "$line" ${w}_p99_ms)
    done
    res[$name.seq.sps]=$(per_wf_rate "${res[$name.seq.p50]}")
    res[$name.c32.sps]=$(field "$line" c32_steps_per_s)
    res[$name.c256.sps]=$(field "$line" c256_steps_per_s)
    for w in seq c32 c256; do
      echo "RESULT engine=$name workload=$(wname $w) wf_p50_ms=${res[$name.$w.p50]} wf_p99_ms=${res[$name.$w.p99]} steps_per_s=${res[$name.$w.sps]}"
    done
    echo "  CPU engine=$name cpu_ms_per_wf_c32=$(field "$line" c32_cpu_ms_per_wf) (the one process: client, engine, steps)" >&2
  done
  cairn_ran=1
}

# field LINE KEY: the value of KEY=... in LINE.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

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
  res[$p.seq.p50]=$(field "$line32" lat_p50_ms)
  res[$p.seq.p99]=$(field "$line32" lat_p99_ms)
  res[$p.c32.sps]=$(field "$line32" steps_per_s)
  res[$p.c256.sps]=$(field "$line256" steps_per_s)
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
cairn_ran=0
for p in $peers; do
  run_peer "$p"
done
# With every peer skipped, cairn's own figures still print.
[ "$cairn_ran" -eq 1 ] || run_cairn
