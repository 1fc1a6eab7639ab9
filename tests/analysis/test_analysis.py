#!/usr/bin/env python3
"""Unit tests of the analysis package: McNemar's exact test (stats), how tables choose p,
the shared printing rules (text), the accuracy-by-p table (report, and Table 2 built on
it), macro-F1 in Table 1, and the loader's errors (results).

Run from the repository root: PYTHONPATH=. python3 tests/analysis/test_analysis.py
(unittest; no pytest needed). make_results.py, beside this file, writes the test files.
"""

import contextlib
import io
import math
import os
import re
import tempfile
import unittest
from fractions import Fraction
from math import comb

import h5py
import numpy as np

import make_results  # tests/analysis/, this script's folder
from analysis import report, stats, tables, text
from analysis import results as rs


def brute_force(b, c):
    """Two-sided exact p by definition: the probability of every outcome no more likely
    than the one seen, under Binomial(b + c, 1/2)."""
    n = b + c
    probs = [Fraction(comb(n, k), 2 ** n) for k in range(n + 1)]
    return min(Fraction(1), sum(p for p in probs if p <= probs[b]))


class McNemarTest(unittest.TestCase):
    def test_known_values(self):
        # R: binom.test(0, 5)$p.value = 0.0625; binom.test(1, 10) = 0.02148438; binom.test(2, 12) = 0.03857422
        self.assertEqual(stats.mcnemar_counts(0, 5).pvalue, 0.0625)
        self.assertEqual(stats.mcnemar_counts(1, 9).pvalue, 0.021484375)
        self.assertEqual(stats.mcnemar_counts(10, 2).pvalue, 0.03857421875)
        self.assertEqual(stats.mcnemar_counts(0, 0).pvalue, 1.0)
        self.assertEqual(stats.mcnemar_counts(7, 7).pvalue, 1.0)
        self.assertEqual(stats.mcnemar_counts(6, 7).pvalue, 1.0)

    def test_against_definition(self):
        for b in range(0, 25):
            for c in range(0, 25):
                self.assertEqual(stats.mcnemar_counts(b, c).pvalue, float(brute_force(b, c)), (b, c))

    def test_symmetric_and_log(self):
        for b, c in [(3, 40), (100, 160), (0, 900)]:
            t, u = stats.mcnemar_counts(b, c), stats.mcnemar_counts(c, b)
            self.assertEqual(t.pvalue, u.pvalue)
            self.assertAlmostEqual(t.log10_pvalue, math.log10(t.pvalue), places=9)

    def test_log_space_route_agrees(self):
        for n, m in [(3000, 1200), (20000, 9000), (20000, 3), (5001, 2500)]:
            exact = stats._tail_exact(n, m)[1]
            approx = stats._log10_tail_logspace(n, m)
            self.assertLess(abs(exact - approx), 1e-9 * max(1.0, abs(exact)), (n, m))
        t = stats.mcnemar_counts(30000, 30500)  # above LOG_ABOVE: the log route
        self.assertTrue(0 < t.pvalue < 1)

    def test_underflow_keeps_log(self):
        t = stats.mcnemar_counts(0, 3000)  # 2^-2999
        self.assertEqual(t.pvalue, 0.0)
        self.assertAlmostEqual(t.log10_pvalue, -2999 * math.log10(2), places=6)
        self.assertTrue(stats.format_pvalue(t).endswith("e-903"), stats.format_pvalue(t))

    def test_arrays(self):
        before = np.array([1, 1, 0, 0, 1, 0], dtype=np.uint8)
        after = np.array([1, 0, 1, 1, 1, 1], dtype=np.uint8)
        t = stats.mcnemar(before, after)
        self.assertEqual((t.b, t.c), (1, 3))
        self.assertEqual(t.pvalue, 0.625)
        with self.assertRaises(ValueError):
            stats.mcnemar(before, after[:3])

    def test_format(self):
        self.assertEqual(stats.format_pvalue(stats.mcnemar_counts(0, 5)), "0.0625")
        self.assertEqual(stats.format_pvalue(stats.mcnemar_counts(3, 3)), "1")
        self.assertEqual(stats.format_pvalue(stats.mcnemar_counts(0, 20)), "1.91e-06")


def split(acc, correct=None):
    c = None if correct is None else np.array(correct, dtype=np.uint8)
    return rs.Split(metric="full-vocab", accuracy=acc, n=4 if c is None else len(c), correct=c)


