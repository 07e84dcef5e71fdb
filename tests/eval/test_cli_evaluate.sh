#!/usr/bin/env bash
# usage: test_cli_evaluate.sh QVAE PLOT_REPORT MPIEXEC [MPIEXEC_FLAGS...]
# `qvae evaluate` and tools/plot_report.py from the outside: metrics.json keys,
# 1 rank vs 2 ranks, --json, errors with their exit codes, and the report.
set -u
qvae=$1; plot_report=$2; shift 2
mpi=("$@" -np 2)
source "$(dirname "${BASH_SOURCE[0]}")/../cli_harness.sh"

# Small FPD/KPD settings keep the test short; the sizes are reduced to the files anyway.
fast=(--fpd-points 5 --fpd-resamples 4 --kpd-batches 5)
run simulate_ref 0 "$qvae" simulate --events 500 --seed 1 --out "$work/ref.h5"
run simulate_gen 0 "$qvae" simulate --events 400 --seed 2 --out "$work/gen.h5"
run simulate_ds1 0 "$qvae" simulate --events 300 --seed 3 --geometry ds1-photons --energies ds1 --out "$work/ds1_ref.h5"
run simulate_ds1b 0 "$qvae" simulate --events 300 --seed 4 --geometry ds1-photons --energies ds1 --out "$work/ds1_gen.h5"

run evaluate_1 0 "$qvae" evaluate --reference "$work/ref.h5" --generated "$work/gen.h5" --out "$work/one" "${fast[@]}" --chunk-rows 100
check human_summary_names_fpd grep -q "fpd x 10^3" <<<"$err"
check metrics_have_the_documented_keys "$py" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["format"] == "qvae-metrics" and d["format_version"] == 1
assert d["geometry"] == "ds2" and d["events"] == {"reference": 500, "generated": 400}
s = d["separation_power"]["etot_over_einc"]
assert 0 <= s["value"] <= 1 and s["floor"] > 0, s
for name in ("e_tot", "sparsity_total", "voxel_energy", "e_layer_0", "ec_eta_44", "width_r_12", "sparsity_3"):
    assert d["separation_power"][name]["floor"] > 0, name
for key in ("fpd", "kpd"):
    assert isinstance(d[key]["value"], float) and d[key]["error"] >= 0 and d[key]["reduced"] is True and d[key]["note"], key
assert d["fpd"]["features"] == 362 and d["fpd"]["batch_sizes"][-1] == 400 and len(d["fpd"]["batch_sizes"]) == 5
assert len(d["conditional"]["energy_edges_mev"]) == 6 and len(d["conditional"]["separation_power"]["sparsity_total"]) == 5
' "$work/one/metrics.json"
check histograms_file_is_qvae_histograms_v1 "$py" -c '
import h5py, sys
f = h5py.File(sys.argv[1], "r")
assert f.attrs["format"] == "qvae-histograms" and int(f.attrs["format_version"]) == 1
assert len(f["histograms"]) == 4 + 45 * 8 + 1 and f["conditional/e_tot/reference"].shape == (5, 30)
g = f["histograms/etot_over_einc"]
assert g["edges"].shape == (101,) and g["reference"][:].sum() + g["outside"][0] == 500
' "$work/one/histograms.h5"
check no_temporary_files_left bash -c '! ls "$0"/*.tmp-* >/dev/null 2>&1' "$work/one"

run evaluate_2 0 "${mpi[@]}" "$qvae" evaluate --reference "$work/ref.h5" --generated "$work/gen.h5" --out "$work/two" "${fast[@]}" --chunk-rows 33 --json
check json_is_one_line_object [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ]
check json_equals_metrics_file "$py" -c '
import json, sys
assert json.loads(sys.argv[1]) == json.load(open(sys.argv[2]))' "$out" "$work/two/metrics.json"
check two_ranks_same_metrics_as_one "$py" -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert b["ranks"] == 2
for d in (a, b): d.pop("seconds"); d.pop("ranks")
assert a == b, [k for k in a if a[k] != b[k]]' "$work/one/metrics.json" "$work/two/metrics.json"
check two_ranks_same_histograms "$py" -c '
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
def same(name, obj):
    if isinstance(obj, h5py.Dataset): assert np.array_equal(obj[:], b[name][:], equal_nan=True), name
a.visititems(same)' "$work/one/histograms.h5" "$work/two/histograms.h5"

