#!/usr/bin/env bash
# usage: test_evaluate_model_cli.sh QVAE TINY_INI PLOT_REPORT MPIEXEC [MPIEXEC_FLAGS...]
# `qvae evaluate --model --data` from the outside: a tiny QVAE trained for a few
# batches, RBM energies of the encoded data vs Gibbs chains and reconstruction
# metrics in metrics.json and histograms.h5, the same on 1 and 2 ranks, the
# report's RBM-energy plot, and the errors of a wrong --model/--data.
set -u
qvae=$1; tiny=$2; plot_report=$3; shift 3
mpi=("$@" -np 2)
source "$(dirname "${BASH_SOURCE[0]}")/../cli_harness.sh"

run simulate_data 0 "$qvae" simulate --events 300 --geometry ds2 --seed 1 --out "$work/showers.h5"
run simulate_generated 0 "$qvae" simulate --events 200 --geometry ds2 --seed 2 --out "$work/gen.h5"
run simulate_ds1 0 "$qvae" simulate --events 20 --geometry ds1-photons --energies ds1 --seed 3 --out "$work/ds1.h5"
run train 0 "$qvae" train --config "$tiny" --data "$work/showers.h5" --out "$work/run" \
  --train.max_batches_per_epoch=5 --train.epochs=1 --run.progress=off --run.log_level=warn

# FPD/KPD are covered by test_cli_evaluate.sh; here they only cost time.
files=(--reference "$work/showers.h5" --generated "$work/gen.h5" --no-fpd --no-kpd)
model=(--model "$work/run/best.h5" --data "$work/showers.h5" --gibbs-sweeps 200 --model-chunk-events 64)

run evaluate_model_1 0 "$qvae" evaluate "${files[@]}" "${model[@]}" --out "$work/one"
check summary_names_rbm_energy_and_reconstruction grep -q "RBM energy: encoded .* overlap" <<<"$err"
check metrics_have_rbm_energy_and_reconstruction "$py" -c '
import json, math, sys
d = json.load(open(sys.argv[1]))
e, r, m = d["rbm_energy"], d["reconstruction"], d["model_evaluation"]
finite = lambda x: isinstance(x, float) and math.isfinite(x)
assert e["encoded"]["count"] == 300 and e["gibbs"]["count"] == 300 and e["chains"] == 300, e
assert e["gibbs_sweeps"] == 200 and e["partition0_clamped"] is True, e
for side in ("encoded", "gibbs"):
    assert finite(e[side]["mean"]) and finite(e[side]["std"]) and e[side]["std"] > 0, e
assert finite(e["overlap"]) and 0 <= e["overlap"] <= 1, e
assert finite(e["separation_power"]["value"]) and e["separation_power"]["floor"] > 0, e
assert r["showers"] == 300 and r["etot_relative_error_showers"] == 300, r
assert finite(r["mean_squared_error"]) and r["mean_squared_error"] > 0 and finite(r["mean_squared_error_std"]), r
assert finite(r["etot_relative_error_mean"]) and finite(r["etot_relative_error_std"]), r
assert r["etot_relative_error_mean"] >= -1, r  # reconstructed energies are >= 0
c = r["etot_over_einc"]
assert finite(c["chi2"]) and c["chi2"] >= 0 and c["bins"] == 30 and c["bins_occupied"] >= 1, c
assert m["events"] == 300 and m["model"].endswith("best.h5") and m["data"].endswith("showers.h5"), m
' "$work/one/metrics.json"
check histograms_have_rbm_energy_and_reconstruction_groups "$py" -c '
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], "r") as f:
    g = f["rbm_energy"]
    assert g["edges"].shape == (51,) and g["encoded"].shape == (50,) and g["gibbs"].shape == (50,)
    assert g["encoded"][:].sum() == 300 and g["gibbs"][:].sum() == 300
    assert np.all(np.diff(g["edges"][:]) > 0) and 0 <= g.attrs["overlap"] <= 1
    r = f["reconstruction"]
    assert r["edges"].shape == (31,) and r["data"][:].sum() == 300 and r["reconstruction"][:].sum() == 300
    assert r.attrs["chi2"] >= 0
    assert len(f["histograms"]) > 0  # the shower-file histograms are still there
' "$work/one/histograms.h5"

