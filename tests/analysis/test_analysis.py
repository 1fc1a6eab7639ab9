#!/usr/bin/env python3
"""Unit tests of analysis/stats.py (McNemar's exact test) and of how analysis/tables.py
chooses p. Run: python3 tests/analysis/test_analysis.py (unittest; no pytest needed)."""

import math
import os
import sys
import unittest
from fractions import Fraction
from math import comb

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "analysis"))
import results as rs  # noqa: E402
import stats  # noqa: E402
import tables  # noqa: E402


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

    def test_latex_escaping(self):
        self.assertEqual(tables.tex("a_b & 50% <x>"), r"a\_b \& 50\% $<$x$>$")


if __name__ == "__main__":
    unittest.main(verbosity=1)
