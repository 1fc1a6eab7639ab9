"""McNemar's exact test, with integer (or, for very large counts, log-space) arithmetic.

Two classifiers scored on the same examples differ only on the discordant ones:
b = right before and wrong after, c = wrong before and right after. Under the null
hypothesis (same accuracy) each discordant example goes either way with
probability 1/2, so b ~ Binomial(b + c, 1/2), and the exact two-sided p-value is

    p = min(1, 2 * P(X <= min(b, c))),  X ~ Binomial(n = b + c, 1/2)
      = min(1, sum_{i=0}^{min(b,c)} C(n, i) / 2^(n-1))

(the usual "twice the smaller tail", as R's mcnemar.exact and statsmodels'
mcnemar(exact=True); the binomial is symmetric, so it equals binom.test's p).
No scipy: Python integers give the tail exactly; above LOG_ABOVE discordant pairs
the terms are summed in log space (relative error ~1e-12).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

LOG_ABOVE = 20000  # discordant pairs above which the tail is summed in log space


@dataclass(frozen=True)
class McNemar:
    b: int             # right before, wrong after (pruning broke it)
    c: int             # wrong before, right after (pruning fixed it)
    pvalue: float      # exact two-sided; may underflow to 0.0 for huge, lopsided counts
    log10_pvalue: float  # always finite (p = 1 gives 0.0)

    @property
    def n(self) -> int:
        return self.b + self.c


def _tail_exact(n: int, m: int) -> tuple:
    """(p, log10 p) with p = min(1, 2 * sum_{i<=m} C(n, i) / 2^n), the sum in exact integers."""
    tail, term = 0, 1
    for i in range(m + 1):
        tail += term
        term = term * (n - i) // (i + 1)  # C(n, i+1), exact
    twice = 2 * tail
    if twice >= (1 << n):
        return 1.0, 0.0
    p = float(Fraction(twice, 1 << n))  # rounds correctly; underflows to 0.0 only below ~1e-308
    return p, math.log10(twice) - n * math.log10(2.0)  # math.log10 takes big ints


def _log10_tail_logspace(n: int, m: int) -> float:
    # log C(n, i) by the recurrence C(n, i+1) = C(n, i) (n - i) / (i + 1), then log-sum-exp.
    i = np.arange(m, dtype=np.float64)
    log_c = np.concatenate(([0.0], np.cumsum(np.log(n - i) - np.log(i + 1.0))))
    top = log_c.max()
    log_tail = top + math.log(float(np.exp(log_c - top).sum()))
    log_p = math.log(2.0) + log_tail - n * math.log(2.0)
    return min(0.0, log_p / math.log(10.0))


def binomial_two_sided_half(k: int, n: int) -> tuple:
    """(p, log10 p): exact two-sided p-value of k successes in n trials at probability 1/2."""
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    m = min(k, n - k)
    if n <= LOG_ABOVE:
        return _tail_exact(n, m)
    lp = _log10_tail_logspace(n, m)
    return 10.0 ** lp, lp


def mcnemar_counts(b: int, c: int) -> McNemar:
    p, lp = binomial_two_sided_half(min(b, c), b + c)
    return McNemar(b=b, c=c, pvalue=p, log10_pvalue=lp)


def mcnemar(before_correct, after_correct) -> McNemar:
    """The exact test on two 0/1 arrays over the same examples in the same order."""
    x = np.asarray(before_correct).astype(bool)
    y = np.asarray(after_correct).astype(bool)
    if x.shape != y.shape:
        raise ValueError(f"McNemar needs the same examples on both sides, got {x.shape} and {y.shape}")
    b = int(np.count_nonzero(x & ~y))
    c = int(np.count_nonzero(~x & y))
    return mcnemar_counts(b, c)


def format_pvalue(t: McNemar) -> str:
    """Three significant digits; scientific notation below 0.001 (from log10 when the float underflows)."""
    if t.pvalue >= 0.001:
        return f"{t.pvalue:.3g}" if t.pvalue < 1 else "1"
    if t.pvalue > 0:
        return f"{t.pvalue:.2e}"
    e = math.floor(t.log10_pvalue)
    return f"{10 ** (t.log10_pvalue - e):.2f}e{e:d}"
