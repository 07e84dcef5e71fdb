#!/usr/bin/python3
"""Render the report of `qvae evaluate`: a PNG per histogram and DIR/index.html.

usage: tools/plot_report.py DIR [--history FILE] [--logz FILE] [--only PATTERN]... [--jobs N] [--dpi N]

Reads DIR/histograms.h5 ("histograms v1", docs/formats.md) and DIR/metrics.json,
and writes DIR/plots/*.png and DIR/index.html linking them with the metrics
table.  Every histogram is drawn reference vs generated, normalised to unit
area as evaluate.py does, with a generated/reference ratio panel; conditional
histograms get one panel per incident-energy bin.  With the model-side groups
of `qvae evaluate --model --data` (rbm_energy, reconstruction) it also draws
the RBM energies of encoded data vs Gibbs samples and E_tot/E_inc of data vs
reconstruction, and lists their metrics; with the classifier group of
`qvae evaluate --classifier` the ROC curves with their AUC.  Training curves come from a
run's history.h5 and log Z / LL over epochs from logz.h5 (layouts in
docs/formats.md): given with --history/--logz, or found as DIR/history.h5 and
DIR/logz.h5; absent files are skipped with a note.

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
    """ROC curves of the classifier test (calibrated, validation set), AUC in the legend."""
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    with h5py.File(path, "r") as f:
        for inputs in sorted(f["classifier"].keys()):
            g = f["classifier"][inputs]
            ax.plot(g["roc_fpr"][:], g["roc_tpr"][:], linewidth=1.6,
                    label=f"{inputs}-level inputs: AUC {float(g.attrs['auc']):.3f}, JSD {float(g.attrs['jsd']):.3f}")
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


def numeric_series(f, length=None):
    """1-D numeric datasets of a file, by path, optionally of one length."""
    found = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.ndim == 1 and obj.dtype.kind in "fiu":
            if length is None or obj.shape[0] == length:
                found[name] = obj[:].astype(float)
    f.visititems(visit)
    return found


def plot_history(path, out, dpi):
    """history.h5: `epoch` (E,) and any 1-D curves of length E; curves sharing the
    first path component (loss/train, loss/validation) share a panel."""
    with h5py.File(path, "r") as f:
        epochs = f["epoch"][:].astype(float) if "epoch" in f else None
        length = len(epochs) if epochs is not None else None
        series = {k: v for k, v in numeric_series(f, length).items() if k != "epoch"}
    if not series:
        return None, "no 1-D curves in " + path
    if epochs is None:
        epochs = np.arange(len(next(iter(series.values()))), dtype=float)
    groups = {}
    for name, values in sorted(series.items()):
        groups.setdefault(name.split("/")[0], []).append((name, values))
    columns = min(3, len(groups))
    rows = math.ceil(len(groups) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.4 * rows), squeeze=False)
    for ax, (group, curves) in zip(axes.flat, groups.items()):
        for name, values in curves:
            if len(values) == len(epochs):
                ax.plot(epochs, values, label=name, linewidth=1.3)
        ax.set_title(group, fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7, frameon=False)
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
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


def write_index(directory, metrics, sections, notes):
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
        for inputs, c in sorted(metrics.get("classifier", {}).items()):
            rows.append((f"classifier AUC / JSD ({html.escape(inputs)}-level, {c.get('features')} inputs)",
                         f"{fmt(c.get('auc'))} / {fmt(c.get('jsd'))} <small>(uncalibrated AUC "
                         f"{fmt(c.get('auc_uncalibrated'))}, best epoch {c.get('best_epoch')}, "
                         f"{c.get('events_per_class', {}).get('validation')} validation showers per class)</small>"))
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
        blocks.append(f"<h2>{html.escape(title)}</h2>\n<div class=\"grid\">{thumbs}</div>")
    note_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>qvae evaluation report</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }} table {{ border-collapse: collapse; margin-bottom: 1em; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; font-size: 90%; }}
tr.high td {{ background: #fdd; }} .grid img {{ width: 320px; margin: 3px; border: 1px solid #ddd; }}
details {{ margin: 1em 0; }}
</style></head><body>
<h1>qvae evaluation report</h1>
<table>{table}</table>
<p>Separation power S (CaloChallenge evaluate.py) is quoted next to its finite-sample floor
n<sub>occupied</sub> (1/N<sub>ref</sub> + 1/N<sub>gen</sub>)/4: values near the floor are indistinguishable
with these statistics; rows above 3&times; the floor are highlighted.</p>
<h2>Separation power by feature family</h2>
<table><tr><th>family</th><th>features</th><th>mean S</th><th>mean floor</th><th>max S</th><th>at</th></tr>
{family_rows}</table>
<details><summary>Separation power of every histogram</summary>
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", help="output directory of `qvae evaluate`")
    parser.add_argument("--history", help="a training run's history.h5 (default: DIR/history.h5 when present)")
    parser.add_argument("--logz", help="log Z / LL over epochs, logz.h5 (default: DIR/logz.h5 when present)")
    parser.add_argument("--only", action="append", metavar="PATTERN",
                        help="plot only histograms whose name matches this shell pattern (repeatable), e.g. 'e_layer_*'")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel plotting processes")
    parser.add_argument("--dpi", type=int, default=90)
    args = parser.parse_args()

    directory = args.directory
    histograms = os.path.join(directory, "histograms.h5")
    if not os.path.isfile(histograms):
        print(f"plot_report: error: {histograms} not found, run `qvae evaluate --out {directory}` first", file=sys.stderr)
        return 3
    plots = os.path.join(directory, "plots")
    os.makedirs(plots, exist_ok=True)
    metrics_path = os.path.join(directory, "metrics.json")
    metrics = json.load(open(metrics_path)) if os.path.isfile(metrics_path) else None
    notes = [] if metrics else ["metrics.json not found: the tables are empty"]

    with h5py.File(histograms, "r") as f:
        if text_attr(f, "format") != "qvae-histograms":
            print(f"plot_report: error: {histograms} is not a qvae-histograms file", file=sys.stderr)
            return 3
        if int(f.attrs.get("format_version", 0)) > 1:
            print(f"plot_report: error: {histograms} has format_version {int(f.attrs['format_version'])} > 1; "
                  "update tools/plot_report.py", file=sys.stderr)
            return 3
        names = sorted(f["histograms"].keys(), key=natural_key) if "histograms" in f else []
        conditional = sorted(f["conditional"].keys()) if "conditional" in f else []
        has_rbm = "rbm_energy" in f
        has_reconstruction = "reconstruction" in f
        has_classifier = "classifier" in f and len(f["classifier"]) > 0
    if args.only:
        wanted = lambda n: any(fnmatch.fnmatchcase(n, p) for p in args.only)  # noqa: E731
        names, conditional = [n for n in names if wanted(n)], [n for n in conditional if wanted(n)]

    tasks = [(histograms, n, os.path.join(plots, f"hist_{n}.png"), args.dpi) for n in names]
    conditional_tasks = [(histograms, n, os.path.join(plots, f"cond_{n}.png"), args.dpi) for n in conditional]
    with multiprocessing.Pool(max(1, args.jobs)) as pool:
        pool.map(plot_histogram, tasks, chunksize=8)
        pool.map(plot_conditional, conditional_tasks)
    relative = lambda p: os.path.relpath(p, directory)  # noqa: E731

    by_family = {}
    for (_, name, out, _) in tasks:
        head, _, tail = name.rpartition("_")
        family = head if tail.isdigit() else "shower"
        by_family.setdefault(family, []).append(relative(out))
    sections = [("Conditional on incident energy", [relative(t[2]) for t in conditional_tasks])]
    sections.append(("Shower-wide features", by_family.pop("shower", [])))
    sections += [(f"Per layer: {family}", images) for family, images in sorted(by_family.items())]

    model_plots, classifier_plots = [], []
    if has_rbm:
        out = os.path.join(plots, "rbm_energy.png")
        plot_rbm_energy(histograms, out, args.dpi)
        model_plots.append(relative(out))
    if has_reconstruction:
        out = os.path.join(plots, "reconstruction_etot_over_einc.png")
        plot_reconstruction(histograms, out, args.dpi)
        model_plots.append(relative(out))
    if model_plots:
        sections.insert(0, ("Model: RBM energies and reconstruction", model_plots))
    if has_classifier:
        out = os.path.join(plots, "classifier_roc.png")
        plot_classifier_roc(histograms, out, args.dpi)
        classifier_plots = [relative(out)]
        sections.insert(0, ("Classifier two-sample test", classifier_plots))
    training = []
    for option, default, plotter, name in ((args.history, "history.h5", plot_history, "training_curves.png"),
                                           (args.logz, "logz.h5", plot_logz, "logz_ll.png")):
        path = option or os.path.join(directory, default)
        if not os.path.isfile(path):
            notes.append(f"{default}: " + (f"{path} not found, skipped" if option else "none given or found, skipped"))
            continue
        try:
            out, why = plotter(path, os.path.join(plots, name), args.dpi)
        except (OSError, KeyError, ValueError) as error:
            out, why = None, f"cannot read {path}: {error}"
        if out:
            training.append(relative(out))
        else:
            notes.append(f"{default}: {why}, skipped")
    sections.insert(0, ("Training", training))

    index = write_index(directory, metrics, sections, notes)
    count = len(tasks) + len(conditional_tasks) + len(training) + len(model_plots) + len(classifier_plots)
    print(f"plot_report: {count} PNGs in {plots}, report {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
