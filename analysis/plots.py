"""Figures from an eprunner results file, as PNGs in --out:

  accuracy_vs_p.png                 accuracy against p, one panel per task, a line per model
                                    (test solid, validation dashed where there is one)
  frozen_<cell>.png                 where the frozen components sit: the fraction of each
                                    layer x head (block) frozen, a panel per matrix and p
  delta_loss_<cell>.png             the distribution of ΔL per layer (box plots and the
                                    components as dots), with each p's freeze threshold
  singular_values_<cell>.png        singular values of frozen vs kept components at one p
                                    (the largest, or --p): histogram, and against ΔL
  finetune_loss.png                 the fine-tuning loss curves (only if a cell fine-tuned)
  methods_<cell>.png                eigenpruning beside its controls (highest, random: mean and
                                    range over seeds) against p, and LASER's every intervention
                                    (only for cells with [controls] or [laser]; docs/methods.md)

Cells with status "error" are skipped (and named on stderr). Prints the path of every
file written, one a line.

Usage: python -m analysis.plots results.h5 --out DIR [--p P] [--cell NAME ...] [--dpi N]
Needs h5py, numpy and matplotlib (Debian: python3-h5py python3-numpy python3-matplotlib).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from typing import Dict, List, Optional

if not __package__:  # run as a file (python3 analysis/plots.py): the imports below need the package
    sys.exit("run it as a module from the repository root: python3 -m analysis.plots ... (docs/analysis.md)")

from analysis import results as rs  # first: a clear message when h5py is missing
from analysis.text import p_label

try:
    import matplotlib
except ImportError as e:
    raise ImportError(f"{e}: this python ({sys.executable}) lacks matplotlib; install python3-matplotlib, "
                      f"or run with /usr/bin/python3") from e
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

FROZEN_COLOR = "#d62728"
KEPT_COLOR = "#7f7f7f"


def safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def ticks(n: int, most: int = 12) -> range:
    """At most `most` integer ticks over 0..n-1."""
    return range(0, n, max(1, int(math.ceil(n / most))))


def cell_title(c: rs.Cell) -> str:
    return f"{c.model} × {c.task}"


def save(fig, path: str, dpi: int, written: List[str]) -> None:
    fig.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    written.append(path)


def grid_shape(n: int, max_cols: int = 3):
    cols = min(max_cols, n)
    return int(math.ceil(n / cols)), cols


def pick_pruned(c: rs.Cell, p: Optional[float]) -> Optional[rs.Pruned]:
    """The pruned result at p (nearest p of the cell), or at the largest p."""
    if not c.pruned:
        return None
    if p is None:
        return c.pruned[-1]
    return min(c.pruned, key=lambda r: abs(r.p - p))


def readable_log_axis(ax, values: np.ndarray) -> None:
    """Log x axis with plain numbers at 1, 2, 5 x 10^k when the values span few decades."""
    from matplotlib import ticker
    v = values[np.isfinite(values) & (values > 0)]
    ax.set_xscale("log")
    if v.size and np.log10(v.max() / v.min()) < 3:
        ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda x, _: f"{x:g}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())


# ---- accuracy vs p -----------------------------------------------------------------

def plot_accuracy(res: rs.Results, cells: List[rs.Cell], failed: List[rs.Cell], out: str, dpi: int,
                  written: List[str]) -> None:
    ps = sorted({r.p for c in cells for r in c.pruned})
    xs = {p: i + 1 for i, p in enumerate(ps)}  # 0 = base; the grid's p at even steps
    tasks = list(dict.fromkeys(c.task for c in cells))
    models = list(dict.fromkeys(c.model for c in cells))
    colors = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(models)}
    rows, cols = grid_shape(len(tasks))
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    any_val = False
    for k, task in enumerate(tasks):
        ax = axes[k // cols][k % cols]
        for c in cells:
            if c.task != task:
                continue
            for split, style in (("test", "-"), ("validation", "--")):
                pts = []
                base = c.base(split)
                if base.measured:
                    pts.append((0, 100 * base.accuracy))
                for r in c.pruned:
                    s = r.test if split == "test" else r.validation
                    if s.measured:
                        pts.append((xs[r.p], 100 * s.accuracy))
                if not pts:
                    continue
                any_val |= split == "validation"
                x, y = zip(*pts)
                ax.plot(x, y, style, marker="o" if split == "test" else "s", ms=5, color=colors[c.model],
                        alpha=1.0 if split == "test" else 0.7, label=f"{c.model} ({split})")
        ax.set_title(task)
        gone = [c.model for c in failed if c.task == task]
        if gone:
            ax.text(0.99, 0.01, "failed, not shown: " + ", ".join(gone), transform=ax.transAxes, ha="right",
                    va="bottom", fontsize=8, color="#a00000")
        ax.set_xticks([0] + [xs[p] for p in ps])
        ax.set_xticklabels(["base"] + [p_label(p) for p in ps])
        ax.set_xlabel("p (fraction of components frozen)")
        ax.set_ylabel("accuracy (%)")
        ax.grid(True, alpha=0.3)
        lo, hi = ax.get_ylim()
        ax.set_ylim(max(-2, lo - 2), min(102, hi + 2))
    for k in range(len(tasks), rows * cols):
        axes[k // cols][k % cols].axis("off")
    # One legend for the figure: a colour per model, a line style per split.
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=colors[m], marker="o", label=m) for m in models]
    handles.append(Line2D([], [], color="black", linestyle="-", label="test"))
    if any_val:
        handles.append(Line2D([], [], color="black", linestyle="--", marker="s", label="validation"))
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 6), bbox_to_anchor=(0.5, 1.0),
               frameon=False)
    fig.suptitle("Accuracy vs p (base = unpruned; the grid's p at even spacing)", y=1.06)
    fig.tight_layout()
    save(fig, os.path.join(out, "accuracy_vs_p.png"), dpi, written)


# ---- where the frozen components sit -------------------------------------------------

def plot_frozen(c: rs.Cell, out: str, dpi: int, written: List[str]) -> None:
    matrices = sorted({m for r in c.pruned for m in r.masks})
    if not matrices:
        return
    n_p = len(c.pruned)
    shapes = {m: next(r.masks[m].shape for r in c.pruned if m in r.masks) for m in matrices}
    L_max = max(s[0] for s in shapes.values())
    fig, axes = plt.subplots(len(matrices), n_p, figsize=(1.5 + 2.8 * n_p, 1.2 + max(2.4, 0.09 * L_max) * len(matrices)),
                             squeeze=False, constrained_layout=True)
    image = None
    # One colour scale for all panels, up to the largest fraction seen (so small p still shows).
    top = max(float(r.masks[m].mean(axis=2).max()) for r in c.pruned for m in r.masks)
    vmax = 1.0 if top > 0.5 else max(0.05, math.ceil(top * 20) / 20)
    for i, m in enumerate(matrices):
        L, B, R = shapes[m]
        for j, r in enumerate(c.pruned):
            ax = axes[i][j]
            if m not in r.masks:
                ax.axis("off")
                continue
            mask = r.masks[m].astype(np.float64)
            frac = mask.mean(axis=2)  # [L, B]
            image = ax.imshow(frac, vmin=0.0, vmax=vmax, cmap="viridis", aspect="auto", origin="lower",
                              interpolation="nearest")
            if L <= 12 and B <= 8:
                for (l, b), v in np.ndenumerate(frac):
                    ax.text(b, l, f"{v:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if v < 0.6 * vmax else "black")
            here = int(mask.sum())
            ax.set_title(f"{m}, p={p_label(r.p)}\n{here} of {mask.size} frozen", fontsize=9)
            ax.set_xlabel("head" if B > 1 else "whole matrix")
            if j == 0:
                ax.set_ylabel("layer")
            ax.set_xticks(ticks(B))
            ax.set_yticks(ticks(L))
            if B == 1:
                ax.set_xticklabels([""])
    if image is not None:
        bar = fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.9)
        bar.set_label("fraction of the block's components frozen")
    total = ", ".join(f"p={p_label(r.p)}: {r.n_frozen}" for r in c.pruned)
    fig.suptitle(f"{cell_title(c)}: where the frozen components sit\n(frozen in all matrices: {total})",
                 fontsize=11)
    save(fig, os.path.join(out, f"frozen_{safe(c.name)}.png"), dpi, written)


# ---- ΔL per layer ------------------------------------------------------------------

def thresholds(c: rs.Cell) -> Dict[float, float]:
    """p -> the largest ΔL that is frozen at p (all matrices share one ranking)."""
    out = {}
    for r in c.pruned:
        vals = [c.scores[m].delta_loss[r.masks[m].astype(bool)] for m in r.masks
                if m in c.scores and c.scores[m].delta_loss is not None and r.masks[m].shape == c.scores[m].delta_loss.shape]
        vals = np.concatenate(vals) if vals else np.zeros(0)
        vals = vals[np.isfinite(vals)]
        if vals.size:
            out[r.p] = float(vals.max())
    return out


def set_value_scale(ax, values: np.ndarray) -> None:
    """symlog when ΔL spans orders of magnitude, linear otherwise."""
    a = np.abs(values[np.isfinite(values)])
    a = a[a > 0]
    if a.size and a.max() / np.median(a) > 100:
        ax.set_yscale("symlog", linthresh=float(np.median(a)))


def plot_delta_loss(c: rs.Cell, p: Optional[float], out: str, dpi: int, written: List[str]) -> None:
    matrices = [m for m in sorted(c.scores) if c.scores[m].delta_loss is not None]
    if not matrices:
        return
    chosen = pick_pruned(c, p)
    thr = thresholds(c)
    rng = np.random.default_rng(0)
    L_max = max(c.scores[m].delta_loss.shape[0] for m in matrices)
    width = min(14.0, max(4.5, 0.3 * L_max))
    if L_max > 16:  # deep models: one matrix per row
        fig, axes = plt.subplots(len(matrices), 1, figsize=(width + 1.5, 4.0 * len(matrices)), squeeze=False)
        axes = axes.T
    else:
        fig, axes = plt.subplots(1, len(matrices), figsize=((width + 1.0) * len(matrices), 4.2), squeeze=False)
    line_colors = plt.get_cmap("plasma")(np.linspace(0.1, 0.85, max(1, len(thr))))
    for i, m in enumerate(matrices):
        ax = axes[0][i]
        dl = c.scores[m].delta_loss.astype(np.float64)
        L = dl.shape[0]
        per_layer = [v[np.isfinite(v)] for v in (dl[l].ravel() for l in range(L))]
        ax.boxplot(per_layer, positions=range(L), widths=0.6, showfliers=False, patch_artist=True, zorder=3,
                   boxprops=dict(facecolor="#cfe2f3", alpha=0.55), medianprops=dict(color="black", linewidth=1.5))
        frozen = None
        if chosen is not None and m in chosen.masks and chosen.masks[m].shape == dl.shape:
            frozen = chosen.masks[m].astype(bool)
        for l in range(L):
            v = dl[l].ravel()
            if v.size > 4000:  # dots only where they stay readable
                continue
            x = l + rng.uniform(-0.22, 0.22, v.size)
            f = frozen[l].ravel() if frozen is not None else np.zeros(v.size, bool)
            ax.scatter(x[~f], v[~f], s=6, color=KEPT_COLOR, alpha=0.6, linewidths=0, zorder=1,
                       label="kept" if l == 0 else None)
            ax.scatter(x[f], v[f], s=8, color=FROZEN_COLOR, alpha=0.9, linewidths=0, zorder=2,
                       label=f"frozen at p={p_label(chosen.p)}" if l == 0 and chosen is not None else None)
        for k, (pp, t) in enumerate(sorted(thr.items())):
            ax.axhline(t, color=line_colors[k], linestyle="--", linewidth=1,
                       label=f"freeze threshold, p={p_label(pp)}")
        set_value_scale(ax, dl)
        ax.set_xticks(list(ticks(L, 16)))
        ax.set_xticklabels([str(t) for t in ticks(L, 16)])
        ax.set_xlabel("layer")
        ax.set_ylabel("ΔL (max over pairs)")
        B, R = dl.shape[1], dl.shape[2]
        ax.set_title(f"{m}: {B * R} components per layer", fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle(f"{cell_title(c)}: ΔL per layer (lowest ΔL frozen first)", fontsize=11)
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(4, len(labels)), fontsize=8,
               frameon=False, markerscale=2)
    save(fig, os.path.join(out, f"delta_loss_{safe(c.name)}.png"), dpi, written)


# ---- singular values of frozen vs kept ---------------------------------------------------

def plot_singular_values(c: rs.Cell, p: Optional[float], out: str, dpi: int, written: List[str]) -> None:
    chosen = pick_pruned(c, p)
    matrices = [m for m in sorted(c.scores) if c.scores[m].singular_values is not None]
    if chosen is None or not matrices:
        return
    fig, axes = plt.subplots(len(matrices), 2, figsize=(10, 3.6 * len(matrices)), squeeze=False)
    for i, m in enumerate(matrices):
        sv = c.scores[m].singular_values.astype(np.float64)
        dl = c.scores[m].delta_loss
        mask = chosen.masks.get(m)
        frozen = mask.astype(bool) if mask is not None and mask.shape == sv.shape else np.zeros(sv.shape, bool)
        ok = sv > 0
        ax = axes[i][0]
        logs = np.log10(sv[ok])
        if logs.size:
            lo, hi = float(logs.min()), float(logs.max())
            if hi - lo < 1e-6:
                lo, hi = lo - 0.5, hi + 0.5
            bins = np.logspace(lo, hi, 25)
            ax.hist([sv[ok & ~frozen], sv[ok & frozen]], bins=bins, stacked=True, color=[KEPT_COLOR, FROZEN_COLOR],
                    label=[f"kept ({int((~frozen).sum())})", f"frozen ({int(frozen.sum())})"], edgecolor="white",
                    linewidth=0.3)
            readable_log_axis(ax, sv)
        ax.set_xlabel("singular value")
        ax.set_ylabel("components (stacked)")
        ax.set_title(f"{m}: singular values at p={p_label(chosen.p)}", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
        ax = axes[i][1]
        if dl is not None and dl.shape == sv.shape:
            ax.scatter(sv[~frozen], dl[~frozen], s=8, color=KEPT_COLOR, alpha=0.6, linewidths=0, label="kept")
            ax.scatter(sv[frozen], dl[frozen], s=10, color=FROZEN_COLOR, alpha=0.9, linewidths=0, label="frozen")
            if ok.any():
                readable_log_axis(ax, sv)
            set_value_scale(ax, dl.astype(np.float64))
            ax.legend(fontsize=8)
        ax.set_xlabel("singular value")
        ax.set_ylabel("ΔL")
        ax.set_title(f"{m}: ΔL against singular value", fontsize=10)
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"{cell_title(c)}: frozen vs kept components at p={p_label(chosen.p)} "
                 f"({chosen.n_frozen} frozen in all)", fontsize=11)
    fig.tight_layout()
    save(fig, os.path.join(out, f"singular_values_{safe(c.name)}.png"), dpi, written)


# ---- fine-tuning loss ----------------------------------------------------------------

def plot_finetune(cells: List[rs.Cell], out: str, dpi: int, written: List[str]) -> None:
    tuned = [c for c in cells if c.finetune_loss is not None and len(c.finetune_loss) > 0]
    if not tuned:
        return
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for c in tuned:
        ax.plot(np.arange(1, len(c.finetune_loss) + 1), c.finetune_loss, marker="." if len(c.finetune_loss) < 60 else None,
                label=cell_title(c))
    ax.set_xlabel("logged step")
    ax.set_ylabel("mean train loss (last-token cross-entropy)")
    ax.set_title("Fine-tuning loss before eigenpruning")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, os.path.join(out, "finetune_loss.png"), dpi, written)


# ---- eigenpruning beside its comparisons ---------------------------------------------------

METHOD_COLORS = {"eigenpruning": "#1f77b4", "highest": "#d62728", "random": "#7f7f7f"}


def plot_methods(c: rs.Cell, out: str, dpi: int, written: List[str]) -> None:
    """Left: test accuracy against p of eigenpruning and its controls; right: LASER's
    interventions (validation dashed), each against the base model's line."""
    laser = [m for m in c.methods if m.method == "laser"]
    controls = [m for m in c.methods if m.method in ("highest", "random")]
    panels = (1 if c.pruned or controls else 0) + (1 if laser else 0)
    if not c.methods or panels == 0:
        return
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.8), squeeze=False)
    base = c.base_test.measured_accuracy
    k = 0
    if c.pruned or controls:
        ax = axes[0][k]
        k += 1
        ps = sorted({r.p for r in c.pruned} | {m.fraction for m in controls})
        xs = {p: i for i, p in enumerate(ps)}
        line = [(xs[r.p], 100 * r.test.accuracy) for r in c.pruned if r.test.measured]
        if line:
            ax.plot(*zip(*line), "-o", color=METHOD_COLORS["eigenpruning"], label="eigenpruning (lowest ΔL)")
        high = [(xs[m.fraction], 100 * m.test.accuracy) for m in controls if m.method == "highest" and m.test.measured]
        if high:
            ax.plot(*zip(*sorted(high)), "-^", color=METHOD_COLORS["highest"], label="highest ΔL")
        by_p: Dict[float, List[float]] = {}
        for m in controls:
            if m.method == "random" and m.test.measured:
                by_p.setdefault(m.fraction, []).append(100 * m.test.accuracy)
        if by_p:
            x = [xs[p] for p in sorted(by_p)]
            ys = [by_p[p] for p in sorted(by_p)]
            seeds = max(len(v) for v in ys)
            ax.plot(x, [float(np.mean(v)) for v in ys], "-s", color=METHOD_COLORS["random"],
                    label=f"random ({seeds} seed{'s' if seeds != 1 else ''}; range shaded)")
            ax.fill_between(x, [min(v) for v in ys], [max(v) for v in ys], color=METHOD_COLORS["random"], alpha=0.2)
        if base is not None:
            ax.axhline(100 * base, color="black", lw=1, ls=":", label="base")
        ax.set_xticks(range(len(ps)))
        ax.set_xticklabels([p_label(p) for p in ps])
        ax.set_xlabel("p (fraction of components frozen)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title("eigenpruning and its controls")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    if laser:
        ax = axes[0][k]
        where = list(dict.fromkeys("+".join(str(x) for x in m.layers) for m in laser))
        for i, (matrix, rho) in enumerate(dict.fromkeys((m.matrix, m.fraction) for m in laser)):
            color = plt.get_cmap("tab10")(i % 10)
            for split, style in (("test", "-o"), ("validation", "--")):
                pts = []
                for m in laser:
                    sp = m.test if split == "test" else m.validation
                    if m.matrix == matrix and m.fraction == rho and sp.measured:
                        pts.append((where.index("+".join(str(x) for x in m.layers)), 100 * sp.accuracy))
                if pts:
                    ax.plot(*zip(*pts), style, ms=4, color=color, alpha=1.0 if split == "test" else 0.6,
                            label=f"{matrix} rho={p_label(rho)}" if split == "test" else None)
        if base is not None:
            ax.axhline(100 * base, color="black", lw=1, ls=":", label="base")
        ax.set_xticks(range(len(where)))
        ax.set_xticklabels(where, rotation=90 if len(where) > 12 else 0, fontsize=7 if len(where) > 12 else 9)
        ax.set_xlabel("layer(s) reduced")
        ax.set_ylabel("accuracy (%): test solid, validation dashed")
        ax.set_title("LASER")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(cell_title(c))
    fig.tight_layout()
    save(fig, os.path.join(out, f"methods_{safe(c.name)}.png"), dpi, written)


def plot_all(res: rs.Results, cells: List[rs.Cell], out: str, p: Optional[float], dpi: int) -> List[str]:
    """Every figure of `cells` (error cells are skipped) into `out` (created); the paths written."""
    os.makedirs(out, exist_ok=True)
    done = [c for c in cells if c.done]
    written: List[str] = []
    if done:
        plot_accuracy(res, done, [c for c in cells if not c.done], out, dpi, written)
    for c in done:
        plot_frozen(c, out, dpi, written)
        plot_delta_loss(c, p, out, dpi, written)
        plot_singular_values(c, p, out, dpi, written)
        plot_methods(c, out, dpi, written)
    plot_finetune(done, out, dpi, written)
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.plots", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="results .h5 file written by `eprunner run`")
    ap.add_argument("--out", required=True, help="folder for the PNGs (created)")
    ap.add_argument("--p", type=float, default=None,
                    help="the p whose frozen set the ΔL and singular-value plots mark (default: the largest)")
    ap.add_argument("--cell", action="append", default=[], help="only this cell (<model>__<task>); repeatable")
    ap.add_argument("--dpi", type=int, default=110)
    args = ap.parse_args(argv)
    try:
        res = rs.load(args.results, per_example=False, masks=True, scores=True)
    except rs.ResultsError as e:
        print(f"analysis.plots: {e}", file=sys.stderr)
        return 1
    cells = [c for c in res.cells if not args.cell or c.name in args.cell]
    if args.cell:
        missing = set(args.cell) - {c.name for c in cells}
        if missing:
            print(f"analysis.plots: no cell named {', '.join(sorted(missing))} in {args.results}", file=sys.stderr)
            return 1
    for c in cells:
        if not c.done:
            print(f"analysis.plots: skipping {c.name} (status {c.status}: {c.error})", file=sys.stderr)
    try:
        written = plot_all(res, cells, args.out, args.p, args.dpi)
    except OSError as e:  # the output folder cannot be made or written
        print(f"analysis.plots: cannot write to '{args.out}': {e}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    if not written:
        print("analysis.plots: nothing to plot (no finished cells)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
