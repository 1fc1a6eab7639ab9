"""The accuracy-by-p table, as `eprunner report` prints it: rows model x task, columns
the unpruned model ("base") and every p, percent, the best of each row in bold.

Both this module and runner/report.cpp follow the rules of docs/analysis.md ("The
accuracy-by-p table") literally, and tests/cli/analysis.sh checks that the two print
the same bytes for the same file. tables.py's Table 2 is this table with McNemar's
p-value after each pruned accuracy.

Usage: python -m analysis.report results.h5 [--split test|validation]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import List, Optional, Tuple

if not __package__:  # run as a file (python3 analysis/report.py): the imports below need the package
    sys.exit("run it as a module from the repository root: python3 -m analysis.report ... (docs/analysis.md)")

from analysis import methods
from analysis import results as rs
from analysis.text import md_table, one_line, p_label, pct


@dataclass
class Row:
    cell: rs.Cell
    splits: List[Optional[rs.Split]]  # base, then one per AccuracyTable.ps (None: the cell lacks that p)

    @property
    def values(self) -> List[Optional[float]]:
        """Accuracy (fraction) of base and each p; None where not measured."""
        return [s.measured_accuracy if s is not None else None for s in self.splits]


@dataclass
class AccuracyTable:
    split: str                # "test" or "validation"
    ps: List[float]           # every p of a finished cell, ascending
    rows: List[Row]           # finished cells with a measured value on the split, in index order
    failed: List[rs.Cell]     # cells with status "error", in index order
    results: rs.Results       # the whole file (the methods section reads it)


def accuracy_table(res: rs.Results, split: str) -> AccuracyTable:
    if split not in ("test", "validation"):
        raise ValueError(f"split must be test or validation, got '{split}'")
    ps = sorted({r.p for c in res.done for r in c.pruned})
    rows = []
    for c in res.done:
        by_p = {r.p: (r.test if split == "test" else r.validation) for r in c.pruned}
        row = Row(cell=c, splits=[c.base(split)] + [by_p.get(p) for p in ps])
        if any(v is not None for v in row.values):
            rows.append(row)
    return AccuracyTable(split=split, ps=ps, rows=rows, failed=res.failed, results=res)


def header(t: AccuracyTable) -> Tuple[List[str], str]:
    """Column names and alignment (l/r per column)."""
    return ["model", "task", "metric", "base"] + [f"p={p_label(p)}" for p in t.ps], "lll" + "r" * (1 + len(t.ps))


def printed(row: Row) -> List[Tuple[str, bool]]:
    """(text, bold) of base and each p: the percent as printed ("-" where not measured);
    bold where the printed value equals the row's largest printed value (so ties are all bold)."""
    texts = [pct(v) for v in row.values]
    numbers = [float(x) for x in texts if x != "-"]
    top = max(numbers) if numbers else None
    return [(x, x != "-" and float(x) == top) for x in texts]


def metric(row: Row) -> str:
    return row.splits[0].metric or "-"


def markdown(t: AccuracyTable) -> str:
    """Exactly `eprunner report --split <t.split>` (Markdown)."""
    names, align = header(t)
    rows = [[row.cell.model, row.cell.task, metric(row)] + [f"**{x}**" if bold else x for x, bold in printed(row)]
            for row in t.rows]
    out = f"Accuracy (%) on the {t.split} split; the best of each row in bold.\n\n" + md_table(names, rows, align)
    if t.failed:
        out += "\nCells that failed:\n"
        out += "".join(f"- {c.model} x {c.task}: {one_line(c.error)}\n" for c in t.failed)
    return out + methods.markdown(t.results)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.report", description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="results .h5 file written by `eprunner run`")
    ap.add_argument("--split", choices=["test", "validation"], default="test")
    args = ap.parse_args(argv)
    try:
        res = rs.load(args.results, per_example=True)  # the methods table's McNemar tests
    except rs.ResultsError as e:
        print(f"analysis.report: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(markdown(accuracy_table(res, args.split)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
