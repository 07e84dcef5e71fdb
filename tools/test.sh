#!/usr/bin/env bash
# Sets up if needed (Debian packages, configure, build), then runs the whole
# ctest suite, MPI tests included (they run under `mpirun -np 2`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/tools/setup.sh"
cd "$root/build"
ctest --output-on-failure -j "$(nproc)" "$@"
