#!/usr/bin/env bash
# usage: test_report_summary_cli.sh QVAE PLOT_REPORT
# The one-screen summary of tools/plot_report.py on real `qvae evaluate` outputs:
# a data-vs-data report (two independent simulated samples) and a report of
# showers simulated with a 30 % higher detector response.  Checks that the
# summary comes first, that every traffic light follows the documented rule
# (docs/evaluation.md "Report") for the values in metrics.json, that the
# data-vs-data column is the --reference-report's numbers, the model-side and
# classifier rows, the training-curve panels, and the errors of a bad
# --reference-report.
set -u
qvae=$1; plot_report=$2; shift 2
source "$(dirname "${BASH_SOURCE[0]}")/../cli_harness.sh"

# ds1-photons (368 voxels, 5 layers) keeps the test short; small FPD/KPD settings too.
sim=(simulate --events 600 --geometry ds1-photons --energies ds1)
fast=(--fpd-points 4 --fpd-resamples 3 --kpd-batches 4 --energy-bins 4)
run simulate_a 0 "$qvae" "${sim[@]}" --seed 1 --out "$work/a.h5"
run simulate_b 0 "$qvae" "${sim[@]}" --seed 2 --out "$work/b.h5"
run simulate_scaled 0 "$qvae" "${sim[@]}" --seed 3 --sim.response_scale=1.3 --out "$work/c.h5"
run evaluate_data_vs_data 0 "$qvae" evaluate --reference "$work/a.h5" --generated "$work/b.h5" --out "$work/dd" "${fast[@]}"
run evaluate_scaled 0 "$qvae" evaluate --reference "$work/a.h5" --generated "$work/c.h5" --out "$work/gen" "${fast[@]}"
check scaled_response_separates_etot_over_einc "$py" -c '
import json, sys
s = json.load(open(sys.argv[1]))["separation_power"]["etot_over_einc"]["value"]
assert s > 0.2, s  # a 30 % shift of E_tot/E_inc against a ~few % resolution' "$work/gen/metrics.json"

# A history.h5 with the columns of `qvae train` (docs/training.md "History").
"$py" -c '
import h5py, numpy as np, sys
e = np.arange(1, 13, dtype=float)
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["format"] = "qvae-history"
    c = {"epoch": e, "lr": np.full(12, 1e-3), "beta": np.linspace(1, 50, 12), "is_best": (e == 11).astype(float),
         "train_loss": 2000 / e, "val_loss": 2100 / e, "train_ae_loss": 1500 / e**1.5, "val_ae_loss": 1600 / e**1.5,
         "train_hit_loss": 400 - e, "val_hit_loss": 410 - e, "train_kl_loss": -250 - e, "val_kl_loss": -255 - e,
         "train_layer_loss": np.zeros(12), "val_layer_loss": np.zeros(12), "val_recon_chi2": 30 / e,
         "val_ll": np.where(e % 5 == 0, -80 + e, np.nan), "showers_per_s": np.full(12, 900.0)}
    for k, v in c.items(): f[k] = v
' "$work/history.h5"

run report_with_reference 0 "$py" "$plot_report" "$work/gen" --reference-report "$work/dd" --history "$work/history.h5" --jobs 2
run report_data_vs_data 0 "$py" "$plot_report" "$work/dd" --jobs 2 --only etot_over_einc

# The rule, written out again here from docs/evaluation.md, applied to metrics.json.
cat >"$work/summary.py" <<'PY'
import html.parser, json, math, os, sys

def light_s(s, floor):
    if s is None: return "none"
    if s <= 0.05 or (floor is not None and s <= 3 * floor): return "green"
    return "amber" if s <= 0.2 else "red"

class Summary(html.parser.HTMLParser):
    """Rows of the summary tables: (tr class, text of the first cell, texts of the others, classes of the chips)."""
    def __init__(self):
        super().__init__(); self.rows = []; self.in_summary = False; self.h2_before_summary = False
        self.cell = None; self.chips = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "h2" and not self.rows: self.h2_before_summary = True
        if tag == "table": self.in_summary = a.get("class") == "summary"
        if not self.in_summary: return
        if tag == "tr": self.rows.append([a.get("class"), [], []])
        if tag in ("td", "th"): self.cell = []
        if tag == "span" and "chip" in (a.get("class") or ""): self.rows[-1][2].append(a["class"].split()[1])
    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.in_summary:
            self.rows[-1][1].append("".join(self.cell).strip()); self.cell = None
        if tag == "table": self.in_summary = False
    def handle_data(self, data):
        if self.cell is not None: self.cell.append(data)

