// What eigenpruning is compared with (core/prune/methods.h): LASER's edit against a
// rank-k approximation made here by LAPACK's SVD (not eprunner's Gram route), the
// controls' choices against their definitions, on the tiny HF fixture models.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "core/prune/batching.h"
#include "core/prune/decompose.h"
#include "core/prune/freeze.h"
#include "core/prune/methods.h"
#include "core/prune/select.h"
#include "tests/core/prune_test_util.h"

namespace ep {
namespace {

std::unique_ptr<CausalLM> load(const std::string& name) {
  return load_causal_lm(std::filesystem::path(EP_TEST_DATA_DIR) / "fixtures" / name, LoadOptions{});
}

// The best rank-k approximation of A (Eckart–Young), from at::linalg_svd in float64.
at::Tensor rank_k(const at::Tensor& a, int64_t k) {
  auto [u, s, vh] = at::linalg_svd(a.to(at::kDouble), /*full_matrices=*/false);
  return at::matmul(u.narrow(1, 0, k) * s.narrow(0, 0, k), vh.narrow(0, 0, k));
}

at::Tensor logits_of(CausalLM& model) {
  at::NoGradGuard no_grad;
  std::vector<std::vector<int64_t>> prompts = {{5, 17, 300, 2}, {9, 9, 41}, {100, 7, 8, 9, 10}};
  return model.forward(left_padded_batch(prompts, {0, 1, 2}, 0, model.device()), LogitsScope::Last);
}

TEST(Laser, ReplacesTheChosenLayersByTheirRankKApproximationAndNothingElse) {
  for (const char* name : {"tiny-gpt2", "tiny-phi"}) {
    for (MatrixKind kind : {MatrixKind::MlpIn, MatrixKind::K}) {
      auto model = load(name);
      DecomposeOptions whole;
      whole.granularity = Granularity::Matrix;
      const auto decs = decompose(*model, {kind}, whole);
      const std::vector<int64_t> layers = {1};
      const double rho = 0.25;
      const int64_t r = decs[1].rank(), k = laser_rank_kept(r, rho);
      ASSERT_EQ(k, std::max<int64_t>(1, static_cast<int64_t>(r * rho)));
      const auto removed = laser_components(decs, layers, rho);
      EXPECT_EQ(static_cast<int64_t>(removed.size()), r - k) << name;
      const at::Tensor a0 = model->weight(decs[0].matrix), a1 = model->weight(decs[1].matrix);
      const at::Tensor bias1 = model->bias(decs[1].matrix);
      const at::Tensor before = logits_of(*model);
      FreezeOptions no_bias;
      no_bias.bias = BiasMode::None;
      {
        ScopedFreeze freeze(*model, decs, ScoreState{}, removed, no_bias);
        EXPECT_CLOSE(model->weight(decs[1].matrix), rank_k(a1, k), 1e-6);
        EXPECT_TRUE(at::equal(model->weight(decs[0].matrix), a0)) << name << ": another layer changed";
        EXPECT_TRUE(at::equal(model->bias(decs[1].matrix), bias1)) << name << ": LASER has no bias term";
        // The same logits as the model with the reference's rank-k weight set by hand.
        const at::Tensor laser_logits = logits_of(*model);
        freeze.remove();
        model->set_weight(decs[1].matrix, rank_k(a1, k));
        EXPECT_CLOSE(laser_logits, logits_of(*model), 1e-5);
        model->set_weight(decs[1].matrix, a1);
      }
      EXPECT_TRUE(at::equal(logits_of(*model), before)) << name << ": the edit was not undone";
    }
  }
}

TEST(Laser, KeepsAtLeastOneComponentAndRefusesAMissingLayer) {
  EXPECT_EQ(laser_rank_kept(64, 0.001), 1);
  EXPECT_EQ(laser_rank_kept(64, 0.5), 32);
  EXPECT_EQ(laser_rank_kept(10, 0.99), 9);
  EXPECT_THROW(laser_rank_kept(64, 0.0), Error);
  auto model = load("tiny-gpt2");
  DecomposeOptions whole;
  whole.granularity = Granularity::Matrix;
  const auto decs = decompose(*model, {MatrixKind::MlpIn}, whole);
  // Decomposing only the layers LASER reduces gives the same removal, numbered from 0.
  DecomposeOptions only1 = whole;
  only1.layers = {1};
  const auto one = decompose(*model, {MatrixKind::MlpIn}, only1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].matrix.layer, 1);
  EXPECT_EQ(one[0].offset, 0);
  EXPECT_TRUE(at::equal(one[0].s, decs[1].s));
  std::vector<int64_t> shifted = laser_components(decs, {1}, 0.5);
  for (int64_t& i : shifted) i -= decs[1].offset;
  EXPECT_EQ(laser_components(one, {1}, 0.5), shifted);
  try {
    laser_components(decs, {7}, 0.5);
    FAIL() << "layer 7 of a 2-layer model was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no decomposed matrix at layer 7 (layers: 0, 1)"), std::string::npos)
        << e.what();
  }
}

TEST(Controls, HighestIsTheMirrorOfLowestAndRandomIsSeededNestedAndUniform) {
  auto scores = at::tensor({0.5, -1.0, 2.0, 0.5, 3.0, -2.0}, at::kDouble);
  EXPECT_EQ(rank_highest_first(scores), (std::vector<int64_t>{4, 2, 0, 3, 1, 5}));  // ties by index
  EXPECT_EQ(select_lowest(rank_highest_first(scores), 0.5), (std::vector<int64_t>{4, 2, 0}));
  EXPECT_THROW(rank_highest_first(at::tensor({0.0, NAN}, at::kDouble)), Error);

  const int64_t n = 1000;
  auto a = random_ranking(n, 1), again = random_ranking(n, 1), b = random_ranking(n, 2);
  EXPECT_EQ(a, again);
  EXPECT_NE(a, b);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(sorted[i], i) << "not a permutation";
  // Nested: p = 0.05's choice is inside p = 0.3's (a prefix of one order).
  auto small = select_lowest(a, 0.05), large = select_lowest(a, 0.3);
  EXPECT_EQ(small.size(), 50u);
  EXPECT_TRUE(std::equal(small.begin(), small.end(), large.begin()));
  // Uniform: over 400 seeds, every index is among the first 100 about 40 times
  // (binomial(400, 0.1): variance 36); sum (h - 40)^2 / 36 over the 1000 indices is a
  // chi-square of ~999 degrees of freedom.
  std::vector<int> hits(n, 0);
  for (uint64_t seed = 0; seed < 400; ++seed) {
    auto order = random_ranking(n, seed);
    for (int64_t i = 0; i < 100; ++i) ++hits[order[i]];
  }
  double chi2 = 0;
  for (int h : hits) chi2 += (h - 40.0) * (h - 40.0) / 36.0;
  std::printf("[ measure  ] random control: chi-square %.1f over 999 degrees of freedom\n", chi2);
  EXPECT_LT(chi2, 999 + 5 * std::sqrt(2 * 999.0));  // 5 sd of the chi-square
  EXPECT_GT(chi2, 999 - 5 * std::sqrt(2 * 999.0));
}

}  // namespace
}  // namespace ep
