// McNemar's exact test in C++ (runner/mcnemar.h) against outside references:
//  - R's binom.test / statsmodels' mcnemar(exact=True) on small tables;
//  - an independent exact computation in 64-bit integers for every table up to n = 60;
//  - the p-values and printed texts analysis/stats.py (Python's exact integers, then its
//    log-space sum above 20,000 pairs) gave for the same counts, recorded below; the CLI
//    tests (tests/cli/methods.sh) also compare whole printed tables against it.
#include "runner/mcnemar.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace ep::runner {
namespace {

TEST(McNemar, MatchesRsBinomTest) {
  EXPECT_EQ(mcnemar_counts(0, 5).pvalue, 0.0625);          // binom.test(0, 5)
  EXPECT_EQ(mcnemar_counts(1, 9).pvalue, 0.021484375);     // binom.test(1, 10)
  EXPECT_EQ(mcnemar_counts(10, 2).pvalue, 0.03857421875);  // binom.test(2, 12)
  EXPECT_EQ(mcnemar_counts(0, 0).pvalue, 1.0);
  EXPECT_EQ(mcnemar_counts(7, 7).pvalue, 1.0);
  EXPECT_EQ(mcnemar_counts(6, 7).pvalue, 1.0);
}

// Σ_{i<=m} C(n, i) in uint64 (exact for n <= 62), then one correctly rounded conversion.
double brute_force(int b, int c) {
  const int n = b + c, m = std::min(b, c);
  uint64_t tail = 0, term = 1;
  for (int i = 0; i <= m; ++i) {
    tail += term;
    term = term * static_cast<uint64_t>(n - i) / static_cast<uint64_t>(i + 1);
  }
  const uint64_t twice = 2 * tail;
  if (n < 64 && twice >= (uint64_t{1} << n)) return 1.0;
  return std::ldexp(static_cast<double>(twice), -n);
}

TEST(McNemar, EqualsAnIndependentExactComputationUpTo60Pairs) {
  for (int b = 0; b <= 30; ++b)
    for (int c = 0; c <= 30; ++c) {
      const McNemar t = mcnemar_counts(b, c);
      ASSERT_EQ(t.pvalue, brute_force(b, c)) << "b=" << b << " c=" << c;
      ASSERT_EQ(t.pvalue, mcnemar_counts(c, b).pvalue) << "b=" << b << " c=" << c;  // symmetric
      if (t.pvalue < 1) {
        ASSERT_NEAR(t.log10_pvalue, std::log10(t.pvalue), 1e-12);
      }
    }
}

TEST(McNemar, CountsTheDiscordantExamples) {
  const std::vector<uint8_t> before{1, 1, 1, 0, 0, 1, 0, 1}, after{1, 0, 0, 1, 0, 1, 1, 0};
  const McNemar t = mcnemar(before, after);
  EXPECT_EQ(t.b, 3);  // right before, wrong after
  EXPECT_EQ(t.c, 2);
  EXPECT_EQ(t.pvalue, 1.0);
  const std::vector<uint8_t> shorter{1, 0};
  EXPECT_THROW(mcnemar(before, shorter), std::exception);
}

// analysis/stats.py's values for the same counts: (b, c, p, log10 p, printed).
struct PythonValue {
  int64_t b, c;
  double pvalue, log10_pvalue;
  const char* printed;
};

TEST(McNemar, PrintsWhatAnalysisStatsPrints) {
  const PythonValue values[] = {
      {0, 5, 0.0625, -1.2041199826559248, "0.0625"},
      {1, 9, 0.021484375, -1.667877275817606, "0.0215"},
      {10, 2, 0.03857421875, -1.4137028610133515, "0.0386"},
      {0, 6, 0.03125, -1.5051499783199058, "0.0312"},  // a tie at the third digit: half to even
      {0, 0, 1.0, 0.0, "1"},
      {0, 25, 5.960464477539063e-08, -7.224719895935548, "5.96e-08"},
      {3, 40, 3.0213413992896676e-09, -8.519800198443873, "3.02e-09"},
      {0, 1074, 1e-323, -323.00518534745186, "9.88e-324"},     // subnormal, exact
      {0, 1100, 0.0, -330.83196523471537, "1.47e-331"},        // below the doubles: from log10
      {0, 3000, 0.0, -902.7889569962797, "1.63e-903"},
      {100, 2500, 0.0, -599.6694977114244, "2.14e-600"},
      {9000, 11500, 2.2047042003567124e-68, -67.65664967049106, "2.20e-68"},  // log space (> 20,000 pairs)
      {12000, 12000, 1.0, 0.0, "1"},
  };
  for (const auto& v : values) {
    const McNemar t = mcnemar_counts(v.b, v.c);
    if (v.b + v.c <= 20000)
      EXPECT_EQ(t.pvalue, v.pvalue) << "b=" << v.b << " c=" << v.c;
    else
      EXPECT_NEAR(t.pvalue, v.pvalue, 1e-9 * v.pvalue) << "b=" << v.b << " c=" << v.c;
    EXPECT_NEAR(t.log10_pvalue, v.log10_pvalue, 1e-9) << "b=" << v.b << " c=" << v.c;
    EXPECT_EQ(format_pvalue(t), v.printed) << "b=" << v.b << " c=" << v.c;
  }
}

}  // namespace
}  // namespace ep::runner