class ChooseTest(unittest.TestCase):
    def cell(self, test_accs, val_accs):
        cell = rs.Cell(index=0, name="m__t", model="m", task="t", fingerprint="", status="done", error="")
        cell.base_test = split(0.25, [1, 0, 0, 0])
        cell.base_validation = split(0.5)
        for p, a, v in zip([0.01, 0.05, 0.1, 0.3], test_accs, val_accs):
            right = int(round(a * 4))
            cell.pruned.append(rs.Pruned(p=p, n_frozen=0, test=split(a, [1] * right + [0] * (4 - right)),
                                         validation=split(v)))
        return cell

    def test_ties_go_to_the_smaller_p(self):
        c = self.cell([0.5, 0.75, 0.75, 0.25], [0.5, 0.5, 1.0, 1.0])
        self.assertEqual(tables.choose(c, "test").p, 0.05)
        v = tables.choose(c, "validation")
        self.assertEqual(v.p, 0.1)
        self.assertEqual(v.test_accuracy, 0.75)
        self.assertEqual((v.test.b, v.test.c), (0, 2))

    def test_unmeasured_p_is_skipped(self):
        c = self.cell([0.5, 0.75, 0.75, 0.25], [float("nan")] * 4)
        self.assertIsNone(tables.choose(c, "validation"))
        c.pruned[0].validation = split(0.1)
        self.assertEqual(tables.choose(c, "validation").p, 0.01)

    def test_no_per_example_arrays_gives_no_test(self):
        c = self.cell([0.5, 0.75, 0.75, 0.25], [0.5] * 4)
        c.base_test.correct = None
        self.assertIsNone(tables.choose(c, "test").test)


class TextTest(unittest.TestCase):
    def test_p_label_is_fmts_shortest_round_trip(self):
        # runner/report.cpp prints p with fmt's "{}"; tests/runner/report_test.cpp checks the same values.
        for p, want in [(0.05, "0.05"), (0.3, "0.3"), (1e-05, "1e-05"), (0.0001, "0.0001"), (1.0, "1"),
                        (0.1 + 0.2, "0.30000000000000004"), (1e16, "1e+16")]:
            self.assertEqual(text.p_label(p), want)

    def test_pct(self):
        self.assertEqual(text.pct(0.461), "46.10")
        self.assertEqual(text.pct(1.0), "100.00")
        self.assertEqual(text.pct(None), "-")
        self.assertEqual(text.pct(math.nan), "-")

    def test_one_line(self):
        self.assertEqual(text.one_line("a:\n  b\t c "), "a: b c")
        self.assertEqual(text.one_line(" \n"), "(no message)")
        self.assertEqual(text.one_line("é\u00a0x"), "é\u00a0x")  # only ASCII whitespace, as report.cpp

    def test_latex_escaping(self):
        self.assertEqual(text.tex("a_b & 50% <x>"), r"a\_b \& 50\% $<$x$>$")


def done_cell(index, model, task, base, by_p, metric="full-vocab"):
    """A finished cell with test accuracies only (None: not measured)."""
    def s(a):
        return rs.Split() if a is None else rs.Split(metric=metric, accuracy=a, n=80)
    c = rs.Cell(index=index, name=f"{model}__{task}", model=model, task=task, fingerprint="", status="done", error="")
    c.base_test = s(base)
    c.pruned = [rs.Pruned(p=p, n_frozen=0, test=s(a), validation=rs.Split()) for p, a in by_p]
    return c


class AccuracyTableTest(unittest.TestCase):
    """The rules of docs/analysis.md ("The accuracy-by-p table"), as tests/runner/report_test.cpp."""

    def results(self):
        failed = rs.Cell(index=3, name="gpt2__cb", model="gpt2", task="cb", fingerprint="", status="error",
                         error="CB/val.jsonl:\n  no such file")
        failed.pruned = [rs.Pruned(p=0.5, n_frozen=0, test=rs.Split(), validation=rs.Split())]
        cells = [done_cell(0, "phi-2", "int-sum", 0.0145, [(0.01, 0.0085), (0.05, 0.461), (0.1, 0.0785)]),
                 done_cell(1, "gpt2", "int-mult", 0.1375, [(0.05, 0.15), (0.1, 0.15), (0.3, 0.15)]),
                 done_cell(2, "gpt2", "int-sum", None, [(0.05, None)]),
                 failed]
        return rs.Results(path="x.h5", attrs={}, cells=cells)

    def test_markdown(self):
        self.assertEqual(report.markdown(report.accuracy_table(self.results(), "test")),
                         "Accuracy (%) on the test split; the best of each row in bold.\n\n"
                         "| model | task | metric | base | p=0.01 | p=0.05 | p=0.1 | p=0.3 |\n"
                         "|---|---|---|---:|---:|---:|---:|---:|\n"
                         "| phi-2 | int-sum | full-vocab | 1.45 | 0.85 | **46.10** | 7.85 | - |\n"
                         "| gpt2 | int-mult | full-vocab | 13.75 | - | **15.00** | **15.00** | **15.00** |\n"
                         "\nCells that failed:\n"
                         "- gpt2 x cb: CB/val.jsonl: no such file\n")

    def test_table2_is_the_report_table_with_mcnemar(self):
        path = os.path.join(self.tmp.name, "demo.h5")
        make_results.write_file(path, seed=3)
        res = rs.load(path)
        for split in ["test", "validation"]:
            want = [line for line in report.markdown(report.accuracy_table(res, split)).splitlines()
                    if line.startswith("|")]
            got = [re.sub(r" \[[^\]]*\]", "", line) for line in tables.table2(res, "md", split).splitlines()
                   if line.startswith("|")]
            self.assertEqual(got, want, split)
            self.assertGreater(len(want), 2, split)
        self.assertEqual([r.cell.task for r in report.accuracy_table(res, "validation").rows], ["int-mult"] * 2)

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()


