#!/usr/bin/env bash
# Builds everything and runs every test: the normal build, then the test suite again under
# AddressSanitizer + UndefinedBehaviorSanitizer (skip that with ORQUESTRA_NO_SANITIZE=1), then a
# short run of every fuzz target (skip that with ORQUESTRA_NO_FUZZ=1; bench/fuzz.sh runs longer).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
jobs=$(nproc)
echo "== tests (build/)"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 300
if [ "${ORQUESTRA_NO_SANITIZE:-0}" != "1" ]; then
  echo "== tests under ASan+UBSan (build-asan/)"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g1" -DORQUESTRA_SANITIZE=ON \
    -DORQUESTRA_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp" \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 600
fi
if [ "${ORQUESTRA_NO_FUZZ:-0}" != "1" ]; then
  echo "== fuzz targets, ${ORQUESTRA_FUZZ_SECONDS:-12} s each (build-fuzz/)"
  ORQUESTRA_FUZZ_SEEDS_ONLY=1 bench/fuzz.sh "${ORQUESTRA_FUZZ_SECONDS:-12}"
fi
