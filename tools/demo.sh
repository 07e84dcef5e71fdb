#!/usr/bin/env bash
# The main job, end to end on embedded defaults, every distributed step on 2
# MPI ranks: simulate showers, train the tiny QVAE, generate, evaluate with the
# HTML report, log Z and the LL table of the trained prior, throughput.  About
# 5 minutes on 2 cores.  Outputs go to demo-out/ (or $QVAE_DEMO_DIR).  Sets up
# first if needed.  (The same pipeline as Slurm jobs: jobs/slurm/pipeline.sh.)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/tools/setup.sh"
qvae="$root/build/bin/qvae"
mpi=("$root/tools/mpirun.sh" -np "${QVAE_DEMO_RANKS:-2}")
out="${QVAE_DEMO_DIR:-$root/demo-out}"
mkdir -p "$out"
step() { printf '\n== [%3d s] %s\n' "$SECONDS" "$*" >&2; }
# Model-side metrics: RBM energies of encoded data vs Gibbs samples, reconstruction.
model_metrics=(--model "$out/run/best.h5" --data "$out/showers.h5" --data-events 1000 --gibbs-sweeps 200)

step "versions"
"${mpi[@]}" "$qvae" version

step "resolved configuration (embedded defaults)"
"$qvae" config show

step "simulate 4000 GFlash showers (CaloChallenge ds2 geometry, 1 GeV - 1 TeV)"
"${mpi[@]}" "$qvae" simulate --events 4000 --geometry ds2 --seed 2026 --out "$out/showers.h5"

step "validate and summarise the shower file"
"${mpi[@]}" "$qvae" inspect "$out/showers.h5"

step "train the tiny QVAE (configs/experiment/tiny.ini: CNN, 4 x 64 Pegasus prior) for 4 epochs"
rm -rf "$out/run"
"${mpi[@]}" "$qvae" train --config "$root/configs/experiment/tiny.ini" --data "$out/showers.h5" --out "$out/run" \
  --train.max_batches_per_epoch=100

step "generate 4000 showers from the best model, at the simulated incident energies"
"${mpi[@]}" "$qvae" generate --model "$out/run/best.h5" --energies "$out/showers.h5" --events 4000 --seed 7 \
  --out "$out/generated.h5"
"${mpi[@]}" "$qvae" inspect "$out/generated.h5"

step "evaluate: generated vs simulated showers (CaloChallenge metrics, FPD/KPD), and the report"
"${mpi[@]}" "$qvae" evaluate --reference "$out/showers.h5" --generated "$out/generated.h5" --out "$out/report" \
  "${model_metrics[@]}"
/usr/bin/python3 "$root/tools/plot_report.py" "$out/report" --history "$out/run/history.h5" \
  --only 'etot*' --only 'e_inc*' --only 'sparsity*' --only 'e_layer_1[0-4]' --only 'rbm_energy*' --jobs 2

step "the trained prior: log Z (AIS and reverse AIS) and the LL table (trained vs random RBM)"
"${mpi[@]}" "$qvae" rbm export --model "$out/run/best.h5" --out "$out/prior.h5"
"${mpi[@]}" "$qvae" logz --rbm "$out/prior.h5" --method both --out "$out/logz.h5"
"${mpi[@]}" "$qvae" encode --model "$out/run/best.h5" --data "$out/showers.h5" --events 1000 --out "$out/latents.h5"
"${mpi[@]}" "$qvae" ll --rbm "$out/prior.h5" --latents "$out/latents.h5" --random-reference --json >"$out/ll.json"
/usr/bin/python3 - "$out/ll.json" <<'PY'
import json, sys
table = json.load(open(sys.argv[1]))["ll"]
print("LL table (nats per code)        AIS        reverse AIS")
for key in ("trained_encoded", "trained_gibbs", "random_gibbs", "random_encoded"):
    print(f"  {key:<28}{table[key]['ais']:>10.3f}  {table[key]['rais']:>12.3f}")
PY

step "throughput: simulator and parallel HDF5 (collective row-block write + read, verified)"
"${mpi[@]}" "$qvae" bench simulate --events 4000
"${mpi[@]}" "$qvae" bench io --rows 4000 --cols 6480 --repeats 2 --dir "$out"

printf '\ndemo finished in %d s: outputs in %s\nreport: %s/report/index.html\n' "$SECONDS" "$out" "$out" >&2
