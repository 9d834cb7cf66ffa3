#!/usr/bin/env bash
# matrix.sh — every build type with gcc and with clang, warnings as errors
# (CAIRN_WERROR=ON), each tested: Debug, Release, RelWithDebInfo and
# MinSizeRel × gcc and clang, in build-matrix/CC-TYPE/.
#   usage: bash scripts/matrix.sh [--all]
#   By default each build runs the unit tests (ctest -L unit); --all runs
#   every test in each (about 20 minutes on 2 cores).
# Ends with one line per build ("ok gcc Release: 253 tests") and exits
# non-zero if any build or test failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh >/dev/null || exit 1
label=(-L unit)
[ "${1-}" = --all ] && label=()
jobs=$(nproc)
mkdir -p build-matrix
summary=()
failed=0
for cc in gcc clang; do
  for type in Debug Release RelWithDebInfo MinSizeRel; do
    dir=build-matrix/$cc-$type
    echo "== $cc $type"
    if ! cmake -S . -B "$dir" -DCMAKE_C_COMPILER=$cc -DCMAKE_BUILD_TYPE=$type \
         -DCAIRN_WERROR=ON -DCAIRN_BUILD_TESTS=ON -DCAIRN_BUILD_BENCH=ON \
         >"$dir.log" 2>&1 ||
       ! cmake --build "$dir" -j"$jobs" >>"$dir.log" 2>&1; then
      tail -20 "$dir.log"
      summary+=("FAILED $cc $type: the build (log: $dir.log)")
      failed=1
      continue
    fi
    if (cd "$dir" && ctest -j"$jobs" --output-on-failure "${label[@]}") \
         >"$dir.test.log" 2>&1; then
      n=$(grep -o 'out of [0-9]*' "$dir.test.log" | tail -1 | cut -d' ' -f3)
      summary+=("ok $cc $type: $n tests")
    else
      grep -E 'tests passed|Failed|\*\*\*' "$dir.test.log" | tail -10
      summary+=("FAILED $cc $type: tests (log: $dir.test.log)")
      failed=1
    fi
  done
done
printf '%s\n' "${summary[@]}"
exit $failed
