#!/usr/bin/python3
"""Render the report of `qvae evaluate`: a PNG per histogram and DIR/index.html.

usage: tools/plot_report.py DIR [--history FILE] [--logz FILE] [--reference-report DIR]
                            [--only PATTERN]... [--jobs N] [--dpi N]

Reads DIR/histograms.h5 ("histograms v1", docs/formats.md) and DIR/metrics.json,
and writes DIR/plots/*.png and DIR/index.html.  The page opens with a one-screen
summary: S per feature family with its floor and a traffic light, E_tot/E_inc
per incident-energy bin, FPD/KPD, the model-side and classifier scores, and a
data-vs-data column from --reference-report (the report of `qvae evaluate` on
two independent data samples); docs/evaluation.md ("Report") gives the rules.
The key plots follow, then every histogram, drawn reference vs generated,
normalised to unit area as evaluate.py does, with a generated/reference ratio
panel; conditional histograms get one panel per incident-energy bin.  With the
model-side groups of `qvae evaluate --model --data` (rbm_energy, reconstruction)
it also draws the RBM energies of encoded data vs Gibbs samples and E_tot/E_inc
of data vs reconstruction, and with the classifier group the ROC curves.
Training curves (the loss terms, train and validation) come from a run's
history.h5 and log Z / LL over epochs from logz.h5 (layouts in docs/formats.md):
given with --history/--logz, or found as DIR/history.h5 and DIR/logz.h5; absent
files are skipped with a note.

Needs Debian's python3-matplotlib and python3-h5py (run it with /usr/bin/python3).
"""
import argparse
import fnmatch
import html
import json
import math
import multiprocessing
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

REFERENCE_STYLE = dict(color="#1f77b4", alpha=0.25, label="reference")
GENERATED_STYLE = dict(color="#d62728", linewidth=1.6, label="generated")
# Families evaluate.py draws on a log y axis (energies, positions, widths).
LOG_Y_FAMILIES = {"e_layer", "ec_eta", "ec_phi", "ec_r", "width_eta", "width_phi", "width_r", "voxel_energy", "e_tot"}


def natural_key(name):
    """'e_layer_10' after 'e_layer_9'."""
    head, _, tail = name.rpartition("_")
    return (head, int(tail)) if tail.isdigit() else (name, -1)


def text_attr(group, name, default=""):
    value = group.attrs.get(name, default)
    return value.decode() if isinstance(value, bytes) else str(value)


def unit_area(counts, edges):
    """Density as numpy.histogram(density=True): counts / (total * width)."""
    total = counts.sum()
    widths = np.diff(edges)
    if total == 0:
        return np.zeros_like(widths, dtype=float), np.zeros_like(widths, dtype=float)
    return counts / (total * widths), np.sqrt(counts) / (total * widths)


