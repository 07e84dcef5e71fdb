#!/usr/bin/env bash
# Builds qvae with AddressSanitizer and UndefinedBehaviorSanitizer
# (QVAE_SANITIZE=ON, gcc, RelWithDebInfo) in build-asan/ and runs the unit
# tests there: every GoogleTest suite, serial and under mpirun, and the
# fuzz-corpus replays.  The shell-level CLI suites are left out (they time
# whole commands and are covered by the normal build).  Any ASan report or
# undefined behaviour fails the test that hit it.
# Usage: tools/sanitize.sh [CTEST ARGS...]      (SANITIZE_JOBS=N: build jobs)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/tools/setup.sh" --no-build
build="$root/build-asan"
if [ ! -f "$build/CMakeCache.txt" ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQVAE_SANITIZE=ON \
    -DQVAE_BUILD_BENCHMARKS=OFF "${launcher[@]}"
fi
cmake --build "$build" -j "${SANITIZE_JOBS:-$(nproc)}"
# Leak checking is off: every test starts MPI, and Open MPI's components,
# loaded with dlopen and unloaded at MPI_Finalize, leave allocations that
# LeakSanitizer reports from "<unknown module>", which no suppression can
# name.  Memory errors (ASan) and undefined behaviour (UBSan) abort the test.
# The fuzz harnesses without MPI do check leaks (tools/fuzz.sh).
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=0:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$build"
ctest --output-on-failure -j "$(nproc)" -LE cli "$@"
