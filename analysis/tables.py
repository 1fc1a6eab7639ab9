#!/usr/bin/env python3
"""The paper's Table 1 (base -> best p, per model x task) and Table 2 (accuracy at
every p) from an eprunner results file, as Markdown and/or LaTeX.

Accuracy is in percent with two decimals (as `eprunner report`). "Best p" is the p of
the grid with the highest accuracy (ties: the smaller p); base (p = 0) is not a
candidate. When the file has validation results, Table 1 also shows the p chosen on
validation and the test accuracy there, beside the p chosen on test (which is
optimistic: it picks on the data it reports). Every pruned-vs-base difference
carries McNemar's exact two-sided p-value on the per-example `correct` arrays of the
same examples. Cells with status "error" are left out of the tables and listed
below them with their error.

Usage: tables.py results.h5 [--format md|latex|both] [--alpha 0.05]
Needs h5py and numpy (Debian: python3-h5py python3-numpy).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass
from typing import List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results as rs  # noqa: E402
import stats  # noqa: E402


def pct(x: Optional[float]) -> str:
    return "-" if x is None else f"{100.0 * x:.2f}"


def delta(a: Optional[float], b: Optional[float]) -> str:
    if a is None or b is None:
        return "-"
    # The difference of the printed values, so the table adds up on the page.
    return f"{float(pct(b)) - float(pct(a)):+.2f}"


def p_label(p: float) -> str:
    return repr(float(p))  # the shortest text that reads back as the same double (as `eprunner report`)


def accuracy(s: rs.Split) -> Optional[float]:
    return s.accuracy if s.measured else None


def test_mcnemar(base: rs.Split, pruned: rs.Split) -> Optional[stats.McNemar]:
    """None when either side has no per-example results or they disagree on n."""
    if base.correct is None or pruned.correct is None or len(base.correct) != len(pruned.correct):
        return None
    if not base.measured or not pruned.measured:
        return None
    return stats.mcnemar(base.correct, pruned.correct)


@dataclass
class Choice:
    """The pruned model at one p, chosen on some split, scored on test."""
    p: float
    chosen_on_accuracy: float        # accuracy on the split that chose it
    test_accuracy: Optional[float]
    test: Optional[stats.McNemar]    # against base, on test


def best_index(values: List[Optional[float]]) -> Optional[int]:
    """argmax over measured values, ties to the first (the smaller p)."""
    best = None
    for i, v in enumerate(values):
        if v is not None and (best is None or v > values[best]):
            best = i
    return best


def choose(cell: rs.Cell, split: str) -> Optional[Choice]:
    splits = [r.test if split == "test" else r.validation for r in cell.pruned]
    i = best_index([accuracy(s) for s in splits])
    if i is None:
        return None
    r = cell.pruned[i]
    return Choice(p=r.p, chosen_on_accuracy=splits[i].accuracy, test_accuracy=accuracy(r.test),
                  test=test_mcnemar(cell.base_test, r.test))


def has_validation(res: rs.Results) -> bool:
    return any(c.base_validation.measured or any(r.validation.measured for r in c.pruned) for c in res.done)


# ---- formatting helpers ----------------------------------------------------------------

def pv(t: Optional[stats.McNemar]) -> str:
    return "-" if t is None else stats.format_pvalue(t)


def discordant(t: Optional[stats.McNemar]) -> str:
    return "-" if t is None else f"{t.b}/{t.c}"


def significant(t: Optional[stats.McNemar], alpha: float) -> bool:
    return t is not None and t.pvalue < alpha


LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": "$<$",
                 ">": "$>$", "→": "$\\rightarrow$", "Δ": "$\\Delta$", "×": "$\\times$"}


def tex(s: str) -> str:
    return "".join(LATEX_ESCAPES.get(ch, ch) for ch in s)


def md_table(header: List[str], rows: List[List[str]], align: str) -> str:
    """align: one of l/r per column."""
    out = "| " + " | ".join(header) + " |\n"
    out += "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|\n"
    for r in rows:
        out += "| " + " | ".join(r) + " |\n"
    return out


def latex_table(header: List[str], rows: List[List[str]], align: str, caption: str, label: str,
                wide: bool = False) -> str:
    """Cells are LaTeX already (escape with tex() before). wide: scaled to the text width (graphicx)."""
    out = "\\begin{table}[t]\n\\centering\n\\small\n"
    if wide:
        out += "\\resizebox{\\textwidth}{!}{%\n"
    out += f"\\begin{{tabular}}{{{align}}}\n\\toprule\n"
    out += " & ".join(header) + " \\\\\n\\midrule\n"
    for r in rows:
        out += " & ".join(r) + " \\\\\n"
    out += "\\bottomrule\n\\end{tabular}" + ("}\n" if wide else "\n")
    out += f"\\caption{{{caption}}}\n\\label{{{label}}}\n\\end{{table}}\n"
    return out


# ---- Table 1 ---------------------------------------------------------------------------

def table1(res: rs.Results, fmt: str, alpha: float) -> str:
    cells = res.done
    models, tasks = res.models(), res.tasks()  # error cells too: they show as "error"
    by = {(c.model, c.task): c for c in res.cells}
    val = has_validation(res)
    star = "*" if fmt == "md" else "$^{*}$"

    # (a) the paper's layout: models x tasks, "base -> best".
    arrow = " → " if fmt == "md" else "$\\rightarrow$"
    grid_rows = []
    for m in models:
        row = [m if fmt == "md" else tex(m)]
        for t in tasks:
            c = by.get((m, t))
            ch = choose(c, "test") if c is not None and c.done else None
            if c is None:
                row.append("")
            elif not c.done:
                row.append("error")
            elif ch is None:
                row.append(pct(accuracy(c.base_test)) + arrow + "-")
            else:
                row.append(f"{pct(accuracy(c.base_test))}{arrow}{pct(ch.test_accuracy)}"
                           f"{star if significant(ch.test, alpha) else ''}")
        grid_rows.append(row)
    summary_caption = (f"Accuracy (%) on the test split before → after eigenpruning, at the best p on test "
                       f"(ties: the smaller p). * McNemar's exact test p < {alpha:g} against base.")

    # (b) the details: which p, the difference, the discordant pairs, the test, and validation's choice.
    header = ["model", "task", "metric", "n test", "base", "best p (test)", "acc.", "Δ", "b/c", "McNemar p"]
    align = "lllrrrrrrr"
    if val:
        header += ["p (val.)", "val. acc.", "test acc.", "Δ", "b/c", "McNemar p"]
        align += "rrrrrr"
    rows = []
    for c in cells:
        base = accuracy(c.base_test)
        row = [c.model, c.task, c.base_test.metric or "-", str(c.base_test.n), pct(base)]
        ch = choose(c, "test")
        if ch is None:
            row += ["-"] * 5
        else:
            row += [p_label(ch.p), pct(ch.test_accuracy), delta(base, ch.test_accuracy), discordant(ch.test),
                    pv(ch.test)]
        if val:
            cv = choose(c, "validation")
            if cv is None:
                row += ["-"] * 6
            else:
                row += [p_label(cv.p), pct(cv.chosen_on_accuracy), pct(cv.test_accuracy),
                        delta(base, cv.test_accuracy), discordant(cv.test), pv(cv.test)]
        rows.append(row)
    detail_caption = ("Accuracy (%) on the test split: base, and pruned at the p that is best on test"
                      + (" and at the p that is best on validation (ties: the smaller p)" if val else
                         " (ties: the smaller p)")
                      + ". Δ: points over base. b/c: test examples base got right and pruned wrong / "
                        "base wrong and pruned right. McNemar p: exact two-sided test on b and c.")

    if fmt == "md":
        out = "## Table 1: base → best p\n\n" + summary_caption + "\n\n"
        out += md_table(["model"] + tasks, grid_rows, "l" * (1 + len(tasks)))
        out += "\n### Table 1, details\n\n" + detail_caption + "\n\n"
        out += md_table(header, rows, align)
        return out
    out = "% Table 1: base -> best p (needs \\usepackage{booktabs}; the details table also graphicx)\n"
    out += latex_table(["Model"] + [tex(t) for t in tasks], grid_rows, "l" + "c" * len(tasks),
                       tex(summary_caption).replace("*", "$^{*}$", 1), "tab:eigenpruning-summary")
    out += "\n"
    out += latex_table([tex(h) for h in header], [[tex(x) for x in r] for r in rows], align, tex(detail_caption),
                       "tab:eigenpruning-summary-details", wide=True)
    return out


# ---- Table 2 ---------------------------------------------------------------------------

def table2(res: rs.Results, fmt: str, split: str) -> str:
    ps = res.ps()
    header = ["model", "task", "metric", "base"] + [f"p={p_label(p)}" for p in ps]
    align = "lll" + "r" * (1 + len(ps))
    rows = []
    for c in res.done:
        base = c.base(split)
        by_p = {r.p: (r.test if split == "test" else r.validation) for r in c.pruned}
        values = [accuracy(base)] + [accuracy(by_p[p]) if p in by_p else None for p in ps]
        if split != "test" and all(v is None for v in values):
            continue  # no validation split in this cell
        # Bold the best of the row as printed, so a tie on the page is bold on both (as `eprunner report`).
        printed = [float(pct(v)) for v in values if v is not None]
        top = max(printed) if printed else None
        row = [c.model, c.task, base.metric or "-"]
        for i, v in enumerate(values):
            text = pct(v)
            if v is not None and float(text) == top:
                text = f"**{text}**" if fmt == "md" else f"\\textbf{{{text}}}"
            if i > 0 and v is not None:
                t = test_mcnemar(base, by_p[ps[i - 1]])
                if t is not None:
                    text += f" [{pv(t)}]" if fmt == "md" else f" {{\\scriptsize[{tex(pv(t))}]}}"
            row.append(text)
        if fmt != "md":
            row[:3] = [tex(x) for x in row[:3]]
        rows.append(row)
    caption = (f"Accuracy (%) on the {split} split at every p (base: unpruned); the best of each row in bold. "
               f"In brackets: McNemar's exact two-sided p-value of the pruned model against base on the same "
               f"{split} examples.")
    if fmt == "md":
        return f"## Table 2: every p ({split} split)\n\n{caption}\n\n" + md_table(header, rows, align)
    return (f"% Table 2: every p ({split} split)\n"
            + latex_table([tex(h) for h in header], rows, align, tex(caption), f"tab:eigenpruning-all-p-{split}"))


def failed_cells(res: rs.Results, fmt: str) -> str:
    if not res.failed:
        return ""
    if fmt == "md":
        out = "## Cells that failed (left out of the tables)\n\n"
        for c in res.failed:
            error = " ".join((c.error or "(no message)").split())
            out += f"- {c.model} × {c.task} (`{c.name}`): {error}\n"
        return out
    out = "% Cells that failed (left out of the tables):\n"
    for c in res.failed:
        error = " ".join((c.error or "(no message)").split())
        out += f"%   {c.model} x {c.task} ({c.name}): {error}\n"
    return out


def render(res: rs.Results, fmt: str, alpha: float) -> str:
    if not res.cells:
        return ("No cells in this file yet.\n" if fmt == "md" else "% No cells in this file yet.\n")
    parts = []
    if res.done:
        parts.append(table1(res, fmt, alpha))
        parts.append(table2(res, fmt, "test"))
        if has_validation(res):
            parts.append(table2(res, fmt, "validation"))
    else:
        parts.append("No finished cells.\n" if fmt == "md" else "% No finished cells.\n")
    f = failed_cells(res, fmt)
    if f:
        parts.append(f)
    return "\n".join(parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="results .h5 file written by `eprunner run`")
    ap.add_argument("--format", choices=["md", "latex", "both"], default="md")
    ap.add_argument("--alpha", type=float, default=0.05, help="significance level marked with * in Table 1")
    args = ap.parse_args(argv)
    res = rs.load(args.results, per_example=True)
    fmts = ["md", "latex"] if args.format == "both" else [args.format]
    out = []
    for fmt in fmts:
        out.append(render(res, fmt, args.alpha))
    sys.stdout.write("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
