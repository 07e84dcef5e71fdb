#!/usr/bin/env bash
# usage: test_calochallenge_equality.sh QVAE ORACLE XML_DIR
# Every separation power that CaloChallenge's evaluate.py writes in mode hist-chi
# (E_tot/E_inc, E_layer, centres and widths in eta and phi, voxel spectrum)
# equals `qvae evaluate`'s to 1e-6, on pairs of small simulated ds1-photons,
# ds2 and ds3 files.  evaluate.py's side is calochallenge_oracle.py, a test
# oracle transcribing its numpy operations; numpy runs on its baseline path
# (no AVX-512), whose float32 log10 is libm's (see the oracle's docstring).
set -u
qvae=$1; oracle=$2; xml_dir=$3
source "$(dirname "${BASH_SOURCE[0]}")/../cli_harness.sh"
export NPY_DISABLE_CPU_FEATURES="AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL"

compare() {  # GEOMETRY DATASET XML EVENTS_REF EVENTS_GEN [simulate options...]
  local geometry=$1 dataset=$2 xml=$3 n_ref=$4 n_gen=$5; shift 5
  run "simulate_ref_$geometry" 0 "$qvae" simulate --events "$n_ref" --seed 31 --geometry "$geometry" "$@" \
      --out "$work/$geometry-ref.h5" || return
  run "simulate_gen_$geometry" 0 "$qvae" simulate --events "$n_gen" --seed 32 --geometry "$geometry" "$@" \
      --out "$work/$geometry-gen.h5" || return
  run "evaluate_$geometry" 0 "$qvae" evaluate --reference "$work/$geometry-ref.h5" \
      --generated "$work/$geometry-gen.h5" --out "$work/$geometry" --no-fpd --no-kpd --chunk-rows 97 || return
  local min_energy
  min_energy=$("$py" -c 'import json,sys; print(repr(json.load(open(sys.argv[1]))["min_energy_mev"]))' \
               "$work/$geometry/metrics.json")
  run "oracle_$geometry" 0 "$py" "$oracle" "$xml_dir/$xml" "$dataset" "$min_energy" \
      "$work/$geometry-ref.h5" "$work/$geometry-gen.h5" || return
  printf '%s' "$out" >"$work/$geometry-oracle.json"
  check "separation_powers_equal_evaluate_py_$geometry" "$py" -c '
import json, math, sys
theirs = json.load(open(sys.argv[1]))
ours = json.load(open(sys.argv[2]))["separation_power"]
worst, name_worst, bad = 0.0, None, []
for name, value in theirs.items():
    mine = ours[name]["value"]
    if mine is None or value is None or math.isnan(value):
        if not ((mine is None) and (value is None or math.isnan(value))):
            bad.append((name, value, mine))
        continue
    delta = abs(mine - value)
    if delta > worst:
        worst, name_worst = delta, name
    if delta > 1e-6:
        bad.append((name, value, mine))
families = {n.rsplit("_", 1)[0] if n[-1].isdigit() else n for n in theirs}
print("%s: %d histograms (%s), max |dS| = %.3g (%s)" % (sys.argv[3], len(theirs), ", ".join(sorted(families)),
                                                   worst, name_worst))
for name, value, mine in bad:
    print("  %s: evaluate.py %r, qvae %r" % (name, value, mine))
sys.exit(1 if bad or len(theirs) < 5 else 0)
' "$work/$geometry-oracle.json" "$work/$geometry/metrics.json" "$geometry"
}

compare ds1-photons 1-photons binning_dataset_1_photons.xml 400 300 --energies ds1
compare ds2 2 binning_dataset_2.xml 400 300
compare ds3 3 binning_dataset_3.xml 200 150

# The float64 option is recorded and gives other (close) numbers.
run evaluate_float64 0 "$qvae" evaluate --reference "$work/ds2-ref.h5" --generated "$work/ds2-gen.h5" \
    --out "$work/ds2-f64" --no-fpd --no-kpd --sums float64
check float64_sums_are_recorded "$py" -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["summation"] == "numpy" and b["summation"] == "float64", (a["summation"], b["summation"])
' "$work/ds2/metrics.json" "$work/ds2-f64/metrics.json"
run bad_sums 2 "$qvae" evaluate --reference "$work/ds2-ref.h5" --generated "$work/ds2-gen.h5" \
    --out "$work/ds2-bad" --no-fpd --no-kpd --sums float16
check bad_sums_is_one_error_line one_error_line

echo "calochallenge_equality: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
