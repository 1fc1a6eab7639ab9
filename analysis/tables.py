"""The paper's Table 1 (base -> best p, per model x task) and Table 2 (accuracy at
every p) from an eprunner results file, as Markdown and/or LaTeX.

Accuracy is in percent with two decimals (as `eprunner report`). "Best p" is the p of
the grid with the highest accuracy (ties: the smaller p); base (p = 0) is not a
candidate. When the file has validation results, Table 1 also shows the p chosen on
validation and the test accuracy there, beside the p chosen on test (which is
optimistic: it picks on the data it reports). Every pruned-vs-base difference
carries McNemar's exact two-sided p-value on the per-example `correct` arrays of the
same examples. Classification tasks (CB) also show macro-F1 in Table 1 when the file
has it (files written before it was added lack it). Cells with status "error" are left
out of the tables and listed below them with their error. Table 2 is `eprunner
report`'s table (analysis/report.py) with McNemar's p-value after each pruned accuracy.
Table 3 (grids with [controls] or [laser]) puts eigenpruning beside its controls and LASER,
each at its own validation choice, with McNemar against base and against eigenpruning
(analysis/methods.py; docs/methods.md).

Usage: python -m analysis.tables results.h5 [--format md|latex|both] [--alpha 0.05]
Needs h5py and numpy (Debian: python3-h5py python3-numpy).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import List, Optional

if not __package__:  # run as a file (python3 analysis/tables.py): the imports below need the package
    sys.exit("run it as a module from the repository root: python3 -m analysis.tables ... (docs/analysis.md)")

from analysis import methods
from analysis import report
from analysis import results as rs
from analysis import stats
from analysis.text import latex_table, md_table, one_line, p_label, pct, tex


def delta(a: Optional[float], b: Optional[float]) -> str:
    if a is None or b is None:
        return "-"
    # The difference of the printed values, so the table adds up on the page.
    return f"{float(pct(b)) - float(pct(a)):+.2f}"


def accuracy(s: rs.Split) -> Optional[float]:
    return s.measured_accuracy


test_mcnemar = methods.mcnemar_or_none  # None when either side has no per-example results or n differs


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


def has_macro_f1(res: rs.Results) -> bool:
    """Some finished cell has a macro-F1 on test (a classification task, in a file new enough)."""
    return any(c.base_test.measured_macro_f1 is not None or any(r.test.measured_macro_f1 is not None for r in c.pruned)
               for c in res.done)


def macro_f1_at(c: rs.Cell, p: float) -> Optional[float]:
    return next((r.test.measured_macro_f1 for r in c.pruned if r.p == p), None)


# ---- formatting helpers ----------------------------------------------------------------

def pv(t: Optional[stats.McNemar]) -> str:
    return "-" if t is None else stats.format_pvalue(t)


def discordant(t: Optional[stats.McNemar]) -> str:
    return "-" if t is None else f"{t.b}/{t.c}"


def significant(t: Optional[stats.McNemar], alpha: float) -> bool:
    return t is not None and t.pvalue < alpha


# ---- Table 1 ---------------------------------------------------------------------------

def table1(res: rs.Results, fmt: str, alpha: float) -> str:
    cells = res.done
    models, tasks = res.models(), res.tasks()  # error cells too: they show as "error"
    by = {(c.model, c.task): c for c in res.cells}
    val = has_validation(res)
    f1 = has_macro_f1(res)
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
    if f1:
        header += ["base F1", "F1"]
        align += "rr"
    if val:
        header += ["p (val.)", "val. acc.", "test acc.", "Δ", "b/c", "McNemar p"] + (["test F1"] if f1 else [])
        align += "rrrrrr" + ("r" if f1 else "")
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
        if f1:
            row += [pct(c.base_test.measured_macro_f1), pct(macro_f1_at(c, ch.p) if ch is not None else None)]
        if val:
            cv = choose(c, "validation")
            if cv is None:
                row += ["-"] * (7 if f1 else 6)
            else:
                row += [p_label(cv.p), pct(cv.chosen_on_accuracy), pct(cv.test_accuracy),
                        delta(base, cv.test_accuracy), discordant(cv.test), pv(cv.test)]
                if f1:
                    row.append(pct(macro_f1_at(c, cv.p)))
        rows.append(row)
    detail_caption = ("Accuracy (%) on the test split: base, and pruned at the p that is best on test"
                      + (" and at the p that is best on validation (ties: the smaller p)" if val else
                         " (ties: the smaller p)")
                      + ". Δ: points over base. b/c: test examples base got right and pruned wrong / "
                        "base wrong and pruned right. McNemar p: exact two-sided test on b and c."
                      + (" F1: macro-F1 (%) on test (classification tasks), of base and at the p chosen by "
                         "accuracy; - for the other tasks." if f1 else ""))

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
    """report.accuracy_table (the rows, columns and bold of `eprunner report`), with McNemar's
    p-value in brackets after each pruned accuracy."""
    t = report.accuracy_table(res, split)
    header, align = report.header(t)
    rows = []
    for row in t.rows:
        base = row.splits[0]
        out = [row.cell.model, row.cell.task, report.metric(row)]
        if fmt != "md":
            out = [tex(x) for x in out]
        for i, (text, bold) in enumerate(report.printed(row)):
            if bold:
                text = f"**{text}**" if fmt == "md" else f"\\textbf{{{text}}}"
            mc = test_mcnemar(base, row.splits[i]) if i > 0 and row.splits[i] is not None else None
            if mc is not None:
                text += f" [{pv(mc)}]" if fmt == "md" else f" {{\\scriptsize[{tex(pv(mc))}]}}"
            out.append(text)
        rows.append(out)
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
            out += f"- {c.model} × {c.task} (`{c.name}`): {one_line(c.error)}\n"
        return out
    out = "% Cells that failed (left out of the tables):\n"
    for c in res.failed:
        out += f"%   {c.model} x {c.task} ({c.name}): {one_line(c.error)}\n"
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
        if methods.has_methods(res):
            parts.append(methods.table3(res, fmt))
    else:
        parts.append("No finished cells.\n" if fmt == "md" else "% No finished cells.\n")
    f = failed_cells(res, fmt)
    if f:
        parts.append(f)
    return "\n".join(parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.tables", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="results .h5 file written by `eprunner run`")
    ap.add_argument("--format", choices=["md", "latex", "both"], default="md")
    ap.add_argument("--alpha", type=float, default=0.05, help="significance level marked with * in Table 1")
    args = ap.parse_args(argv)
    try:
        res = rs.load(args.results, per_example=True)
    except rs.ResultsError as e:
        print(f"analysis.tables: {e}", file=sys.stderr)
        return 1
    fmts = ["md", "latex"] if args.format == "both" else [args.format]
    out = []
    for fmt in fmts:
        out.append(render(res, fmt, args.alpha))
    sys.stdout.write("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
