#!/usr/bin/env bash
# test.sh — the README's second command: install what is missing, build
# three times, warnings as errors (CAIRN_WERROR=ON), and run the tests:
#   build-asan/   clang with AddressSanitizer + UBSan, plus the libFuzzer
#                 target and its short fuzzing run: every test;
#   build-clang/  clang Release, as a packager builds: the unit tests;
#   build/        the gcc build (-O2 -g): every test; its ctest summary
#                 ends the output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test
jobs=$(nproc)

echo "== sanitizer build (ASan + UBSan, clang, fuzz target)"
cmake -S . -B build-asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
  -DCAIRN_SANITIZE=ON -DCAIRN_FUZZ=ON -DCAIRN_BUILD_TESTS=ON \
  -DCAIRN_BUILD_BENCH=OFF -DCAIRN_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs" >/dev/null
(cd build-asan && ctest --output-on-failure -j"$jobs")

echo "== clang Release build, unit tests"
cmake -S . -B build-clang -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release \
  -DCAIRN_WERROR=ON -DCAIRN_BUILD_TESTS=ON -DCAIRN_BUILD_BENCH=OFF >/dev/null
cmake --build build-clang -j"$jobs" >/dev/null
(cd build-clang && ctest --output-on-failure -j"$jobs" -L unit)

echo "== release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAIRN_WERROR=ON \
  -DCAIRN_BUILD_TESTS=ON -DCAIRN_BUILD_BENCH=ON >/dev/null
cmake --build build -j"$jobs" >/dev/null
cd build && ctest --output-on-failure -j"$jobs"
