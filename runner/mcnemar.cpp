// McNemar's exact test (runner/mcnemar.h); the same arithmetic as analysis/stats.py, so
// the two print the same p-values: a tail of binomial coefficients summed in exact
// integers and divided by 2^n once, correctly rounded (Python's int / int), and above
// 20,000 discordant pairs the same log-space sum.
#include "runner/mcnemar.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "core/util/error.h"

namespace ep::runner {
namespace {

constexpr int64_t kLogAbove = 20000;  // analysis/stats.py LOG_ABOVE

// A non-negative integer of any size: 32-bit limbs, least significant first. Only what
// the tail needs: C(n, i+1) = C(n, i)·(n − i)/(i + 1) (exact), sums, and reading bits.
class Natural {
 public:
  explicit Natural(uint32_t v) : limbs_{v} { trim(); }

  void multiply(uint32_t factor) {
    uint64_t carry = 0;
    for (uint32_t& limb : limbs_) {
      const uint64_t t = uint64_t{limb} * factor + carry;
      limb = static_cast<uint32_t>(t);
      carry = t >> 32;
    }
    if (carry) limbs_.push_back(static_cast<uint32_t>(carry));
    trim();
  }

  // Divides by a divisor that divides it exactly (a binomial coefficient's recurrence).
  void divide_exactly(uint32_t divisor) {
    uint64_t rest = 0;
    for (size_t i = limbs_.size(); i-- > 0;) {
      const uint64_t t = (rest << 32) | limbs_[i];
      limbs_[i] = static_cast<uint32_t>(t / divisor);
      rest = t % divisor;
    }
    EP_CHECK(rest == 0, "McNemar: internal error, a binomial coefficient is not divisible by {}", divisor);
    trim();
  }

  void add(const Natural& other) {
    if (limbs_.size() < other.limbs_.size()) limbs_.resize(other.limbs_.size(), 0);
    uint64_t carry = 0;
    for (size_t i = 0; i < limbs_.size(); ++i) {
      const uint64_t t = uint64_t{limbs_[i]} + (i < other.limbs_.size() ? other.limbs_[i] : 0) + carry;
      limbs_[i] = static_cast<uint32_t>(t);
      carry = t >> 32;
    }
    if (carry) limbs_.push_back(static_cast<uint32_t>(carry));
  }

  int64_t bit_length() const {
    if (limbs_.empty()) return 0;
    return static_cast<int64_t>(limbs_.size() - 1) * 32 + (32 - __builtin_clz(limbs_.back()));
  }
  bool bit(int64_t j) const {
    const auto limb = static_cast<size_t>(j / 32);
    return j >= 0 && limb < limbs_.size() && ((limbs_[limb] >> (j % 32)) & 1u);
  }
  bool any_bit_below(int64_t j) const {
    for (int64_t i = 0; i < j && i < bit_length(); ++i)
      if (bit(i)) return true;
    return false;
  }

  // The value × 2^shift rounded to `keep` significant bits, half to even, as a double;
  // keep <= 53 (fewer in the subnormal range, 0 or less: the value is below 2^-1074).
  double rounded_scaled(int keep, int64_t shift) const {
    const int64_t length = bit_length();
    if (length == 0 || keep < 0) return 0.0;
    const int64_t drop = std::max<int64_t>(0, length - keep);  // low bits rounded away
    uint64_t q = 0;
    for (int64_t j = length - 1; j >= drop; --j) q = (q << 1) | (bit(j) ? 1u : 0u);
    if (drop > 0 && bit(drop - 1) && (any_bit_below(drop - 1) || (q & 1u))) ++q;
    return std::ldexp(static_cast<double>(q), static_cast<int>(drop + shift));
  }

