"""Eigenpruning beside what it is compared with (docs/methods.md): the highest-scoring
and random controls and LASER, each at the setting its own validation accuracy chooses.

The rules ("Methods side by side" in docs/analysis.md), shared with runner/report.cpp,
which prints the same Markdown (tests/cli/analysis.sh and tests/cli/methods.sh compare
the bytes):
- A method's candidates: eigenpruning, every p; highest, every p; random, every p, each
  p scored by the mean over its seeds; LASER, every (matrix, layers, rho) in grid order.
- Chosen on validation when the cell measured base on validation, else on test (marked
  "test": optimistic, it picks on the data it reports). The highest accuracy wins; ties
  go to the first candidate (the smaller p; for LASER the first in grid order, which
  keeps the most rank).
- Reported: test accuracy at the choice (random: the mean over seeds); in Table 3 also
  McNemar's exact two-sided p-value on the test examples against base and against
  eigenpruning at its own choice (random: the largest p-value over its seeds, the least
  significant). `eprunner report` and analysis.report print the same rows, McNemar
  included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from analysis import results as rs
from analysis import stats
from analysis.text import latex_table, md_table, p_label, pct, tex

ORDER = ("eigenpruning", "highest", "random", "laser")


@dataclass
class Candidate:
    setting: str                 # "p=0.05", "mlp_in.5 rho=0.1"
    test: List[rs.Split]         # one per seed (one for the others)
    validation: List[rs.Split]


@dataclass
class Choice:
    method: str                  # one of ORDER, or "base"
    label: str                   # "random (3 seeds)"
    chosen_on: str               # "validation", "test" or "-" (base)
    setting: str
    test_accuracy: Optional[float]
    test: List[rs.Split]         # the chosen candidate's test splits
    vs_base: Optional[stats.McNemar] = None
    vs_eigenpruning: Optional[stats.McNemar] = None


def setting_of(m: rs.Method) -> str:
    if m.method == "laser":
        return f"{m.matrix}.{'+'.join(str(x) for x in m.layers)} rho={p_label(m.fraction)}"
    return f"p={p_label(m.fraction)}"


def candidates(c: rs.Cell) -> Dict[str, List[Candidate]]:
    out: Dict[str, List[Candidate]] = {"eigenpruning": [Candidate(f"p={p_label(r.p)}", [r.test], [r.validation])
                                                        for r in c.pruned]}
    for m in c.methods:
        if m.method not in ORDER:  # a method this package does not know
            continue
        group = out.setdefault(m.method, [])
        same = next((k for k in group if k.setting == setting_of(m)), None) if m.method == "random" else None
        if same is None:
            group.append(Candidate(setting_of(m), [m.test], [m.validation]))
        else:
            same.test.append(m.test)
            same.validation.append(m.validation)
    return out


def mean_accuracy(splits: List[rs.Split]) -> Optional[float]:
    values = [s.measured_accuracy for s in splits]
    if not values or any(v is None for v in values):
        return None
    return sum(values) / len(values)


def mcnemar_or_none(a: rs.Split, b: rs.Split) -> Optional[stats.McNemar]:
    """McNemar's exact test of b against a on the same examples; None when either side has
    no per-example results, was not measured, or they differ in n."""
    if a.correct is None or b.correct is None or len(a.correct) != len(b.correct):
        return None
    if not a.measured or not b.measured:
        return None
    return stats.mcnemar(a.correct, b.correct)


def least_significant(tests: List[Optional[stats.McNemar]]) -> Optional[stats.McNemar]:
    if not tests or any(t is None for t in tests):
        return None
    return max(tests, key=lambda t: (t.log10_pvalue, t.pvalue))


def choose(c: rs.Cell) -> List[Choice]:
    """Base, then each method the cell has, in ORDER."""
    on = "validation" if c.base_validation.measured else "test"
    rows = [Choice("base", "base", "-", "-", c.base_test.measured_accuracy, [c.base_test])]
    eigen: Optional[Choice] = None
    for method, group in sorted(candidates(c).items(), key=lambda kv: ORDER.index(kv[0])):
        best, best_value = None, None
        for k in group:
            v = mean_accuracy(k.validation if on == "validation" else k.test)
            if v is not None and (best_value is None or v > best_value):
                best, best_value = k, v
        if best is None:
            continue
        seeds = len(best.test)
        label = f"random ({seeds} seed{'s' if seeds != 1 else ''})" if method == "random" else method
        ch = Choice(method, label, on, best.setting, mean_accuracy(best.test), best.test)
        ch.vs_base = least_significant([mcnemar_or_none(c.base_test, s) for s in best.test])
        if method == "eigenpruning":
            eigen = ch
        elif eigen is not None:
            ch.vs_eigenpruning = least_significant([mcnemar_or_none(eigen.test[0], s) for s in best.test])
        rows.append(ch)
    return rows


def has_methods(res: rs.Results) -> bool:
    return any(c.methods for c in res.done)


CAPTION = ("Methods side by side: test accuracy (%) at the setting each method's own validation accuracy "
           "chooses (ties: the first in grid order; \"test\": the cell has no validation split, so it "
           "chose on test). random: the mean over its seeds. McNemar: exact two-sided p-value on the test "
           "examples against base and against eigenpruning (random: the largest over its seeds).")
HEADER = ["model", "task", "method", "chosen on", "setting", "test", "vs base", "vs eigenpruning"]
ALIGN = "lllllrrr"


def pvalue(t: Optional[stats.McNemar]) -> str:
    return "-" if t is None else stats.format_pvalue(t)


def table_rows(res: rs.Results) -> List[List[str]]:
    rows = []
    for c in res.done:
        if not c.methods:
            continue
        for ch in choose(c):
            rows.append([c.model, c.task, ch.label, ch.chosen_on, ch.setting, pct(ch.test_accuracy),
                         pvalue(ch.vs_base), pvalue(ch.vs_eigenpruning)])
    return rows


def markdown(res: rs.Results) -> str:
    """Exactly the methods section of `eprunner report` ("" when no cell has methods); the
    McNemar columns need the cells read with their per-example results."""
    if not has_methods(res):
        return ""
    return "\n" + CAPTION + "\n\n" + md_table(HEADER, table_rows(res), ALIGN)


def table3(res: rs.Results, fmt: str) -> str:
    """analysis.tables' Table 3: the same rows."""
    if fmt == "md":
        return "## Table 3: methods side by side\n\n" + CAPTION + "\n\n" + md_table(HEADER, table_rows(res), ALIGN)
    rows = [[tex(x) for x in r] for r in table_rows(res)]
    return ("% Table 3: methods side by side\n"
            + latex_table([tex(h) for h in HEADER], rows, ALIGN, tex(CAPTION), "tab:eigenpruning-methods", wide=True))
