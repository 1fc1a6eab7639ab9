#!/usr/bin/env python3
"""Checks `python -m analysis.tables` output against `eprunner report`.

Usage: check_tables.py TABLES_BOTH.txt REPORT_DIR RESULTS.h5

TABLES_BOTH.txt is `python -m analysis.tables RESULTS.h5 --format both` (Markdown, then
LaTeX). REPORT_DIR holds `eprunner report RESULTS.h5 [--split validation]` as test.md,
validation.md and with `--format csv` as test.csv, validation.csv (header
model,task,p,metric,accuracy,macro_f1; p = 0 is the unpruned model).

Checked:
  * Markdown Table 2 (test, and validation when there is one) with the McNemar
    brackets taken out is `eprunner report`'s table byte for byte: the header, the
    alignment row and every row (the same rows, columns, rounding and bold);
  * Table 2 (test, and validation when the CSV has validation rows), in Markdown and
    in LaTeX: every (model, task, p) of the CSV is in the table with the same accuracy
    to the printed precision (percent, two decimals), and the table has no number
    the CSV lacks;
  * Table 1: base -> best (max over p > 0, ties to the smaller p) per model x task,
    the best p, and with validation: the p chosen on validation, its validation
    accuracy and the test accuracy there; macro-F1 (base, at the best p, at the p
    chosen on validation) against the CSV's macro_f1, and F1 columns exactly when the
    file (read with h5py) has a finite macro_f1 on test;
  * McNemar p-values printed in Markdown Table 2 against an independent exact
    computation (probabilities of every outcome, summed in Fractions);
  * every cell with status "error" (read from the HDF5 file with h5py directly) is
    listed below the tables with its error, and appears in no table row.
Prints one line per failure and a summary; exit status 1 on any failure.
"""

import csv
import math
import os
import re
import sys
from decimal import Decimal
from fractions import Fraction
from math import comb

import h5py
attr_text = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # format 2 strings are fixed-length (bytes)

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


def pct(acc):
    return f"{100.0 * acc:.2f}"


CSV_HEADER = ["model", "task", "p", "metric", "accuracy", "macro_f1"]


def read_csv(path):
    """{(model, task): {p: (metric, accuracy, macro_f1 or None)}}"""
    out = {}
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != CSV_HEADER:
        fail(f"{path}: header is {rows[0] if rows else None}, want {','.join(CSV_HEADER)}")
        return out
    for r in rows[1:]:
        if not r:
            continue
        model, task, p, metric, acc, f1 = r
        out.setdefault((model, task), {})[float(p)] = (metric, float(acc), float(f1) if f1 else None)
    return out


