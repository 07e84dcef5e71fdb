#!/usr/bin/env bash
# usage: test_classifier_cli.sh QVAE PLOT_REPORT MPIEXEC [MPIEXEC_FLAGS...]
# `qvae evaluate --classifier` from the outside: the metrics.json and
# histograms.h5 fields, --json, config keys, 2 ranks vs 1, too few showers
# (exit 3, one error line, nothing written) and the report's ROC plot.
set -u
qvae=$1; plot_report=$2; shift 2
mpi=("$@" -np 2)
source "$(dirname "${BASH_SOURCE[0]}")/../cli_harness.sh"

# A small network and few epochs: this checks the plumbing, test_classifier the statistics.
small=(--classifier.hidden=32 --classifier.layers=1 --classifier.epochs=3 --classifier.batch_size=100
       --classifier.lr=1e-3 --classifier.threads=1 --no-fpd --no-kpd)
run simulate_ref 0 "$qvae" simulate --events 500 --seed 1 --out "$work/ref.h5"
run simulate_gen 0 "$qvae" simulate --events 400 --seed 2 --out "$work/gen.h5"
run simulate_tiny 0 "$qvae" simulate --events 4 --seed 3 --out "$work/tiny.h5"

run classifier_high 0 "$qvae" evaluate --reference "$work/ref.h5" --generated "$work/gen.h5" --out "$work/one" \
    --classifier high "${small[@]}"
check summary_names_the_auc grep -q "classifier (high, 362 inputs, 80 validation showers per class): AUC" <<<"$err"
check metrics_have_the_classifier_fields "$py" -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = d["classifier"]["high"]
assert list(d["classifier"]) == ["high"]
for key in ("auc", "jsd", "auc_uncalibrated", "jsd_uncalibrated", "accuracy"):
    assert isinstance(c[key], float), key
assert 0 <= c["auc"] <= 1 and 0 <= c["auc_uncalibrated"] <= 1 and c["jsd"] <= 1
assert 1 <= c["best_epoch"] <= c["epochs_run"] <= 3 and c["features"] == 362
assert c["events_per_class"] == {"used": 400, "train": 240, "test": 80, "validation": 80}
assert c["network"]["hidden"] == 32 and c["network"]["layers"] == 1 and c["training"]["epochs"] == 3
assert c["training"]["lr"] == 1e-3 and c["seed"] == 42' "$work/one/metrics.json"
check histograms_have_the_roc_curve "$py" -c '
import h5py, json, numpy as np, sys
f = h5py.File(sys.argv[1], "r")
g = f["classifier/high"]
fpr, tpr = g["roc_fpr"][:], g["roc_tpr"][:]
assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
auc = json.load(open(sys.argv[2]))["classifier"]["high"]["auc"]
assert abs(np.trapz(tpr, fpr) - auc) < 1e-12, (np.trapz(tpr, fpr), auc)
assert g.attrs["auc"] == auc and 1 <= len(g["test_accuracy"]) <= 3 and len(g["train_loss"]) == len(g["test_accuracy"])
' "$work/one/histograms.h5" "$work/one/metrics.json"

run classifier_two_ranks 0 "${mpi[@]}" "$qvae" evaluate --reference "$work/ref.h5" --generated "$work/gen.h5" \
    --out "$work/two" --classifier both "${small[@]}" --json
check json_has_both_classifiers json_is 'set(d["classifier"]) == {"low", "high"} and d["classifier"]["low"]["features"] == 6481'
check two_ranks_agree_with_one "$py" -c '
import json, sys
a, b = (json.load(open(p))["classifier"]["high"] for p in sys.argv[1:3])
for key in ("auc", "jsd", "auc_uncalibrated", "jsd_uncalibrated"):
    assert abs(a[key] - b[key]) < 1e-9, (key, a[key], b[key])
assert a["best_epoch"] == b["best_epoch"]' "$work/one/metrics.json" "$work/two/metrics.json"

run bad_mode 2 "$qvae" evaluate --reference "$work/ref.h5" --generated "$work/gen.h5" --out "$work/bad" --classifier mid
check bad_mode_one_error_line one_error_line
run bad_key 2 "$qvae" evaluate --reference "$work/ref.h5" --generated "$work/gen.h5" --out "$work/bad" \
    --classifier high --classifier.epochs=0
check bad_key_one_error_line one_error_line
run too_few_showers 3 "${mpi[@]}" "$qvae" evaluate --reference "$work/ref.h5" --generated "$work/tiny.h5" \
    --out "$work/few" --classifier high "${small[@]}"
check too_few_one_error_line one_error_line
check too_few_names_the_split grep -q "too few showers for the classifier split" <<<"$err"
check too_few_writes_nothing bash -c '[ -z "$(ls -A "$0" 2>/dev/null)" ]' "$work/few"

run plot_report 0 "$py" "$plot_report" "$work/two" --jobs 2 --only etot_over_einc
check report_draws_the_roc [ -s "$work/two/plots/classifier_roc.png" ]
check report_lists_the_auc grep -q "classifier AUC / JSD (high-level" "$work/two/index.html"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
