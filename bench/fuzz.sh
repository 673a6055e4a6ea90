#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang with ASan and UBSan, into build-fuzz/) and runs each
# for a bounded time, starting from its seed corpus in fuzz/corpus/<target>/. Stops at the first
# crash, hang or out-of-memory and prints the input that reproduces it.
#
#   bench/fuzz.sh [seconds-per-target] [target...]     (default 60 s, every target)
#
# New inputs the fuzzer finds go to build-fuzz/corpus/<target>/ (kept between runs, not in git;
# with ORQUESTRA_FUZZ_SEEDS_ONLY=1 a run starts from the seeds alone and keeps nothing, so that
# its time does not grow with that corpus, as scripts/test.sh does); findings go to
# build-fuzz/artifacts/<target>/. Inputs come in the same order on every run (libFuzzer -seed=1;
# ORQUESTRA_FUZZ_SEED=0 picks a new order each time). A reproducer runs alone with
#   build-fuzz/fuzz/<target> <file>
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
all_targets=(eureka_json_fuzz eureka_xml_fuzz http_request_fuzz dag_loader_fuzz template_fuzz
  params_fuzz)
targets=("$@")
[ $# -gt 0 ] || targets=("${all_targets[@]}")

if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz: clang++ not found (scripts/setup.sh installs it)" >&2
  exit 2
fi

build=build-fuzz
mkdir -p "$build"
# -O1 without NDEBUG: fast enough, and our asserts stay on.
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DORQUESTRA_FUZZ=ON -DORQUESTRA_BUILD_TESTS=OFF \
  -DORQUESTRA_BUILD_BENCH=OFF -DORQUESTRA_BUILD_EXAMPLES=OFF >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log" >&2; exit 2; }
cmake --build "$build" --target orquestra_fuzz >"$build/build.log" 2>&1 ||
  { tail -40 "$build/build.log" >&2; exit 2; }
for t in "${targets[@]}"; do
  [ -x "$build/fuzz/$t" ] || { echo "fuzz: no target $t (build failed?)" >&2; exit 2; }
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$build/logs"
for t in "${targets[@]}"; do
  case $t in
    template_fuzz|params_fuzz) max_len=4096 ;;
    *) max_len=16384 ;;
  esac
  work="$build/corpus/$t"
  if [ "${ORQUESTRA_FUZZ_SEEDS_ONLY:-0}" = "1" ]; then
    work="$build/corpus-scratch/$t"
    rm -rf "$work"
  fi
  artifacts="$build/artifacts/$t/"
  log="$build/logs/$t.log"
  mkdir -p "$work" "$artifacts"
  # -timeout: one input may take at most 5 s; -rss_limit_mb: at most 2 GB; -malloc_limit_mb:
  # no single allocation above 1 GB.
  set +e
  # -seed: the same sequence of inputs on every machine, so what a run found, a run with the
  # same binary finds again (a slower machine explores a prefix of it in the same time).
  "$build/fuzz/$t" "$work" "fuzz/corpus/$t" -seed="${ORQUESTRA_FUZZ_SEED:-1}" \
    -max_total_time="$seconds" -max_len="$max_len" \
    -timeout=5 -rss_limit_mb=2048 -malloc_limit_mb=1024 -artifact_prefix="$artifacts" \
    -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -1 | cut -d' ' -f2)
  if [ $rc -ne 0 ]; then
    echo "fuzz: $t FAILED (exit $rc) after ${runs:-?} runs; log $log"
    grep -m1 -E 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error:' "$log" || true
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    if [ -n "$artifact" ]; then
      echo "fuzz: reproducer $artifact"
      echo "fuzz: run it with $build/fuzz/$t $artifact"
    fi
    exit 1
  fi
  echo "fuzz: $t ok: ${runs:-?} runs in ${seconds} s (${rate:-?} exec/s), coverage ${cov:-?}," \
    "corpus $(find "$work" -type f | wc -l)"
done