def draw_pair(ax, ratio_ax, edges, reference, generated, log_x, log_y):
    """One reference-vs-generated panel and its ratio panel."""
    ref_density, ref_error = unit_area(reference, edges)
    gen_density, _ = unit_area(generated, edges)
    ax.stairs(ref_density, edges, fill=True, **REFERENCE_STYLE)
    ax.stairs(gen_density, edges, **GENERATED_STYLE)
    positive = np.concatenate([ref_density[ref_density > 0], gen_density[gen_density > 0]])
    if log_y and positive.size:
        ax.set_yscale("log")
        # At most 7 decades below the peak, and no minor ticks: they cost more than the plot.
        ax.set_ylim(max(positive.min() / 2, positive.max() * 1e-7), positive.max() * 2)
        ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_ylabel("density")
    centres = 0.5 * (edges[1:] + edges[:-1]) if not log_x else np.sqrt(edges[1:] * edges[:-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(ref_density > 0, gen_density / ref_density, np.nan)
        band = np.where(ref_density > 0, ref_error / ref_density, np.nan)
    ratio_ax.stairs(np.where(np.isfinite(1 + band), 1 + band, np.nan), edges,
                    baseline=np.where(np.isfinite(1 - band), 1 - band, np.nan), fill=True, color="#1f77b4", alpha=0.2)
    low, high = 0.5, 1.5
    inside = (ratio >= low) & (ratio <= high)
    ratio_ax.plot(centres[inside], ratio[inside], "o", color="#d62728", markersize=2.5)
    # Ratios off the panel are drawn at its edge as arrows, so they stay visible.
    ratio_ax.plot(centres[ratio > high], np.full((ratio > high).sum(), high - 0.03), "^", color="#d62728", markersize=3)
    ratio_ax.plot(centres[ratio < low], np.full((ratio < low).sum(), low + 0.03), "v", color="#d62728", markersize=3)
    ratio_ax.axhline(1.0, color="black", linewidth=0.8)
    ratio_ax.set_ylim(low, high)
    ratio_ax.set_ylabel("gen / ref")
    for a in (ax, ratio_ax):
        if log_x:
            a.set_xscale("log")
            a.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        a.set_xlim(edges[0], edges[-1])
    ax.tick_params(labelbottom=False)


def plot_histogram(task):
    path, name, out, dpi = task
    with h5py.File(path, "r") as f:
        g = f["histograms"][name]
        edges, reference, generated = g["edges"][:], g["reference"][:], g["generated"][:]
        label, family = text_attr(g, "label", name), text_attr(g, "family")
        log_x = int(g.attrs.get("log_x", 0)) == 1
        separation = float(g.attrs.get("separation_power", np.nan))
        floor = float(g.attrs.get("separation_power_floor", np.nan))
    fig, (ax, ratio_ax) = plt.subplots(2, 1, figsize=(5.2, 4.6), sharex=True, gridspec_kw=dict(height_ratios=[3, 1]))
    draw_pair(ax, ratio_ax, edges, reference, generated, log_x, family in LOG_Y_FAMILIES)
    ax.set_title(f"{name}   S = {separation:.4g} (floor {floor:.2g})", fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    ratio_ax.set_xlabel(label)
    # Fixed margins: tight_layout would measure every tick label and dominate the run time.
    fig.subplots_adjust(left=0.15, right=0.97, top=0.93, bottom=0.11, hspace=0.06)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def plot_conditional(task):
    path, name, out, dpi = task
    with h5py.File(path, "r") as f:
        g = f["conditional"][name]
        energy_edges, edges = g["energy_edges"][:], g["edges"][:]
        reference, generated = g["reference"][:], g["generated"][:]
        separation, floor = g["separation_power"][:], g["separation_power_floor"][:]
        label, family = text_attr(g, "label", name), text_attr(g, "family")
        log_x = int(g.attrs.get("log_x", 0)) == 1
    bins = len(energy_edges) - 1
    columns = min(bins, 5)
    rows = math.ceil(bins / columns)
    fig = plt.figure(figsize=(3.4 * columns, 3.6 * rows))
    grid = fig.add_gridspec(2 * rows, columns, height_ratios=[3, 1] * rows)
    for k in range(bins):
        r, c = divmod(k, columns)
        ax = fig.add_subplot(grid[2 * r, c])
        ratio_ax = fig.add_subplot(grid[2 * r + 1, c], sharex=ax)
        draw_pair(ax, ratio_ax, edges[k], reference[k], generated[k], log_x, family in LOG_Y_FAMILIES)
        ax.set_title(f"E_inc {energy_edges[k] / 1e3:.3g}-{energy_edges[k + 1] / 1e3:.3g} GeV\n"
                     f"S = {separation[k]:.3g} (floor {floor[k]:.2g}), n = {reference[k].sum()}/{generated[k].sum()}",
                     fontsize=8)
        ratio_ax.set_xlabel(label, fontsize=8)
        if k == 0:
            ax.legend(fontsize=7, frameon=False)
    fig.suptitle(f"{name} per incident-energy bin", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def plot_histogram_pair(path, group, names, labels, xlabel, title, out, dpi):
    """Two unit-area histograms of one group (shared `edges`); `title` formats the group's attributes."""
    with h5py.File(path, "r") as f:
        g = f[group]
        edges, first, second = g["edges"][:], g[names[0]][:], g[names[1]][:]
        attributes = {k: float(v) for k, v in g.attrs.items() if np.isscalar(v) and not isinstance(v, (str, bytes))}
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    ax.stairs(unit_area(first, edges)[0], edges, fill=True, color="#1f77b4", alpha=0.3, label=labels[0])
    ax.stairs(unit_area(second, edges)[0], edges, color="#d62728", linewidth=1.6, label=labels[1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title(lambda key: attributes.get(key, np.nan)), fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)


def plot_rbm_energy(path, out, dpi):
    plot_histogram_pair(path, "rbm_energy", ("encoded", "gibbs"), ("encoded data", "Gibbs samples"),
                        "RBM energy E(z)",
                        lambda a: f"RBM energies: overlap {a('overlap'):.3f}, S = {a('separation_power'):.3g}",
                        out, dpi)


def plot_reconstruction(path, out, dpi):
    plot_histogram_pair(path, "reconstruction", ("data", "reconstruction"), ("data", "reconstruction"),
                        "E_tot / E_inc",
                        lambda a: f"encode -> decode: chi2 {a('chi2'):.4g}, S = {a('separation_power'):.3g}",
                        out, dpi)


def plot_classifier_roc(path, out, dpi):
    """ROC curves of the classifier test (histograms.h5 classifier/<inputs>/roc_fpr, roc_tpr), AUC in the legend."""
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    with h5py.File(path, "r") as f:
        for inputs in sorted(f["classifier"].keys()):
            g = f["classifier"][inputs]
            if "roc_fpr" not in g or "roc_tpr" not in g:
                continue
            ax.plot(g["roc_fpr"][:], g["roc_tpr"][:], linewidth=1.6,
                    label=f"{inputs}-level inputs: AUC {float(g.attrs.get('auc', np.nan)):.3f}, "
                          f"JSD {float(g.attrs.get('jsd', np.nan)):.3f}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="indistinguishable (AUC 0.5)")
    ax.set_xlabel("false positive rate (generated called reference)")
    ax.set_ylabel("true positive rate (reference)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("classifier two-sample test (calibrated)", fontsize=9)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)


def plot_separation_by_layer(metrics, reference, out, dpi):
    """S per calorimeter layer for each per-layer family, with its floor and the traffic-light thresholds."""
    panels = ((("e_layer", "sparsity"), "energy and sparsity per layer"),
              (("ec_eta", "ec_phi", "ec_r", "width_eta", "width_phi", "width_r"), "centres and widths per layer"))
    panels = [(families, title) for families, title in panels
              if any(layer_features(metrics, family) for family in families)]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5.4 * len(panels), 3.6), squeeze=False)
    for ax, (families, title) in zip(axes.flat, panels):
        values = []
        for k, family in enumerate(families):
            names = layer_features(metrics, family)
            if not names:
                continue
            layers = [int(n.rpartition("_")[2]) for n in names]
            s = np.array([separation(metrics, n)[0] or np.nan for n in names])
            floor = np.array([separation(metrics, n)[1] or np.nan for n in names])
            colour = f"C{k}"
            ax.plot(layers, s, marker="o", markersize=2.5, linewidth=1.2, color=colour, label=family)
            ax.plot(layers, floor, linestyle="--", linewidth=0.8, color=colour)
            if reference is not None:
                dd = np.array([separation(reference, n)[0] or np.nan for n in names])
                ax.plot(layers, dd, linestyle=":", linewidth=1.0, color=colour)
                values.append(dd)
            values += [s, floor]
        ax.axhline(S_GREEN, color="#3a3", linewidth=0.8)
        ax.axhline(S_AMBER, color="#d33", linewidth=0.8)
        finite = np.concatenate(values)
        finite = finite[np.isfinite(finite) & (finite > 0)]
        ax.set_yscale("log")
        if finite.size:
            ax.set_ylim(min(finite.min(), S_GREEN) / 2, max(finite.max(), S_AMBER) * 2)
        ax.set_xlabel("layer")
        ax.set_ylabel("separation power S")
        note = "dashed: floor; dotted: data vs data" if reference is not None else "dashed: floor"
        ax.set_title(f"{title} ({note}; lines at {S_GREEN}, {S_AMBER})", fontsize=8)
        ax.legend(fontsize=7, frameon=False, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def numeric_series(f, length=None):
    """1-D numeric datasets of a file, by path, optionally of one length."""
    found = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.ndim == 1 and obj.dtype.kind in "fiu":
            if length is None or obj.shape[0] == length:
                found[name] = obj[:].astype(float)
    f.visititems(visit)
    return found


# The loss terms a physicist follows (history columns, docs/training.md "History"):
# (panel title, train column, validation column, drawn only when some value is non-zero).
HISTORY_PANELS = (
    ("total loss (train: optimised; val: ae + hit + layer + kl)", "train_loss", "val_loss", False),
    ("ae_loss (energy reconstruction)", "train_ae_loss", "val_ae_loss", False),
    ("hit_loss (hit / no-hit)", "train_hit_loss", "val_hit_loss", False),
    ("kl_loss (KL to the prior up to log Z)", "train_kl_loss", "val_kl_loss", False),
    ("layer_loss (layer-energy head)", "train_layer_loss", "val_layer_loss", True),
    ("val_recon_chi2 (E_tot/E_inc of reconstructions)", None, "val_recon_chi2", False),
    ("val_ll (LL of encoded validation codes)", None, "val_ll", False),
)


def log_scale_helps(values):
    """Positive values spanning more than one decade read better on a log axis."""
    finite = values[np.isfinite(values)]
    return finite.size > 1 and finite.min() > 0 and finite.max() > 10 * finite.min()


def read_history(path):
    """The 1-D numeric columns at the root of a history.h5, by name."""
    with h5py.File(path, "r") as f:
        return {name: f[name][:].astype(float) for name in f
                if isinstance(f[name], h5py.Dataset) and f[name].ndim == 1 and f[name].dtype.kind in "fiu"}


def history_panels(columns):
    """(epochs, [(title, [(label, values)], log y)]): the panels of HISTORY_PANELS that have finite data."""
    epochs = columns.get("epoch")
    length = len(epochs) if epochs is not None else max((len(v) for v in columns.values()), default=0)
    if epochs is None:
        epochs = np.arange(1, length + 1, dtype=float)
    panels = []
    for title, train, validation, only_if_nonzero in HISTORY_PANELS:
        curves = [(label, columns[name]) for label, name in (("train", train), ("validation", validation))
                  if name in columns and len(columns[name]) == length and np.isfinite(columns[name]).any()]
        if only_if_nonzero and not any(np.any(v[np.isfinite(v)] != 0) for _, v in curves):
            continue
        if curves:
            panels.append((title, curves, log_scale_helps(np.concatenate([v for _, v in curves]))))
    return epochs, panels


def plot_history(path, out, dpi):
    """history.h5 of `qvae train`: one panel per loss term, train and validation on one axis."""
    columns = read_history(path)
    epochs, panels = history_panels(columns)
    length = len(epochs)
    if not panels:
        return None, "none of the loss columns (train_loss, val_loss, train_ae_loss, ...) in " + path
    best = epochs[columns["is_best"] == 1] if "is_best" in columns and len(columns["is_best"]) == length else []
    columns_per_row = min(4, len(panels))
    rows = math.ceil(len(panels) / columns_per_row)
    fig, axes = plt.subplots(rows, columns_per_row, figsize=(4.2 * columns_per_row, 3.0 * rows), squeeze=False)
    marker = "o" if length <= 30 else None  # a few epochs are points, not lines
    for ax, (title, curves, log_y) in zip(axes.flat, panels):
        for label, values in curves:
            finite = np.isfinite(values)  # val_ll exists only every train.ll_every epochs
            ax.plot(epochs[finite], values[finite], label=label, linewidth=1.3, marker=marker, markersize=3,
                    color="#1f77b4" if label == "train" else "#d62728")
        if log_y:
            ax.set_yscale("log")
        for epoch in best[-1:]:
            ax.axvline(epoch, color="grey", linestyle=":", linewidth=1)
        ax.set_title(title, fontsize=8.5)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7, frameon=False)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if len(best):
        fig.suptitle(f"training curves (dotted: best epoch {best[-1]:.0f})", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out, None


def plot_logz(path, out, dpi):
    """logz.h5: `epoch` (E,), log Z estimates `log_z*` (E,) with optional `<name>_error`,
    and log-likelihoods `ll*` (E,)."""
    with h5py.File(path, "r") as f:
        if "epoch" not in f:
            return None, "no 'epoch' dataset in " + path
        epochs = f["epoch"][:].astype(float)
        series = numeric_series(f, len(epochs))
    logz = {k: v for k, v in series.items() if k.split("/")[-1].startswith("log_z") and not k.endswith("_error")}
    ll = {k: v for k, v in series.items() if k.split("/")[-1].startswith("ll") and not k.endswith("_error")}
    if not logz and not ll:
        return None, "no log_z* or ll* series in " + path
    panels = [(t, s) for t, s in (("log Z", logz), ("log-likelihood", ll)) if s]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.6), squeeze=False)
    for ax, (title, curves) in zip(axes.flat, panels):
        for name, values in sorted(curves.items()):
            error = series.get(name + "_error")
            ax.errorbar(epochs, values, yerr=error, label=name, marker="o", markersize=3, capsize=2, linewidth=1.2)
        ax.set_xlabel("epoch")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out, None


def fmt(value, digits=4):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return html.escape(str(value))


# Traffic lights of the summary; docs/evaluation.md ("Report") gives the rules and why.
S_GREEN, S_AMBER, S_FLOOR_FACTOR = 0.05, 0.2, 3.0
AUC_GREEN, AUC_AMBER = 0.6, 0.9
OVERLAP_GREEN, OVERLAP_AMBER = 0.7, 0.4
RELATIVE_ERROR_GREEN, RELATIVE_ERROR_AMBER = 0.05, 0.2
DISTANCE_SIGMAS, DISTANCE_AMBER_FACTOR = 3.0, 10.0
LEGEND = (f"S: green &le; {S_GREEN} or &le; {S_FLOOR_FACTOR:g}&times; its floor, amber &le; {S_AMBER}, red above; "
          f"FPD/KPD: green within {DISTANCE_SIGMAS:g}&sigma; of data vs data, amber &le; {DISTANCE_AMBER_FACTOR:g}&times; "
          f"(data vs data + {DISTANCE_SIGMAS:g}&sigma;), red above; classifier AUC: green &le; {AUC_GREEN}, "
          f"amber &le; {AUC_AMBER}; RBM energy overlap: green &ge; {OVERLAP_GREEN}, amber &ge; {OVERLAP_AMBER}; "
          f"reconstruction |E<sub>tot</sub> error|: green &le; {RELATIVE_ERROR_GREEN:.0%}, "
          f"amber &le; {RELATIVE_ERROR_AMBER:.0%}.")


def number(value):
    """A finite float, or None (JSON null, missing, NaN)."""
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def light_s(value, floor):
    if value is None:
        return "none"
    if value <= S_GREEN or (floor is not None and value <= S_FLOOR_FACTOR * floor):
        return "green"
    return "amber" if value <= S_AMBER else "red"


def light_auc(auc):
    return "none" if auc is None else "green" if auc <= AUC_GREEN else "amber" if auc <= AUC_AMBER else "red"


def light_overlap(overlap):
    if overlap is None:
        return "none"
    return "green" if overlap >= OVERLAP_GREEN else "amber" if overlap >= OVERLAP_AMBER else "red"


def light_relative_error(error):
    if error is None:
        return "none"
    error = abs(error)
    return "green" if error <= RELATIVE_ERROR_GREEN else "amber" if error <= RELATIVE_ERROR_AMBER else "red"


def light_distance(value, error, floor, floor_error):
    """FPD/KPD against their data-vs-data value: consistent within the errors, or a small multiple."""
    if value is None or floor is None:
        return "none"
    sigma = math.hypot(error or 0.0, floor_error or 0.0)
    if value - floor <= DISTANCE_SIGMAS * sigma:
        return "green"
    scale = abs(floor) + DISTANCE_SIGMAS * (floor_error or 0.0)
    return "amber" if value <= DISTANCE_AMBER_FACTOR * scale else "red"


def dot(colour):
    words = {"green": "good", "amber": "check", "red": "poor", "none": "no rule"}
    return f'<span class="light {colour}" title="{words[colour]}"></span>'


def separation(metrics, name):
    """(S, floor) of one histogram in metrics.json, None where absent."""
    s = (metrics or {}).get("separation_power", {}).get(name) or {}
    return number(s.get("value")), number(s.get("floor"))


def layer_features(metrics, prefix):
    """Names of the per-layer features `<prefix>_<layer>` in metrics.json, in layer order."""
    names = [n for n in (metrics or {}).get("separation_power", {})
             if n.startswith(prefix + "_") and n[len(prefix) + 1:].isdigit()]
    return sorted(names, key=natural_key)


def mean_separation(metrics, names):
    """Mean S and mean floor over features with a value."""
    pairs = [separation(metrics, n) for n in names]
    pairs = [(s, f) for s, f in pairs if s is not None]
    if not pairs:
        return None, None
    floors = [f for _, f in pairs if f is not None]
    return sum(s for s, _ in pairs) / len(pairs), (sum(floors) / len(floors) if floors else None)


def fidelity_rows(metrics):
    """The summary's feature families: (label, S, floor, histogram to link, feature the data-vs-data column uses)."""
    rows = [("E<sub>tot</sub>/E<sub>inc</sub>", "etot_over_einc"), ("E<sub>tot</sub>", "e_tot")]
    out = [(label, *separation(metrics, name), name, name) for label, name in rows]
    for prefix, label in (("e_layer", "E<sub>layer</sub>"), ("sparsity", "sparsity")):
        names = layer_features(metrics, prefix)
        if prefix == "sparsity":
            out.append(("sparsity, total", *separation(metrics, "sparsity_total"), "sparsity_total", "sparsity_total"))
        if not names:
            continue
        out.append((f"{label}, mean of {len(names)} layers", *mean_separation(metrics, names), None, ("mean", names)))
        worst = max((n for n in names if separation(metrics, n)[0] is not None),
                    key=lambda n: separation(metrics, n)[0], default=None)
        if worst:
            out.append((f"{label}, worst layer ({html.escape(worst)})", *separation(metrics, worst), worst, worst))
    for prefixes, label in ((("ec_eta", "ec_phi", "ec_r"), "shower centres &eta;, &phi;, r"),
                            (("width_eta", "width_phi", "width_r"), "shower widths &eta;, &phi;, r")):
        names = [n for p in prefixes for n in layer_features(metrics, p)]
        if names:
            out.append((f"{label}, mean of {len(names)}", *mean_separation(metrics, names), None, ("mean", names)))
    out.append(("voxel energy spectrum", *separation(metrics, "voxel_energy"), "voxel_energy", "voxel_energy"))
    return [row for row in out if row[1] is not None]


def reference_value(reference, key):
    """The data-vs-data S of a row key (a feature name or ('mean', names))."""
    if reference is None:
        return None
    if isinstance(key, tuple):
        return mean_separation(reference, key[1])[0]
    return separation(reference, key)[0]


def conditional_cells(metrics, name="etot_over_einc"):
    """Per incident-energy bin: (low MeV, high MeV, S, floor)."""
    bins = (metrics or {}).get("conditional", {}).get("separation_power", {}).get(name) or []
    return [(number(b.get("e_low_mev")), number(b.get("e_high_mev")), number(b.get("value")), number(b.get("floor")))
            for b in bins]


def gev(mev):
    return "?" if mev is None else f"{mev / 1e3:.3g}"


def summary_html(metrics, reference, plots_present):
    """The one-screen summary: fidelity table, distances, model side, classifier."""
    has_reference = reference is not None
    link = lambda name, text: (f'<a href="plots/hist_{html.escape(name)}.png">{text}</a>'  # noqa: E731
                               if name and f"hist_{name}.png" in plots_present else text)
    rows = []
    for label, value, floor, name, key in fidelity_rows(metrics):
        colour = light_s(value, floor)
        rows.append(f'<tr class="{colour}"><th>{link(name, label)}</th><td>{dot(colour)}{fmt(value, 3)}</td>'
                    f"<td>{fmt(floor, 2)}</td><td>{fmt(reference_value(reference, key), 3)}</td></tr>")
    cells = conditional_cells(metrics)
    if cells:
        chips = "".join(f'<span class="chip {light_s(s, f)}" title="E_inc {gev(lo)}-{gev(hi)} GeV: S = {fmt(s, 4)}, '
                        f'floor {fmt(f, 2)}"><small>{gev(lo)}&ndash;{gev(hi)}</small><br>{fmt(s, 2)}</span>'
                        for lo, hi, s, f in cells)
        reference_cells = conditional_cells(reference)
        same_bins = [c[:2] for c in reference_cells] == [c[:2] for c in cells]
        dd = " ".join(fmt(c[2], 2) for c in reference_cells) if has_reference and same_bins else (
            "other E<sub>inc</sub> bins" if has_reference else "n/a")
        target = "cond_etot_over_einc.png"
        label = "E<sub>tot</sub>/E<sub>inc</sub> per E<sub>inc</sub> bin [GeV]"
        label = f'<a href="plots/{target}">{label}</a>' if target in plots_present else label
        rows.append(f'<tr><th>{label}</th><td colspan="2" class="chips">{chips}</td><td><small>{dd}</small></td></tr>')
    reference_events = (reference or {}).get("events", {})
    dd_head = (f"data vs data<br><small>({reference_events.get('reference')} / {reference_events.get('generated')})</small>"
               if has_reference else "data vs data")
    fidelity = (f'<table class="summary"><tr><th>feature (separation power S)</th><th>S</th><th>floor</th>'
                f"<th>{dd_head}</th></tr>\n" + "\n".join(rows) + "</table>")

    side = []
    for key in ("fpd", "kpd"):
        d, r = metrics.get(key) or {}, (reference or {}).get(key) or {}
        value, error = number(d.get("value")), number(d.get("error"))
        if value is None:
            continue
        floor, floor_error = number(r.get("value")), number(r.get("error"))
        colour = light_distance(value, error, floor, floor_error)
        dd = f"{fmt(floor, 3)} &plusmn; {fmt(floor_error, 2)}" if floor is not None else "n/a"
        side.append(f'<tr class="{colour}"><th>{key.upper()} &times; 10<sup>3</sup></th>'
                    f"<td>{dot(colour)}{fmt(value, 4)} &plusmn; {fmt(error, 2)}</td><td>{dd}</td></tr>")
    energy, recon = metrics.get("rbm_energy"), metrics.get("reconstruction")
    if energy:
        overlap = number(energy.get("overlap"))
        colour = light_overlap(overlap)
        s = (energy.get("separation_power") or {}).get("value")
        side.append(f'<tr class="{colour}"><th>RBM energy overlap, encoded vs Gibbs</th>'
                    f"<td>{dot(colour)}{fmt(overlap, 3)}</td><td><small>S {fmt(number(s), 3)}</small></td></tr>")
    if recon:
        error = number(recon.get("etot_relative_error_mean"))
        colour = light_relative_error(error)
        chi2 = (recon.get("etot_over_einc") or {}).get("chi2_per_bin")
        side.append(f'<tr class="{colour}"><th>reconstruction E<sub>tot</sub> error (mean &plusmn; std)</th>'
                    f"<td>{dot(colour)}{fmt(error, 3)} &plusmn; {fmt(number(recon.get('etot_relative_error_std')), 2)}"
                    f"</td><td><small>&chi;<sup>2</sup>/bin {fmt(number(chi2), 3)}</small></td></tr>")
    classifiers = metrics.get("classifier")
    for inputs, c in sorted(classifiers.items() if isinstance(classifiers, dict) else []):
        if not isinstance(c, dict):
            continue
        auc = number(c.get("auc"))
        colour = light_auc(auc)
        r = ((reference or {}).get("classifier") or {}).get(inputs) or {}
        dd = fmt(number(r.get("auc")), 3) if has_reference else "n/a"
        side.append(f'<tr class="{colour}"><th>classifier AUC ({html.escape(inputs)}-level)</th>'
                    f"<td>{dot(colour)}{fmt(auc, 3)} <small>JSD {fmt(number(c.get('jsd')), 2)}</small></td>"
                    f"<td>{dd}</td></tr>")
    distances = ""
    if side:
        distances = ('<table class="summary"><tr><th>metric</th><th>value</th><th>data vs data / detail</th></tr>\n'
                     + "\n".join(side) + "</table>")
    events = metrics.get("events", {})
    head = (f"<p class=\"run\">{fmt(metrics.get('geometry'))}: {fmt(metrics.get('generated'))} "
            f"({events.get('generated')} showers) vs {fmt(metrics.get('reference'))} ({events.get('reference')})"
            + (f"; data vs data: {fmt(reference.get('generated'))} vs {fmt(reference.get('reference'))}"
               if has_reference else "; no data-vs-data reference (--reference-report)") + "</p>")
    return (f'<div class="summary-block">{head}<div class="columns">{fidelity}{distances}</div>'
            f'<p class="legend">{LEGEND}</p></div>')


def write_index(directory, metrics, reference, sections, notes):
    rows = []
    if metrics:
        events = metrics.get("events", {})
        rows += [("geometry", fmt(metrics.get("geometry"))), ("reference", fmt(metrics.get("reference"))),
                 ("generated", fmt(metrics.get("generated"))),
                 ("showers (reference / generated)", f"{events.get('reference')} / {events.get('generated')}"),
                 ("readout threshold [MeV]", fmt(metrics.get("min_energy_mev")))]
        for key in ("fpd", "kpd"):
            d = metrics.get(key, {})
            value = "n/a" if d.get("value") is None else f"{fmt(d['value'])} &plusmn; {fmt(d.get('error'))}"
            if d.get("reduced"):
                value += f" <small>({html.escape(d.get('note', 'reduced sample sizes'))})</small>"
            rows.append((f"{key.upper()} &times; 10<sup>3</sup>", value))
        energy, recon = metrics.get("rbm_energy"), metrics.get("reconstruction")
        if energy:
            enc, gib = energy.get("encoded", {}), energy.get("gibbs", {})
            rows += [("RBM energy, encoded data (mean &plusmn; std)",
                      f"{fmt(enc.get('mean'))} &plusmn; {fmt(enc.get('std'))} ({enc.get('count')} showers)"),
                     ("RBM energy, Gibbs samples (mean &plusmn; std)",
                      f"{fmt(gib.get('mean'))} &plusmn; {fmt(gib.get('std'))} ({gib.get('count')} chains &times; "
                      f"{energy.get('gibbs_sweeps')} sweeps)"),
                     ("RBM energy overlap / S", f"{fmt(energy.get('overlap'))} / "
                      f"{fmt(energy.get('separation_power', {}).get('value'))}")]
        if recon:
            ratio = recon.get("etot_over_einc", {})
            rows += [("reconstruction: mean squared error [MeV<sup>2</sup>]",
                      f"{fmt(recon.get('mean_squared_error'))} &plusmn; {fmt(recon.get('mean_squared_error_std'))}"),
                     ("reconstruction: E<sub>tot</sub> relative error",
                      f"{fmt(recon.get('etot_relative_error_mean'))} &plusmn; "
                      f"{fmt(recon.get('etot_relative_error_std'))}"),
                     ("reconstruction: E<sub>tot</sub>/E<sub>inc</sub> &chi;<sup>2</sup>",
                      f"{fmt(ratio.get('chi2'))} over {ratio.get('bins_occupied')} bins")]
        classifiers = metrics.get("classifier")
        for inputs, c in sorted(classifiers.items() if isinstance(classifiers, dict) else []):
            if isinstance(c, dict):
                rows.append((f"classifier AUC / JSD ({html.escape(inputs)}-level, {c.get('features')} inputs)",
                             f"{fmt(c.get('auc'))} / {fmt(c.get('jsd'))} <small>(uncalibrated AUC "
                             f"{fmt(c.get('auc_uncalibrated'))}, best epoch {c.get('best_epoch')}, "
                             f"{(c.get('events_per_class') or {}).get('validation')} validation showers per class)"
                             "</small>"))
    table = "\n".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)  # values are HTML already
    sp_rows = ""
    if metrics:
        for name, s in sorted(metrics.get("separation_power", {}).items(), key=lambda kv: natural_key(kv[0])):
            flag = ""
            if s.get("value") is not None and s.get("floor") is not None and s["value"] > 3 * s["floor"]:
                flag = ' class="high"'
            sp_rows += (f"<tr{flag}><td><a href=\"plots/hist_{html.escape(name)}.png\">{html.escape(name)}</a></td>"
                        f"<td>{fmt(s.get('value'))}</td><td>{fmt(s.get('floor'))}</td>"
                        f"<td>{s.get('entries_reference')}</td><td>{s.get('entries_generated')}</td></tr>\n")
    family_rows = ""
    if metrics:
        for family, f in sorted(metrics.get("separation_power_by_family", {}).items()):
            family_rows += (f"<tr><td>{html.escape(family)}</td><td>{f.get('features')}</td><td>{fmt(f.get('mean'))}</td>"
                            f"<td>{fmt(f.get('mean_floor'))}</td><td>{fmt(f.get('max'))}</td>"
                            f"<td>{html.escape(str(f.get('max_feature')))}</td></tr>\n")
    blocks = []
    for title, images in sections:
        if not images:
            continue
        thumbs = "\n".join(f'<a href="{html.escape(p)}"><img src="{html.escape(p)}" title="{html.escape(p)}"></a>'
                           for p in images)
        kind = "grid key" if title == KEY_PLOTS else "grid"
        blocks.append(f"<h2>{html.escape(title)}</h2>\n<div class=\"{kind}\">{thumbs}</div>")
    note_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    plots_present = set(os.listdir(os.path.join(directory, "plots")))
    summary = summary_html(metrics, reference, plots_present) if metrics else ""
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>qvae evaluation report</title>
<style>
body {{ font-family: sans-serif; margin: 1em 1.5em; }} table {{ border-collapse: collapse; margin-bottom: 1em; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; font-size: 90%; }}
tr.high td {{ background: #fdd; }} .grid img {{ width: 320px; margin: 3px; border: 1px solid #ddd; }}
.key img {{ width: 460px; }} details {{ margin: 1em 0; }} h1 {{ font-size: 140%; margin: 0.2em 0; }}
.columns {{ display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }}
table.summary td, table.summary th {{ font-size: 85%; padding: 1px 6px; font-weight: normal; }}
table.summary tr:first-child th {{ font-weight: bold; background: #f3f3f3; }}
tr.green td:nth-child(2) {{ background: #dff3df; }} tr.amber td:nth-child(2) {{ background: #fbecc8; }}
tr.red td:nth-child(2) {{ background: #f8d2d2; }}
.light {{ display: inline-block; width: 0.8em; height: 0.8em; border-radius: 50%; margin-right: 0.4em;
          vertical-align: -0.05em; border: 1px solid #888; }}
.light.green, .chip.green {{ background: #3a3; }} .light.amber, .chip.amber {{ background: #e9a000; }}
.light.red, .chip.red {{ background: #d33; }} .light.none, .chip.none {{ background: #ccc; }}
.chip {{ display: inline-block; min-width: 4.2em; margin: 1px; padding: 0 3px; color: white; text-align: center;
         font-size: 85%; line-height: 1.15; border-radius: 3px; }}
.chip small {{ font-size: 75%; }} p.legend, p.run {{ font-size: 80%; color: #444; margin: 0.3em 0; }}
</style></head><body>
<h1>qvae evaluation report</h1>
{summary}
<details><summary>All numbers: run, distances, model side, separation power by family and per histogram</summary>
<table>{table}</table>
<p>Separation power S (CaloChallenge evaluate.py) is quoted next to its finite-sample floor
n<sub>occupied</sub> (1/N<sub>ref</sub> + 1/N<sub>gen</sub>)/4: values near the floor are indistinguishable
with these statistics; rows above 3&times; the floor are highlighted.</p>
<h2>Separation power by feature family</h2>
<table><tr><th>family</th><th>features</th><th>mean S</th><th>mean floor</th><th>max S</th><th>at</th></tr>
{family_rows}</table>
<h2>Separation power of every histogram</h2>
<table><tr><th>histogram</th><th>S</th><th>floor</th><th>N ref</th><th>N gen</th></tr>
{sp_rows}</table></details>
{"<ul>" + note_html + "</ul>" if note_html else ""}
{chr(10).join(blocks)}
</body></html>
"""
    path = os.path.join(directory, "index.html")
    temporary = path + f".tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as out:
        out.write(page)
    os.replace(temporary, path)
    return path


KEY_PLOTS = "Key plots"


def error(message):
    print(f"plot_report: error: {message}", file=sys.stderr)
    return 3


def load_reference_report(directory, metrics):
    """metrics.json of a data-vs-data `qvae evaluate`, checked against this report; (metrics, error message)."""
    path = os.path.join(directory, "metrics.json")
    if not os.path.isfile(path):
        return None, (f"{path} not found, run `qvae evaluate --reference DATA_A.h5 --generated DATA_B.h5 "
                      f"--out {directory}` on two independent data samples first")
    try:
        with open(path) as f:
            reference = json.load(f)
    except (OSError, ValueError) as why:
        return None, f"cannot read {path}: {why}; give the report directory of a data-vs-data `qvae evaluate`"
    if reference.get("format") != "qvae-metrics":
        return None, f"{path} is not a qvae-metrics file; give the report directory of a data-vs-data `qvae evaluate`"
    if metrics and reference.get("geometry") != metrics.get("geometry"):
        return None, (f"{path} is for geometry {reference.get('geometry')}, this report for "
                      f"{metrics.get('geometry')}; make the data-vs-data reference from showers of the same geometry")
    return reference, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", help="output directory of `qvae evaluate`")
    parser.add_argument("--history", help="a training run's history.h5 (default: DIR/history.h5 when present)")
    parser.add_argument("--logz", help="log Z / LL over epochs, logz.h5 (default: DIR/logz.h5 when present)")
    parser.add_argument("--reference-report", metavar="DIR",
                        help="report directory of `qvae evaluate` on two independent data samples: "
                             "its S, FPD and KPD are the summary's data-vs-data column")
    parser.add_argument("--only", action="append", metavar="PATTERN",
                        help="plot only histograms whose name matches this shell pattern (repeatable), e.g. 'e_layer_*'")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel plotting processes")
    parser.add_argument("--dpi", type=int, default=90)
    args = parser.parse_args()

    directory = args.directory
    histograms = os.path.join(directory, "histograms.h5")
    if not os.path.isfile(histograms):
        return error(f"{histograms} not found, run `qvae evaluate --out {directory}` first")
    metrics_path = os.path.join(directory, "metrics.json")
    metrics = json.load(open(metrics_path)) if os.path.isfile(metrics_path) else None
    notes = [] if metrics else ["metrics.json not found: the tables are empty"]
    reference = None
    if args.reference_report:
        reference, why = load_reference_report(args.reference_report, metrics)
        if why:
            return error(why)

    with h5py.File(histograms, "r") as f:
        if text_attr(f, "format") != "qvae-histograms":
            return error(f"{histograms} is not a qvae-histograms file")
        if int(f.attrs.get("format_version", 0)) > 1:
            return error(f"{histograms} has format_version {int(f.attrs['format_version'])} > 1; "
                         "update tools/plot_report.py")
        names = sorted(f["histograms"].keys(), key=natural_key) if "histograms" in f else []
        conditional = sorted(f["conditional"].keys()) if "conditional" in f else []
        has_rbm = "rbm_energy" in f
        has_reconstruction = "reconstruction" in f
        has_classifier = "classifier" in f and any("roc_fpr" in g for g in f["classifier"].values())
    if args.only:
        wanted = lambda n: any(fnmatch.fnmatchcase(n, p) for p in args.only)  # noqa: E731
        names, conditional = [n for n in names if wanted(n)], [n for n in conditional if wanted(n)]
    plots = os.path.join(directory, "plots")
    os.makedirs(plots, exist_ok=True)

    tasks = [(histograms, n, os.path.join(plots, f"hist_{n}.png"), args.dpi) for n in names]
    conditional_tasks = [(histograms, n, os.path.join(plots, f"cond_{n}.png"), args.dpi) for n in conditional]
    with multiprocessing.Pool(max(1, args.jobs)) as pool:
        # The small figures of the main process run while the pool draws the histograms.
        pending = [pool.map_async(plot_histogram, tasks, chunksize=8), pool.map_async(plot_conditional, conditional_tasks)]
        relative = lambda p: os.path.relpath(p, directory)  # noqa: E731
        drawn = []  # the model-side, classifier and per-layer figures, by name
        if has_rbm:
            plot_rbm_energy(histograms, os.path.join(plots, "rbm_energy.png"), args.dpi)
            drawn.append("rbm_energy.png")
        if has_reconstruction:
            plot_reconstruction(histograms, os.path.join(plots, "reconstruction_etot_over_einc.png"), args.dpi)
            drawn.append("reconstruction_etot_over_einc.png")
        if has_classifier:
            plot_classifier_roc(histograms, os.path.join(plots, "classifier_roc.png"), args.dpi)
            drawn.append("classifier_roc.png")
        if metrics and plot_separation_by_layer(metrics, reference, os.path.join(plots, "separation_by_layer.png"),
                                                args.dpi):
            drawn.append("separation_by_layer.png")
        training = []
        for option, default, plotter, name in ((args.history, "history.h5", plot_history, "training_curves.png"),
                                               (args.logz, "logz.h5", plot_logz, "logz_ll.png")):
            path = option or os.path.join(directory, default)
            if not os.path.isfile(path):
                notes.append(f"{default}: " + (f"{path} not found, skipped" if option else "none given or found, skipped"))
                continue
            try:
                out, why = plotter(path, os.path.join(plots, name), args.dpi)
            except (OSError, KeyError, ValueError) as failure:
                out, why = None, f"cannot read {path}: {failure}"
            if out:
                training.append(relative(out))
            else:
                notes.append(f"{default}: {why}, skipped")
        for result in pending:
            result.get()

    # Key plots first, in the order a physicist checks them; every other figure follows by kind.
    histogram_plots = [relative(t[2]) for t in tasks]
    conditional_plots = [relative(t[2]) for t in conditional_tasks]
    worst = {prefix: max(layer_features(metrics, prefix), key=lambda n: separation(metrics, n)[0] or -1.0, default=None)
             for prefix in ("e_layer", "sparsity")}
    key_names = ["plots/hist_etot_over_einc.png", "plots/cond_etot_over_einc.png", "plots/separation_by_layer.png"]
    key_names += [f"plots/hist_{worst['e_layer']}.png", "plots/hist_sparsity_total.png",
                  f"plots/hist_{worst['sparsity']}.png", "plots/rbm_energy.png", "plots/classifier_roc.png"]
    available = set(histogram_plots + conditional_plots + [f"plots/{n}" for n in drawn])
    key = [p for p in key_names if p in available]
    sections = [(KEY_PLOTS, key), ("Training", training),
                ("Model: reconstruction", [p for p in ("plots/reconstruction_etot_over_einc.png",) if p in available]),
                ("Conditional on incident energy", [p for p in conditional_plots if p not in key])]
    by_family = {}
    for path in histogram_plots:
        if path in key:
            continue
        head, _, tail = os.path.basename(path)[len("hist_"):-len(".png")].rpartition("_")
        family = head if tail.isdigit() else "shower"
        by_family.setdefault(family, []).append(path)
    sections.append(("Shower-wide features", by_family.pop("shower", [])))
    sections += [(f"Per layer: {family}", images) for family, images in sorted(by_family.items())]

    index = write_index(directory, metrics, reference, sections, notes)
    count = len(tasks) + len(conditional_tasks) + len(training) + len(drawn)
    print(f"plot_report: {count} PNGs in {plots}, report {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
