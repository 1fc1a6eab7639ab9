// Helpers for the eigenpruning tests: 2 torch threads, and a closeness check that
// prints the measured error (so test logs double as a record of the numbers).
#pragma once

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

namespace ep::prune_test {

class TwoThreads : public ::testing::Environment {
 public:
  void SetUp() override { at::set_num_threads(2); }
};
inline ::testing::Environment* const kTwoThreads =
    ::testing::AddGlobalTestEnvironment(new TwoThreads);

// max|got - expected| / max|expected| <= tol (absolute when expected is all zero).
inline ::testing::AssertionResult Close(const char* got_expr, const char* exp_expr, const char*,
                                        const at::Tensor& got, const at::Tensor& expected,
                                        double tol) {
  if (got.sizes() != expected.sizes())
    return ::testing::AssertionFailure() << got_expr << " has shape " << got.sizes() << ", "
                                         << exp_expr << " has " << expected.sizes();
  auto g = got.detach().cpu().to(at::kDouble), e = expected.detach().cpu().to(at::kDouble);
  const double max_abs = (g - e).abs().max().item<double>();
  const double scale = e.abs().max().item<double>();
  const double rel = max_abs / (scale > 0 ? scale : 1.0);
  std::printf("[ measure  ] %s vs %s: relative error %.3g\n", got_expr, exp_expr, rel);
  if (rel <= tol && !std::isnan(rel)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << got_expr << " vs " << exp_expr << ": relative error "
                                       << rel << " > " << tol;
}

inline at::Tensor randn64(std::vector<int64_t> shape, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(shape, gen, at::kDouble);
}

}  // namespace ep::prune_test

#define EXPECT_CLOSE(got, expected, tol) EXPECT_PRED_FORMAT3(::ep::prune_test::Close, got, expected, tol)