run evaluate_self 0 "$qvae" evaluate --reference "$work/ref.h5" --generated "$work/ref.h5" --out "$work/self" "${fast[@]}" --json
check self_has_zero_separation_and_small_distances "$py" -c '
import json, sys
d = json.loads(sys.argv[1])
assert all(s["value"] in (0.0, None) for s in d["separation_power"].values())
assert d["fpd"]["value"] <= 3 * d["fpd"]["error"] and abs(d["kpd"]["value"]) <= 3 * d["kpd"]["error"], (d["fpd"], d["kpd"])' "$out"

run geometry_mismatch 3 "${mpi[@]}" "$qvae" evaluate --reference "$work/ref.h5" --generated "$work/ds1_gen.h5" --out "$work/bad"
check geometry_mismatch_one_error_line one_error_line
check geometry_mismatch_names_both grep -q "different geometries: reference ds2 (6480 voxels), generated ds1-photons (368 voxels)" <<<"$err"
check geometry_mismatch_writes_nothing bash -c '! ls "$0"/metrics.json "$0"/histograms.h5 >/dev/null 2>&1' "$work/bad"
run missing_file 3 "$qvae" evaluate --reference "$work/nope.h5" --generated "$work/gen.h5" --out "$work/bad"
check missing_file_one_error_line one_error_line
run missing_option 2 "$qvae" evaluate --reference "$work/ref.h5" --out "$work/bad"
check missing_option_names_it grep -q "\-\-generated is missing" <<<"$err"
run model_without_data 2 "$qvae" evaluate --reference "$work/ref.h5" --generated "$work/gen.h5" --model m.h5 --out "$work/bad"
check model_without_data_names_it grep -q "\-\-data is missing" <<<"$err"
check model_without_data_one_error_line one_error_line
run bad_energy_edges 2 "$qvae" evaluate --reference "$work/ref.h5" --generated "$work/gen.h5" --out "$work/bad" --energy-edges 5,1
check bad_energy_edges_one_error_line one_error_line

# The report: ds1 (35 histograms) keeps plotting quick; training curves and log Z from synthetic files.
run evaluate_ds1 0 "$qvae" evaluate --reference "$work/ds1_ref.h5" --generated "$work/ds1_gen.h5" --out "$work/ds1" "${fast[@]}" --energy-bins 3
"$py" -c '
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["format"] = "qvae-history"; f["epoch"] = np.arange(1, 11)
    f["train_loss"] = np.linspace(3, 1, 10); f["val_loss"] = np.linspace(3.2, 1.3, 10); f["lr"] = np.full(10, 1e-3)
with h5py.File(sys.argv[2], "w") as f:
    f.attrs["format"] = "qvae-logz"; f["epoch"] = np.arange(1, 11, 3)
    f["log_z_ais"] = [10.0, 20, 25, 27]; f["log_z_ais_error"] = [0.5, 0.4, 0.4, 0.3]; f["ll_trained"] = [-90.0, -70, -65, -62]
' "$work/history.h5" "$work/ds1/logz.h5"
run plot_report 0 "$py" "$plot_report" "$work/ds1" --history "$work/history.h5" --jobs 2
check report_has_index [ -s "$work/ds1/index.html" ]
check report_has_a_png_per_histogram "$py" -c '
import h5py, os, sys
d = sys.argv[1]
with h5py.File(os.path.join(d, "histograms.h5"), "r") as f:
    expected = [f"hist_{n}.png" for n in f["histograms"]] + [f"cond_{n}.png" for n in f["conditional"]]
pngs = set(os.listdir(os.path.join(d, "plots")))
missing = [p for p in expected + ["training_curves.png", "logz_ll.png"] if p not in pngs]
assert not missing, missing
html = open(os.path.join(d, "index.html")).read()
assert all(f"plots/{p}" in html for p in expected) and "FPD" in html and "etot_over_einc" in html
assert all(open(os.path.join(d, "plots", p), "rb").read(8) == b"\x89PNG\r\n\x1a\n" for p in pngs)' "$work/ds1"
run plot_report_without_training_files 0 "$py" "$plot_report" "$work/one" --jobs 2
check report_notes_missing_history grep -q "history.h5" "$work/one/index.html"
check report_draws_ds2_conditionals [ -s "$work/one/plots/cond_sparsity_total.png" ]
run plot_report_missing_dir 3 "$py" "$plot_report" "$work/nowhere"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