def md_table_lines(text, after):
    """The lines of the first Markdown table after the line that starts with `after`."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(after)), None)
    if start is None:
        return None
    out = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            out.append(line)
        elif out:
            break
    return out


def check_same_as_report(md, report_md, split):
    """Table 2's lines, brackets out, equal `eprunner report`'s table lines byte for byte."""
    name = f"Markdown Table 2 ({split}) vs eprunner report"
    want = md_table_lines(report_md, "Accuracy (%) on the")
    if want is None:
        fail(f"{name}: no table in the eprunner report output")
        return
    got = md_table_lines(md, f"## Table 2: every p ({split} split)")
    if got is None:
        if len(want) > 2:
            fail(f"{name}: the report has {len(want) - 2} {split} rows, analysis.tables has no such table")
        else:
            print(f"ok   {name}: no {split} rows in either")
        return
    got = [re.sub(r" \[[^\]]*\]", "", line) for line in got]
    if got != want:
        for i in range(max(len(got), len(want))):
            a = got[i] if i < len(got) else None
            b = want[i] if i < len(want) else None
            if a != b:
                fail(f"{name}: line {i + 1} differs:\n       analysis.tables: {a!r}\n       report:          {b!r}")
                break
        return
    print(f"ok   {name}: the same {len(want)} lines byte for byte")


def split_formats(text):
    i = text.find("% Table 1")
    if i < 0:
        i = text.find("% Table 2")
    if i < 0:
        fail("no LaTeX part in the tables output (expected --format both)")
        return text, ""
    return text[:i], text[i:]


def md_section(md, title_start):
    """The first Markdown table after the heading that starts with title_start: (header, rows)."""
    i = md.find(title_start)
    if i < 0:
        return None
    lines = md[i:].splitlines()[1:]
    table = []
    started = False
    for line in lines:
        if line.startswith("|"):
            started = True
            table.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif started:
            break
        elif line.startswith("#"):
            return None
    if len(table) < 2:
        return None
    return table[0], table[2:]


def latex_section(tex, comment):
    """(header, rows) of the tabular after the '% ...' comment line."""
    i = tex.find(comment)
    if i < 0:
        return None
    body = tex[i:]
    a = body.find("\\toprule")
    m = body.find("\\midrule")
    b = body.find("\\bottomrule")
    if min(a, m, b) < 0:
        return None
    header = [c.strip() for c in body[a + len("\\toprule"):m].strip().rstrip("\\").split("&")]
    rows = []
    for line in body[m + len("\\midrule"):b].strip().splitlines():
        line = line.strip()
        if line.endswith("\\\\"):
            line = line[:-2]
        if line:
            rows.append([c.strip() for c in line.split("&")])
    return header, rows


NUM = re.compile(r"^(?:\*\*|\\textbf\{)?(-?\d+\.\d+)")


def number(cell):
    m = NUM.match(cell)
    return m.group(1) if m else None


def untex(s):
    return s.replace("\\_", "_").replace("\\&", "&").replace("\\%", "%").replace("\\#", "#")


def check_table2(name, header, rows, want, fmt):
    """want: {(model, task): {p: (metric, acc)}} from the CSV."""
    if header[:4] != ["model", "task", "metric", "base"]:
        fail(f"{name}: header starts {header[:4]}")
        return
    ps = []
    for h in header[4:]:
        if not h.startswith("p="):
            fail(f"{name}: column '{h}' is not p=...")
            return
        ps.append(float(h[2:]))
    seen = set()
    before = len(failures)
    for r in rows:
        model, task, metric = (untex(x) for x in r[:3]) if fmt == "latex" else r[:3]
        key = (model, task)
        seen.add(key)
        csv_row = want.get(key)
        if csv_row is None:
            fail(f"{name}: row {model} x {task} is not in the report CSV")
            continue
        for p, cell in zip([0.0] + ps, r[3:]):
            got = number(cell)
            if p not in csv_row:
                if got is not None:
                    fail(f"{name}: {model} x {task} p={p}: table has {got}, CSV has no value")
                continue
            m, acc, _ = csv_row[p]
            if got != pct(acc):
                fail(f"{name}: {model} x {task} p={p}: table {got!r}, CSV {acc!r} -> {pct(acc)}")
            if m != metric:
                fail(f"{name}: {model} x {task}: metric {metric!r}, CSV {m!r}")
        for p in csv_row:
            if p != 0.0 and p not in ps:
                fail(f"{name}: {model} x {task}: CSV p={p} has no column")
    for key in want:
        if key not in seen:
            fail(f"{name}: CSV row {key[0]} x {key[1]} is missing from the table")
    if len(failures) == before:
        print(f"ok   {name}: {len(rows)} rows x {1 + len(ps)} accuracies agree with the CSV")


def best_p(row):
    """(p, acc) maximising acc over p > 0, ties to the smaller p."""
    best = None
    for p in sorted(q for q in row if q > 0):
        acc = row[p][1]
        if best is None or acc > best[1]:
            best = (p, acc)
    return best


def pct_or_dash(x):
    return "-" if x is None else pct(x)


def file_has_macro_f1(h5path):
    """Some finished cell has a finite macro_f1 on a measured test split (read with h5py)."""
    with h5py.File(h5path, "r") as f:
        for g in f["cells"].values():
            if attr_text(g.attrs["status"]) not in ("done", b"done"):
                continue
            splits = [g["base/test"]] + [r["test"] for r in g["pruned"].values()]
            if any(s.attrs.get("n", 0) > 0 and math.isfinite(s.attrs.get("macro_f1", math.nan)) for s in splits):
                return True
    return False


def check_table1(md, test, val, has_f1):
    grid = md_section(md, "## Table 1")
    if grid is None:
        fail("Markdown Table 1 (summary) not found")
        return
    header, rows = grid
    tasks = header[1:]
    n = 0
    before = len(failures)
    for r in rows:
        model = r[0]
        for task, cell in zip(tasks, r[1:]):
            row = test.get((model, task))
            if row is None:
                if cell not in ("", "error"):
                    fail(f"Table 1: {model} x {task} shows {cell!r} but the CSV has no such cell")
                continue
            b = best_p(row)
            want = f"{pct(row[0.0][1])} → {pct(b[1])}" if b else f"{pct(row[0.0][1])} → -"
            if cell.rstrip("*") != want:
                fail(f"Table 1: {model} x {task}: {cell!r}, want {want!r}")
            n += 1
    details = md_section(md, "### Table 1, details")
    if details is None:
        fail("Markdown Table 1 details not found")
        return
    header, rows = details
    col = {h: i for i, h in enumerate(header)}
    if has_f1 != ("base F1" in col):
        fail(f"Table 1 details: F1 columns {'missing' if has_f1 else 'shown'} but the file "
             f"{'has' if has_f1 else 'has no'} finite macro_f1")
    f1_checked = 0
    for r in rows:
        key = (r[0], r[1])
        row = test.get(key)
        if row is None:
            fail(f"Table 1 details: {key} not in the CSV")
            continue
        b = best_p(row)
        if r[col["base"]] != pct(row[0.0][1]):
            fail(f"Table 1 details {key}: base {r[col['base']]}, CSV {pct(row[0.0][1])}")
        if b and (float(r[col["best p (test)"]]) != b[0] or r[col["acc."]] != pct(b[1])):
            fail(f"Table 1 details {key}: best p {r[col['best p (test)']]} at {r[col['acc.']]}, want {b[0]} at "
                 f"{pct(b[1])}")
        if "base F1" in col:
            for column, p in [("base F1", 0.0), ("F1", b[0] if b else None)]:
                want = pct_or_dash(row[p][2] if p is not None else None)
                if r[col[column]] != want:
                    fail(f"Table 1 details {key}: {column} {r[col[column]]}, the CSV's macro_f1 gives {want}"
                         + (" (does runner/results_h5_reader.cpp read macro_f1?)" if want == "-" else ""))
                f1_checked += want != "-"
        if val:
            vrow = val.get(key)
            vb = best_p(vrow) if vrow else None
            if vb is None:
                if r[col["p (val.)"]] != "-":
                    fail(f"Table 1 details {key}: p (val.) {r[col['p (val.)']]} but no validation in the CSV")
            else:
                if float(r[col["p (val.)"]]) != vb[0]:
                    fail(f"Table 1 details {key}: p (val.) {r[col['p (val.)']]}, want {vb[0]}")
                if r[col["val. acc."]] != pct(vb[1]):
                    fail(f"Table 1 details {key}: val. acc. {r[col['val. acc.']]}, want {pct(vb[1])}")
                if r[col["test acc."]] != pct(row[vb[0]][1]):
                    fail(f"Table 1 details {key}: test acc. {r[col['test acc.']]}, want {pct(row[vb[0]][1])}")
                if "test F1" in col and r[col["test F1"]] != pct_or_dash(row[vb[0]][2]):
                    fail(f"Table 1 details {key}: test F1 {r[col['test F1']]}, want {pct_or_dash(row[vb[0]][2])}")
    if len(failures) == before:
        print(f"ok   Table 1: {n} model x task entries and {len(rows)} detail rows agree with the CSV"
              + (" (with validation)" if val else "") + (f"; {f1_checked} macro-F1 values" if has_f1 else ""))


def exact_two_sided(b, c):
    """Sum of the probabilities of every outcome no more likely than the one seen, X ~ Bin(b + c, 1/2)."""
    n = b + c
    probs = [Fraction(comb(n, k), 2 ** n) for k in range(n + 1)]
    seen = probs[b]
    return float(min(Fraction(1), sum(q for q in probs if q <= seen)))


def check_mcnemar(md, h5path, split):
    section = md_section(md, f"## Table 2: every p ({split} split)")
    if section is None:
        return
    header, rows = section
    ps = [float(h[2:]) for h in header[4:]]
    checked = 0
    before = len(failures)
    with h5py.File(h5path, "r") as f:
        cells = {(attr_text(g.attrs["model"]), attr_text(g.attrs["task"])): g for g in f["cells"].values()}
        for r in rows:
            g = cells[(r[0], r[1])]
            base = g["base"][split]["correct"][()].astype(bool)
            by_p = {float(pr.attrs["p"]): pr for pr in g["pruned"].values()}
            for p, cell in zip(ps, r[4:]):
                m = re.search(r"\[([^\]]+)\]", cell)
                if m is None:
                    continue
                after = by_p[p][split]["correct"][()].astype(bool)
                b, c = int((base & ~after).sum()), int((~base & after).sum())
                if b + c > 3000:
                    continue
                want = exact_two_sided(b, c)
                if want < 1e-300:
                    continue
                # Right to the printed digits: within half a unit of the last one shown.
                text = m.group(1)
                got = Decimal(text)
                tol = Decimal(0) if text == "1" else Decimal(5) * Decimal(10) ** (got.as_tuple().exponent - 1)
                if abs(got - Decimal(want)) > tol * Decimal("1.000001"):
                    fail(f"McNemar {split} {r[0]} x {r[1]} p={p}: printed {got}, exact {want:.6g} (b={b}, c={c})")
                checked += 1
    if len(failures) == before:
        print(f"ok   McNemar ({split}): {checked} printed p-values match an independent exact computation")


def check_failed(md, tex, h5path):
    with h5py.File(h5path, "r") as f:
        errors = [(attr_text(g.attrs["model"]), attr_text(g.attrs["task"]), attr_text(g.attrs["error"])) for g in f["cells"].values()
                  if attr_text(g.attrs["status"]) != "done"]
    errors = [tuple(x.decode() if isinstance(x, bytes) else str(x) for x in e) for e in errors]
    errors = [(m, t, " ".join(e.split()) or "(no message)") for m, t, e in errors]  # listed on one line
    if not errors:
        if "Cells that failed" in md:
            fail("tables list failed cells but the file has none")
        print("ok   no error cells in the file, none listed")
        return
    i = md.find("## Cells that failed")
    if i < 0:
        fail("the file has error cells but the Markdown lists none")
        return
    listing = md[i:]
    before = len(failures)
    for model, task, error in errors:
        if f"{model} × {task}" not in listing or error not in listing:
            fail(f"error cell {model} x {task} ({error}) is not listed with its error")
        for title in ["## Table 2: every p (test split)", "## Table 2: every p (validation split)",
                      "### Table 1, details"]:
            s = md_section(md, title)
            if s and any(r[0] == model and r[1] == task for r in s[1]):
                fail(f"error cell {model} x {task} has a row in '{title}'")
        if error.replace("_", "\\_") not in tex and error not in tex:
            fail(f"error cell {model} x {task} is not listed in the LaTeX output")
    if len(failures) == before:
        print(f"ok   {len(errors)} error cell(s) left out of the tables and listed with their error")


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    text = open(sys.argv[1], encoding="utf-8").read()
    report_dir, h5path = sys.argv[2], sys.argv[3]

    def read(name):
        with open(os.path.join(report_dir, name), encoding="utf-8") as f:
            return f.read()

    test, val = read_csv(os.path.join(report_dir, "test.csv")), read_csv(os.path.join(report_dir, "validation.csv"))
    md, tex = split_formats(text)
    check_same_as_report(md, read("test.md"), "test")
    check_same_as_report(md, read("validation.md"), "validation")
    s = md_section(md, "## Table 2: every p (test split)")
    if s is None:
        fail("Markdown Table 2 (test) not found")
    else:
        check_table2("Markdown Table 2 (test)", *s, test, "md")
    s = latex_section(tex, "% Table 2: every p (test split)")
    if s is None:
        fail("LaTeX Table 2 (test) not found")
    else:
        check_table2("LaTeX Table 2 (test)", *s, test, "latex")
    if val:
        s = md_section(md, "## Table 2: every p (validation split)")
        if s is None:
            fail("the CSV has validation rows but Markdown Table 2 (validation) is missing")
        else:
            check_table2("Markdown Table 2 (validation)", *s, val, "md")
        s = latex_section(tex, "% Table 2: every p (validation split)")
        if s is None:
            fail("the CSV has validation rows but LaTeX Table 2 (validation) is missing")
        else:
            check_table2("LaTeX Table 2 (validation)", *s, val, "latex")
    elif "validation split" in md:
        fail("tables show a validation split the CSV does not have")
    check_table1(md, test, val, file_has_macro_f1(h5path))
    check_mcnemar(md, h5path, "test")
    if val:
        check_mcnemar(md, h5path, "validation")
    check_failed(md, tex, h5path)
    print(f"check_tables: {'FAILED (' + str(len(failures)) + ')' if failures else 'all checks passed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