def parse(directory):
    p = Summary(); p.feed(open(os.path.join(directory, "index.html")).read())
    return p, {r[1][0]: r for r in p.rows}

def number(text):
    return None if text == "n/a" else float(text.split()[0])
PY

check summary_comes_first_with_every_family "$py" -c '
import sys; sys.path.insert(0, sys.argv[1]); from summary import *
p, rows = parse(sys.argv[2])
assert not p.h2_before_summary, "a section comes before the summary"
for label in ("Etot/Einc", "Etot", "Elayer, mean of 5 layers", "sparsity, total", "sparsity, mean of 5 layers",
              "shower centres η, φ, r, mean of 9", "shower widths η, φ, r, mean of 9", "voxel energy spectrum",
              "Etot/Einc per Einc bin [GeV]", "FPD × 103", "KPD × 103"):
    assert label in rows, (label, list(rows))
assert any(k.startswith("Elayer, worst layer (e_layer_") for k in rows) and any(k.startswith("sparsity, worst layer (") for k in rows)
' "$work" "$work/gen"
check traffic_lights_follow_the_rule "$py" -c '
import json, sys; sys.path.insert(0, sys.argv[1]); from summary import *
m, dd = (json.load(open(f"{d}/metrics.json")) for d in sys.argv[2:4])
p, rows = parse(sys.argv[2])
sp = m["separation_power"]
for label, name in (("Etot/Einc", "etot_over_einc"), ("Etot", "e_tot"), ("sparsity, total", "sparsity_total"),
                    ("voxel energy spectrum", "voxel_energy")):
    cls, cells, _ = rows[label]
    assert cls == light_s(sp[name]["value"], sp[name]["floor"]), (label, cls)
    assert math.isclose(number(cells[1]), sp[name]["value"], rel_tol=6e-3), (label, cells)
    assert math.isclose(number(cells[3]), dd["separation_power"][name]["value"], rel_tol=6e-3), (label, cells)
assert rows["Etot/Einc"][0] == "red", rows["Etot/Einc"]
layers = [n for n in sp if n.startswith("e_layer_")]
mean = sum(sp[n]["value"] for n in layers) / len(layers); floor = sum(sp[n]["floor"] for n in layers) / len(layers)
assert rows["Elayer, mean of 5 layers"][0] == light_s(mean, floor) and math.isclose(number(rows["Elayer, mean of 5 layers"][1][1]), mean, rel_tol=6e-3)
bins = m["conditional"]["separation_power"]["etot_over_einc"]
chips = rows["Etot/Einc per Einc bin [GeV]"][2]
assert chips == [light_s(b["value"], b["floor"]) for b in bins] and len(chips) == 4, chips
for key in ("fpd", "kpd"):
    v, r = m[key], dd[key]
    cls, cells, _ = rows[f"{key.upper()} × 103"]
    green = v["value"] - r["value"] <= 3 * math.hypot(v["error"], r["error"])
    assert (cls == "green") == green and cls in ("green", "amber", "red"), (key, cls, v, r)
    assert math.isclose(number(cells[2]), r["value"], rel_tol=6e-3), (key, cells)
' "$work" "$work/gen" "$work/dd"
check data_vs_data_is_green_and_has_no_reference_column "$py" -c '
import sys; sys.path.insert(0, sys.argv[1]); from summary import *
p, rows = parse(sys.argv[2])
cls, cells, _ = rows["Etot/Einc"]
assert cls == "green" and cells[3] == "n/a", (cls, cells)
assert rows["FPD × 103"][0] == "none" and rows["FPD × 103"][1][2] == "n/a", rows["FPD × 103"]
' "$work" "$work/dd"
check key_plots_come_first "$py" -c '
import re, sys
page = open(sys.argv[1]).read()
sections = re.findall(r"<h2>(.*?)</h2>", page[page.index("</details>"):])
assert sections[0] == "Key plots", sections
key = page[page.index("<h2>Key plots</h2>"):].split("<h2>")[1]
order = [k for k in re.findall(r"src=\"plots/([^\"]+)\"", key)]
assert order[:3] == ["hist_etot_over_einc.png", "cond_etot_over_einc.png", "separation_by_layer.png"], order
assert "hist_sparsity_total.png" in order and any(o.startswith("hist_e_layer_") for o in order), order
assert "plots/training_curves.png" in page and "S: green &le; 0.05 or &le; 3&times; its floor" in page
' "$work/gen/index.html"
check training_panels_are_the_loss_terms_that_matter "$py" -c '
import importlib.util, sys
spec = importlib.util.spec_from_file_location("plot_report", sys.argv[1]); r = importlib.util.module_from_spec(spec)
spec.loader.exec_module(r)
epochs, panels = r.history_panels(r.read_history(sys.argv[2]))
titles = [t.split(" (")[0] for t, _, _ in panels]
assert titles == ["total loss", "ae_loss", "hit_loss", "kl_loss", "val_recon_chi2", "val_ll"], titles  # layer_loss is all 0
logs = {t.split(" (")[0]: log for t, _, log in panels}
assert logs == {"total loss": True, "ae_loss": True, "hit_loss": False, "kl_loss": False, "val_recon_chi2": True,
                "val_ll": False}, logs
