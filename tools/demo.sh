#!/usr/bin/env bash
# The main job, end to end on embedded defaults, as far as the pipeline exists:
# every distributed step runs on 2 MPI ranks.  Outputs go to demo-out/ (or
# $QVAE_DEMO_DIR).  Sets up first if needed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/tools/setup.sh"
qvae="$root/build/bin/qvae"
mpi=("$root/tools/mpirun.sh" -np "${QVAE_DEMO_RANKS:-2}")
out="${QVAE_DEMO_DIR:-$root/demo-out}"
mkdir -p "$out"
step() { printf '\n== %s\n' "$*" >&2; }

step "versions"
"${mpi[@]}" "$qvae" version

step "resolved configuration (embedded defaults)"
"$qvae" config show

step "parallel HDF5 throughput (collective row-block write + read, verified)"
"${mpi[@]}" "$qvae" bench io --rows 4000 --cols 6480 --repeats 2 --dir "$out"

printf '\ndemo finished: outputs in %s\n' "$out" >&2
