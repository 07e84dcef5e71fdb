#!/usr/bin/env bash
# Fuzzes the project's readers: builds the libFuzzer harnesses of tests/fuzz
# with clang, ASan and UBSan in build-fuzz/ (target qvae_fuzzers), then runs
# each for SECONDS (default 60) on a copy of its seed corpus and former crash
# inputs (tests/data/fuzz/<harness>/).  Prints per harness the executions,
# libFuzzer's final coverage (cov: edges, ft: features) and whether it found
# a crash; crash inputs are kept in build-fuzz/findings/.  Exit status 1 when
# any harness found one.
#
# Usage: tools/fuzz.sh [SECONDS] [HARNESS...]     (FUZZ_JOBS=N: build jobs)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
shift || true

# clang and its sanitizer runtimes come from tools/setup.sh's package list.
if ! command -v clang++ >/dev/null || ! dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "ok installed"; then
  "$root/tools/setup.sh" --no-build || exit 2
fi

build="$root/build-fuzz"
if [ ! -f "$build/CMakeCache.txt" ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DQVAE_FUZZ=ON \
    -DQVAE_BUILD_TESTS=OFF -DQVAE_BUILD_BENCHMARKS=OFF "${launcher[@]}" >/dev/null || exit 2
fi
cmake --build "$build" --target qvae_fuzzers -j "${FUZZ_JOBS:-$(nproc)}" || exit 2

harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  for dir in "$root"/tests/data/fuzz/fuzz_*/; do harnesses+=("$(basename "$dir")"); done
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
findings="$build/findings"
mkdir -p "$findings"
# Open MPI, hwloc and HDF5 keep some allocations until exit: not the readers' leaks.
export LSAN_OPTIONS="suppressions=$root/tests/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

status=0
printf '%-20s %12s %8s %8s  %s\n' harness executions cov ft result
for harness in "${harnesses[@]}"; do
  corpus="$work/$harness"
  mkdir -p "$corpus"
  cp "$root/tests/data/fuzz/$harness"/* "$corpus"/
  log="$build/fuzz-$harness.log"
  # -rss_limit_mb/-malloc_limit_mb: a reader allocating GBs from a size in the file is a finding.
  # Open MPI's plugins (loaded lazily, from unnamed modules) leak a few bytes
  # that no suppression can name: leak checks only for the harnesses without MPI.
  leaks=1
  grep -q start_runtime "$root/tests/fuzz/$harness.cpp" && leaks=0
  ASAN_OPTIONS="detect_leaks=$leaks" "$build/fuzz/$harness" "$corpus" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -detect_leaks=$leaks -print_final_stats=1 -artifact_prefix="$findings/$harness-" >"$log" 2>&1
  rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  last="$(grep -E '^#[0-9]+' "$log" | tail -1)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
  if [ $rc -eq 0 ]; then
    result="clean"
  else
    status=1
    result="CRASH (exit $rc): $(grep -m1 -oE 'Test unit written to .*' "$log" || echo "see $log")"
  fi
  printf '%-20s %12s %8s %8s  %s\n' "$harness" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
exit $status
