// McNemar's exact test of two classifiers scored on the same examples, as
// analysis/stats.py computes it (docs/analysis.md, "McNemar's exact test"), so that
// `eprunner report` prints the same p-values as analysis.report and analysis.tables.
//
// b = right before and wrong after, c = the reverse; under the null each of the b + c
// discordant examples goes either way with probability 1/2, and
//   p = min(1, 2 * P(X <= min(b, c))),  X ~ Binomial(b + c, 1/2).
// Up to 20,000 discordant pairs the tail is summed in exact integers and divided once
// (correctly rounded, as Python's int / int); above that it is summed in log space.
#pragma once

#include <cstdint>
#include <vector>
#include <string>

namespace ep::runner {

struct McNemar {
  int64_t b = 0, c = 0;
  double pvalue = 1;        // exact two-sided; underflows to 0 only for huge, lopsided counts
  double log10_pvalue = 0;  // always finite (p = 1 gives 0)
};

McNemar mcnemar_counts(int64_t b, int64_t c);

// The test on two 0/1 arrays over the same examples in the same order; throws when
// their lengths differ.
McNemar mcnemar(const std::vector<uint8_t>& before_correct, const std::vector<uint8_t>& after_correct);

// Three significant digits; `4.77e-07` below 0.001; from the logarithm when the double
// underflowed (`1.74e-602`). analysis/stats.py format_pvalue prints the same text.
std::string format_pvalue(const McNemar& t);

}  // namespace ep::runner