run evaluate_model_2 0 "${mpi[@]}" "$qvae" evaluate "${files[@]}" "${model[@]}" --out "$work/two" --json
check json_has_model_metrics json_is '"rbm_energy" in d and "reconstruction" in d and d["ranks"] == 2'
check two_ranks_same_model_metrics_as_one "$py" -c '
import json, math, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def same(x, y, path):
    if isinstance(x, dict):
        assert x.keys() == y.keys(), path
        for k in x:
            if k != "seconds": same(x[k], y[k], path + "/" + k)
    elif isinstance(x, float) and isinstance(y, float):
        assert x == y or abs(x - y) <= 1e-12 * max(abs(x), abs(y)), (path, x, y)
    else:
        assert x == y, (path, x, y)
for key in ("rbm_energy", "reconstruction"):
    same(a[key], b[key], key)
same(a["model_evaluation"], b["model_evaluation"], "model_evaluation")' "$work/one/metrics.json" "$work/two/metrics.json"
check two_ranks_same_histogram_counts "$py" -c '
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for group in ("rbm_energy", "reconstruction"):
    for name in a[group]:
        assert np.array_equal(a[group][name][:], b[group][name][:]), (group, name)' "$work/one/histograms.h5" "$work/two/histograms.h5"

# Fewer showers and chains than the file holds; another seed moves only the chains.
run evaluate_subset 0 "$qvae" evaluate "${files[@]}" "${model[@]}" --data-events 100 --gibbs-chains 40 --seed 7 \
  --out "$work/subset" --json
check subset_counts json_is 'd["rbm_energy"]["encoded"]["count"] == 100 and d["rbm_energy"]["gibbs"]["count"] == 40 and d["reconstruction"]["showers"] == 100 and d["rbm_energy"]["seed"] == 7'

run plot_report 0 "$py" "$plot_report" "$work/one" --jobs 2 --only etot_over_einc
check report_draws_rbm_energy [ -s "$work/one/plots/rbm_energy.png" ]
check report_draws_reconstruction [ -s "$work/one/plots/reconstruction_etot_over_einc.png" ]
check report_links_model_plots_and_metrics "$py" -c '
import sys
html = open(sys.argv[1]).read()
assert "plots/rbm_energy.png" in html and "plots/reconstruction_etot_over_einc.png" in html
assert "mean squared error" in html and "RBM energy" in html' "$work/one/index.html"
check summary_lights_model_side_by_the_rule "$py" -c '
import json, re, sys
m, page = json.load(open(sys.argv[1])), open(sys.argv[2]).read()
overlap, error = m["rbm_energy"]["overlap"], abs(m["reconstruction"]["etot_relative_error_mean"])
expected = "green" if overlap >= 0.7 else "amber" if overlap >= 0.4 else "red"
assert re.search(r"<tr class=\"" + expected + r"\"><th>RBM energy overlap, encoded vs Gibbs", page), expected
expected = "green" if error <= 0.05 else "amber" if error <= 0.2 else "red"
assert re.search(r"<tr class=\"" + expected + r"\"><th>reconstruction E<sub>tot</sub> error", page), expected
' "$work/one/metrics.json" "$work/one/index.html"

# Errors: one line, the documented exit code, no output files.
run model_without_data 2 "$qvae" evaluate "${files[@]}" --model "$work/run/best.h5" --out "$work/bad"
check model_without_data_one_error_line one_error_line
check model_without_data_names_it grep -q -- "--data is missing" <<<"$err"
run data_without_model 2 "${mpi[@]}" "$qvae" evaluate "${files[@]}" --data "$work/showers.h5" --out "$work/bad"
check data_without_model_one_error_line one_error_line
check data_without_model_names_it grep -q -- "--model is missing" <<<"$err"
run not_a_checkpoint 3 "${mpi[@]}" "$qvae" evaluate "${files[@]}" --model "$work/showers.h5" --data "$work/showers.h5" \
  --out "$work/bad"
check not_a_checkpoint_one_error_line one_error_line
check not_a_checkpoint_says_so grep -q "qvae-checkpoint" <<<"$err"
run geometry_mismatch 3 "$qvae" evaluate "${files[@]}" --model "$work/run/best.h5" --data "$work/ds1.h5" --out "$work/bad"
check geometry_mismatch_one_error_line one_error_line
check geometry_mismatch_names_both grep -q "the data are ds1-photons showers (368 voxels), the model is for ds2 (6480 voxels)" <<<"$err"
run zero_sweeps 2 "$qvae" evaluate "${files[@]}" "${model[@]}" --gibbs-sweeps 0 --out "$work/bad"
check zero_sweeps_one_error_line one_error_line
check errors_write_nothing bash -c '! ls "$0"/metrics.json "$0"/histograms.h5 >/dev/null 2>&1' "$work/bad"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
