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

step "simulate 4000 GFlash showers (CaloChallenge ds2 geometry, 1 GeV - 1 TeV)"
"${mpi[@]}" "$qvae" simulate --events 4000 --geometry ds2 --seed 2026 --out "$out/showers.h5"

step "validate and summarise the shower file"
"${mpi[@]}" "$qvae" inspect "$out/showers.h5"

step "throughput: simulator and parallel HDF5 (collective row-block write + read, verified)"
"${mpi[@]}" "$qvae" bench simulate --events 4000
"${mpi[@]}" "$qvae" bench io --rows 4000 --cols 6480 --repeats 2 --dir "$out"

printf '\ndemo finished: outputs in %s\n' "$out" >&2