class MacroF1Test(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def file(self, with_macro_f1):
        path = os.path.join(self.tmp.name, f"f1-{with_macro_f1}.h5")
        make_results.write_file(path, seed=5, with_macro_f1=with_macro_f1)
        return rs.load(path)

    def test_read_when_present(self):
        res = self.file(True)
        cb = next(c for c in res.done if c.task == "cb")
        want = make_results.macro_f1(cb.base_test.predicted, cb.test_targets, 3)
        self.assertEqual(cb.base_test.macro_f1, want)
        self.assertEqual(cb.base_test.measured_macro_f1, want)
        self.assertTrue(all(r.test.measured_macro_f1 is not None for r in cb.pruned))
        ints = [c for c in res.done if c.task != "cb"]
        self.assertTrue(all(math.isnan(c.base_test.macro_f1) for c in ints))
        details = tables.table1(res, "md", 0.05).split("### Table 1, details")[1]
        rows = [[x.strip() for x in line.strip("|").split("|")] for line in details.splitlines()
                if line.startswith("|")]
        col = {h: i for i, h in enumerate(rows[0])}
        by_task = {(r[0], r[1]): r for r in rows[2:]}
        best = tables.choose(cb, "test").p
        self.assertEqual(by_task[("tiny", "cb")][col["base F1"]], text.pct(want))
        self.assertEqual(by_task[("tiny", "cb")][col["F1"]], text.pct(tables.macro_f1_at(cb, best)))
        for key in [("tiny", "int-sum"), ("tiny-ft", "int-mult")]:
            self.assertEqual([by_task[key][col[h]] for h in ["base F1", "F1", "test F1"]], ["-"] * 3, key)

    def test_older_files_lack_it(self):
        res = self.file(False)
        self.assertTrue(all(math.isnan(c.base_test.macro_f1) for c in res.done))
        self.assertNotIn("F1", tables.table1(res, "md", 0.05))
        self.assertNotIn("F1", tables.table1(res, "latex", 0.05))


class LoadErrorTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def assert_error(self, path, what):
        with self.assertRaises(rs.ResultsError) as e:
            rs.load(path)
        self.assertEqual(e.exception.path, path)
        self.assertTrue(str(e.exception).startswith(f"{path}: "), str(e.exception))
        self.assertIn(what, str(e.exception))

    def test_missing_and_not_hdf5(self):
        self.assert_error(self.path("none.h5"), "cannot open")
        with open(self.path("bad.h5"), "w") as f:
            f.write("not hdf5\n")
        self.assert_error(self.path("bad.h5"), "cannot open")

    def test_not_a_results_file_or_newer(self):
        with h5py.File(self.path("other.h5"), "w") as f:
            f.attrs["something"] = 1
        self.assert_error(self.path("other.h5"), "not an eprunner results file")
        with h5py.File(self.path("newer.h5"), "w") as f:
            make_results.attr(f, "format", rs.FORMAT)
            make_results.attr(f, "format_version", rs.FORMAT_VERSION + 1)
        self.assert_error(self.path("newer.h5"), f"version {rs.FORMAT_VERSION + 1}")

    def test_main_prints_one_line_and_fails(self):
        bad = self.path("none.h5")
        for main in [tables.main, report.main]:
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(main([bad]), 1)
            self.assertRegex(err.getvalue(), rf"^analysis\.\w+: {re.escape(bad)}: cannot open[^\n]*\n$")


if __name__ == "__main__":
    unittest.main(verbosity=1)
