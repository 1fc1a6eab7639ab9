"""How numbers and tables are printed, once for every script of the package.

The rules that `eprunner report` shares (percent, p, error messages, Markdown tables)
are the ones docs/analysis.md ("The accuracy-by-p table") spells out; runner/report.cpp
follows the same text, and tests/cli/analysis.sh compares the two outputs byte for byte.
"""

from __future__ import annotations

import math
import re
from typing import List, Optional

_ASCII_SPACE = re.compile(r"[ \t\n\v\f\r]+")  # C's isspace in the "C" locale, as report.cpp


def pct(x: Optional[float]) -> str:
    """A fraction as percent with two decimals ("-" for None or NaN). Python's and fmt's
    `.2f` both round the exact binary value, so they print the same digits."""
    return "-" if x is None or math.isnan(x) else f"{100.0 * x:.2f}"


def p_label(p: float) -> str:
    """The shortest text that reads back as the same double, as fmt's `{}` prints it in
    runner/report.cpp: Python's repr without a trailing ".0" (0.05, 1e-05, 1, 1e+16)."""
    r = repr(float(p))
    return r[:-2] if r.endswith(".0") else r


def one_line(message: str) -> str:
    """An error message on one line: runs of ASCII whitespace become one space."""
    return " ".join(s for s in _ASCII_SPACE.split(message) if s) or "(no message)"


def md_table(header: List[str], rows: List[List[str]], align: str) -> str:
    """A Markdown table; align: one of l/r per column."""
    out = "| " + " | ".join(header) + " |\n"
    out += "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|\n"
    for r in rows:
        out += "| " + " | ".join(r) + " |\n"
    return out


LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": "$<$",
                 ">": "$>$", "→": "$\\rightarrow$", "Δ": "$\\Delta$", "×": "$\\times$"}


def tex(s: str) -> str:
    return "".join(LATEX_ESCAPES.get(ch, ch) for ch in s)


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
