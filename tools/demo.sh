#!/usr/bin/env bash
# The main job, end to end, every distributed step on 2 MPI ranks: simulate
# showers, train the ds1-photons fidelity recipe, generate,
# evaluate against an independent sample with the HTML report (fidelity summary
# with the data-vs-data floor), log Z and the LL table of the trained prior,
# throughput.  About 3 minutes on 2 cores.  Outputs go to demo-out/ (or
# $QVAE_DEMO_DIR).  Sets up first if needed.  (The same pipeline as Slurm
# jobs: jobs/slurm/pipeline.sh; the full recipe: tools/fidelity.sh.)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/tools/setup.sh"
qvae="$root/build/bin/qvae"
mpi=("$root/tools/mpirun.sh" -np "${QVAE_DEMO_RANKS:-2}")
out="${QVAE_DEMO_DIR:-$root/demo-out}"
mkdir -p "$out"
step() { printf '\n== [%3d s] %s\n' "$SECONDS" "$*" >&2; }
# Model-side metrics: RBM energies of encoded data vs Gibbs samples, reconstruction.
model_metrics=(--model "$out/run/best.h5" --data "$out/eval.h5" --data-events 2000 --gibbs-sweeps 1000)
recipe="$root/configs/experiment/fidelity-ds1-photons.ini"
ds1=(--geometry ds1-photons --energies ds1 --config "$root/configs/data/gflash-ds1.ini")

step "versions"
"${mpi[@]}" "$qvae" version

step "resolved configuration (embedded defaults)"
"$qvae" config show

step "simulate GFlash showers on the CaloChallenge ds1-photons geometry (256 MeV - 4 TeV): 10000 to train, two independent 5000-shower samples to evaluate against"
"${mpi[@]}" "$qvae" simulate "${ds1[@]}" --events 10000 --seed 2026 --out "$out/showers.h5"
"${mpi[@]}" "$qvae" simulate "${ds1[@]}" --events 5000 --seed 2027 --out "$out/eval.h5"
"${mpi[@]}" "$qvae" simulate "${ds1[@]}" --events 5000 --seed 2028 --out "$out/eval-twin.h5"

step "validate and summarise the shower file"
"${mpi[@]}" "$qvae" inspect "$out/showers.h5"

step "train the fidelity recipe (configs/experiment/fidelity-ds1-photons.ini: MLP networks, 4 x 128 Pegasus prior, layer-energy head) for 20 epochs"
rm -rf "$out/run"
"${mpi[@]}" "$qvae" train --config "$recipe" --data "$out/showers.h5" --out "$out/run" --train.epochs=20 \
  --model.anneal_epoch_end=16

step "generate 5000 showers from the best model, at the evaluation sample's incident energies"
"${mpi[@]}" "$qvae" generate --model "$out/run/best.h5" --energies "$out/eval.h5" --seed 7 --out "$out/generated.h5"
"${mpi[@]}" "$qvae" inspect "$out/generated.h5"

step "evaluate: generated vs independent simulated showers (CaloChallenge metrics, FPD/KPD, model-side), and the report"
"${mpi[@]}" "$qvae" evaluate --reference "$out/eval.h5" --generated "$out/eval-twin.h5" --out "$out/data-vs-data" --json >/dev/null
"${mpi[@]}" "$qvae" evaluate --reference "$out/eval.h5" --generated "$out/generated.h5" --out "$out/report" \
  "${model_metrics[@]}"
/usr/bin/python3 "$root/tools/plot_report.py" "$out/report" --history "$out/run/history.h5" \
  --reference-report "$out/data-vs-data" --jobs 2

step "the trained prior: log Z (AIS and reverse AIS) and the LL table (trained vs random RBM)"
"${mpi[@]}" "$qvae" rbm export --model "$out/run/best.h5" --out "$out/prior.h5"
"${mpi[@]}" "$qvae" logz --rbm "$out/prior.h5" --method both --out "$out/logz.h5"
"${mpi[@]}" "$qvae" encode --model "$out/run/best.h5" --data "$out/eval.h5" --events 1000 --out "$out/latents.h5"
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
