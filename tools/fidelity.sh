#!/usr/bin/env bash
# Trains and scores a fidelity recipe end to end, as docs/results.md reports it:
# simulates 20 000 training showers and two independent 10 000-shower samples
# (evaluation and data-vs-data reference), trains on 2 MPI ranks with
# configs/experiment/fidelity-RECIPE.ini (plus any --section.key=value
# overrides), generates 10 000 showers at the evaluation sample's energies and
# evaluates them: CaloChallenge metrics, RBM energies of encoded data vs Gibbs
# samples, reconstruction, and the HTML report with the data-vs-data column.
# Usage: tools/fidelity.sh RECIPE OUTDIR [--section.key=value ...]
#   RECIPE: ds1-photons | ds1-pions | ds2.   Prints the metrics summary.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -ge 2 ] || { echo "usage: tools/fidelity.sh RECIPE OUTDIR [--section.key=value ...]" >&2; exit 2; }
recipe=$1 out=$2
shift 2
overrides=("$@")
config="$root/configs/experiment/fidelity-$recipe.ini"
[ -f "$config" ] || { echo "qvae: error: no recipe $config, tools/fidelity.sh, use ds1-photons, ds1-pions or ds2" >&2; exit 2; }
"$root/tools/setup.sh" >/dev/null
qvae="$root/build/bin/qvae"
mpi=("$root/tools/mpirun.sh" -np "${QVAE_FIDELITY_RANKS:-2}")
case $recipe in
  ds1-*) sim=(--geometry "$recipe" --energies ds1 --config "$root/configs/data/gflash-ds1.ini") ;;
  ds2) sim=(--geometry ds2) ;;
esac
mkdir -p "$out"
data="$out/data"
mkdir -p "$data"
# Independent samples: seeds differ, so no shower is shared.
for sample in "train 20000 101" "eval 10000 202" "ref 10000 303"; do
  set -- $sample
  [ -f "$data/$1.h5" ] || "${mpi[@]}" "$qvae" simulate "${sim[@]}" --events "$2" --seed "$3" --out "$data/$1.h5" --json >/dev/null
done
if [ ! -f "$data/dd/metrics.json" ]; then
  "${mpi[@]}" "$qvae" evaluate --reference "$data/eval.h5" --generated "$data/ref.h5" --out "$data/dd" --json >/dev/null
fi
rm -rf "$out/run" "$out/report" "$out/generated.h5"
start=$SECONDS
"${mpi[@]}" "$qvae" train --config "$config" --data "$data/train.h5" --out "$out/run" --run.progress=off \
  "${overrides[@]}" >"$out/train.log" 2>&1
echo "fidelity: trained in $((SECONDS - start)) s" >&2
"${mpi[@]}" "$qvae" generate --model "$out/run/best.h5" --energies "$data/eval.h5" --seed 7 --out "$out/generated.h5" \
  >"$out/generate.log" 2>&1
"${mpi[@]}" "$qvae" evaluate --reference "$data/eval.h5" --generated "$out/generated.h5" --out "$out/report" \
  --model "$out/run/best.h5" --data "$data/eval.h5" --data-events 2000 --gibbs-sweeps 1000 | tee "$out/evaluate.txt"
/usr/bin/python3 "$root/tools/plot_report.py" "$out/report" --history "$out/run/history.h5" \
  --reference-report "$data/dd" --jobs 2 >/dev/null