 private:
  void trim() {
    while (!limbs_.empty() && limbs_.back() == 0) limbs_.pop_back();
  }
  std::vector<uint32_t> limbs_;
};

// Correctly rounded value × 2^shift (Python's int / 2^n): 53 bits, fewer when subnormal.
double to_double_scaled(const Natural& x, int64_t shift) {
  const int64_t top_exponent = x.bit_length() - 1 + shift;  // the value is in [2^top, 2^(top+1))
  const int64_t keep = top_exponent >= -1022 ? 53 : 53 - (-1022 - top_exponent);
  return x.rounded_scaled(static_cast<int>(std::max<int64_t>(keep, -1)), shift);
}

// math.log10 of a big int, as CPython computes it: frexp to 53 bits, then
// log10(mantissa) + log10(2)·exponent.
double log10_of(const Natural& x) {
  int64_t exponent = x.bit_length();
  double mantissa = x.rounded_scaled(53, -exponent);  // in [0.5, 1]
  if (mantissa == 1.0) {
    mantissa = 0.5;
    ++exponent;
  }
  return std::log10(mantissa) + std::log10(2.0) * static_cast<double>(exponent);
}

// (p, log10 p), p = min(1, 2·Σ_{i<=m} C(n, i) / 2^n) in exact integers.
McNemar tail_exact(int64_t n, int64_t m) {
  Natural tail(0), term(1);
  for (int64_t i = 0; i <= m; ++i) {
    tail.add(term);
    term.multiply(static_cast<uint32_t>(n - i));
    term.divide_exactly(static_cast<uint32_t>(i + 1));
  }
  tail.multiply(2);
  if (tail.bit_length() > n) return {};  // 2·tail >= 2^n: p = 1
  McNemar t;
  t.pvalue = to_double_scaled(tail, -n);
  t.log10_pvalue = log10_of(tail) - static_cast<double>(n) * std::log10(2.0);
  return t;
}

// log10 p above kLogAbove pairs: log C(n, i) by the recurrence, then log-sum-exp.
double log10_tail_logspace(int64_t n, int64_t m) {
  std::vector<double> log_c(static_cast<size_t>(m) + 1, 0.0);
  for (int64_t i = 0; i < m; ++i)
    log_c[static_cast<size_t>(i) + 1] =
        log_c[static_cast<size_t>(i)] + (std::log(static_cast<double>(n - i)) - std::log(static_cast<double>(i) + 1.0));
  const double top = *std::max_element(log_c.begin(), log_c.end());
  double sum = 0;
  for (double v : log_c) sum += std::exp(v - top);
  const double log_p = std::log(2.0) + top + std::log(sum) - static_cast<double>(n) * std::log(2.0);
  return std::min(0.0, log_p / std::log(10.0));
}

}  // namespace

McNemar mcnemar_counts(int64_t b, int64_t c) {
  EP_CHECK(b >= 0 && c >= 0, "McNemar: discordant counts must be >= 0, got b={}, c={}", b, c);
  const int64_t n = b + c, m = std::min(b, c);
  McNemar t;
  if (n <= kLogAbove) {
    t = tail_exact(n, m);
  } else {
    t.log10_pvalue = log10_tail_logspace(n, m);
    t.pvalue = std::pow(10.0, t.log10_pvalue);
  }
  t.b = b;
  t.c = c;
  return t;
}

McNemar mcnemar(const std::vector<uint8_t>& before_correct, const std::vector<uint8_t>& after_correct) {
  EP_CHECK(before_correct.size() == after_correct.size(),
           "McNemar needs the same examples on both sides, got {} and {} per-example results",
           before_correct.size(), after_correct.size());
  int64_t b = 0, c = 0;
  for (size_t i = 0; i < before_correct.size(); ++i) {
    const bool x = before_correct[i] != 0, y = after_correct[i] != 0;
    b += x && !y;
    c += !x && y;
  }
  return mcnemar_counts(b, c);
}

std::string format_pvalue(const McNemar& t) {
  if (t.pvalue >= 0.001) return t.pvalue < 1 ? fmt::format("{:.3g}", t.pvalue) : "1";
  if (t.pvalue > 0) return fmt::format("{:.2e}", t.pvalue);
  const double e = std::floor(t.log10_pvalue);
  return fmt::format("{:.2f}e{}", std::pow(10.0, t.log10_pvalue - e), static_cast<int64_t>(e));
}

}  // namespace ep::runner