labels = {t.split(" (")[0]: [label for label, _ in c] for t, c, _ in panels}
assert labels["ae_loss"] == ["train", "validation"] and labels["val_ll"] == ["validation"], labels
' "$plot_report" "$work/history.h5"

# Model-side and classifier rows: metrics.json and histograms.h5 given the keys of
# `evaluate --model --data` and `--classifier` (docs/formats.md), with values on
# each side of the thresholds.
cp -r "$work/gen" "$work/model"
"$py" -c '
import h5py, json, sys
d = sys.argv[1]; m = json.load(open(d + "/metrics.json"))
m["rbm_energy"] = {"overlap": 0.55, "separation_power": {"value": 0.3, "floor": 0.01}}
m["reconstruction"] = {"etot_relative_error_mean": -0.03, "etot_relative_error_std": 0.1, "etot_over_einc": {"chi2_per_bin": 4.0}}
m["classifier"] = {"high": {"auc": 0.95, "jsd": 0.6, "features": 30}, "low": {"auc": 0.55, "jsd": 0.01, "features": 369}}
json.dump(m, open(d + "/metrics.json", "w"))
with h5py.File(d + "/histograms.h5", "a") as f:
    for inputs, auc in (("high", 0.95), ("low", 0.55)):
        g = f.create_group("classifier/" + inputs); g.attrs["auc"] = auc; g.attrs["jsd"] = 0.1
        g["roc_fpr"] = [0.0, 0.2, 1.0]; g["roc_tpr"] = [0.0, 0.9 if auc > 0.9 else 0.3, 1.0]
' "$work/model"
run report_model_side 0 "$py" "$plot_report" "$work/model" --jobs 2 --only etot_over_einc
check model_and_classifier_lights "$py" -c '
import os, sys; sys.path.insert(0, sys.argv[1]); from summary import *
p, rows = parse(sys.argv[2])
assert rows["RBM energy overlap, encoded vs Gibbs"][0] == "amber", rows
assert rows["reconstruction Etot error (mean ± std)"][0] == "green", rows
assert rows["classifier AUC (high-level)"][0] == "red" and rows["classifier AUC (low-level)"][0] == "green", rows
assert rows["classifier AUC (low-level)"][1][2] == "n/a"
assert os.path.getsize(os.path.join(sys.argv[2], "plots", "classifier_roc.png")) > 0
' "$work" "$work/model"

# A bad --reference-report: exit 3, one error line, no report written.
rm -f "$work/model/index.html"
run reference_report_missing 3 "$py" "$plot_report" "$work/model" --reference-report "$work/nowhere"
check reference_report_missing_says_how grep -q "plot_report: error: .*metrics.json not found, run \`qvae evaluate" <<<"$err"
mkdir "$work/ds2dd" && "$py" -c '
import json, sys; m = json.load(open(sys.argv[1])); m["geometry"] = "ds2"; json.dump(m, open(sys.argv[2], "w"))' \
  "$work/dd/metrics.json" "$work/ds2dd/metrics.json"
run reference_report_other_geometry 3 "$py" "$plot_report" "$work/model" --reference-report "$work/ds2dd"
check reference_report_other_geometry_names_both grep -q "geometry ds2, this report for ds1-photons" <<<"$err"
check bad_reference_report_one_line_no_output bash -c '[ "$(wc -l <<<"$1")" -eq 1 ] && [ ! -e "$2/index.html" ]' _ "$err" "$work/model"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
