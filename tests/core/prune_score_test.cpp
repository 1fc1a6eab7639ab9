// Scoring, selection and freezing math on synthetic tensors (no model): the
// batched ΔL against a direct per-component loop, the first-order estimate
// against finite differences of a small float64 function, mergeable state,
// seeded batches, the global lowest-p choice and the frozen weight/bias.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "core/prune/decompose.h"
#include "core/prune/freeze.h"
#include "core/prune/score.h"
#include "core/prune/scoring_batches.h"
#include "core/prune/select.h"
#include "tests/core/prune_test_util.h"

namespace ep {
namespace {

using prune_test::randn64;

MatrixRef make_ref(MatrixKind kind, HeadAxis axis, int64_t out, int64_t in, int64_t heads,
                   int64_t layer = 0) {
  MatrixRef m{};
  m.kind = kind;
  m.layer = layer;
  m.out_features = out;
  m.in_features = in;
  m.n_heads = axis == HeadAxis::None ? 1 : heads;
  m.head_dim = axis == HeadAxis::Rows ? out / heads : axis == HeadAxis::Columns ? in / heads : out;
  m.head_axis = axis;
  return m;
}

Decomposition decompose64(const MatrixRef& m, Granularity g, uint64_t seed) {
  DecomposeOptions opts;
  opts.granularity = g;
  opts.dtype = at::kDouble;
  return decompose_matrix(m, randn64({m.out_features, m.in_features}, seed), opts);
}

// Left-padded mask [B, T]: row b has pads[b] pads.
at::Tensor left_mask(int64_t T, std::vector<int64_t> pads) {
  auto m = at::ones({static_cast<int64_t>(pads.size()), T}, at::kLong);
  for (size_t b = 0; b < pads.size(); ++b) m[static_cast<int64_t>(b)].narrow(0, 0, pads[b]).zero_();
  return m;
}

// ΔL of one component by the definition, one example and partner at a time.
double direct_delta(const ComponentVectors& c, const at::Tensor& x, const at::Tensor& g,
                    const at::Tensor& mask, int64_t b, int64_t partner, PositionReduce reduce) {
  double acc = reduce == PositionReduce::Sum ? 0.0 : -std::numeric_limits<double>::infinity();
  for (int64_t t = 0; t < x.size(1); ++t) {
    if (mask[b][t].item<int64_t>() == 0 || mask[partner][t].item<int64_t>() == 0) continue;
    const double gu = at::dot(g[b][t], c.u).item<double>();
    const double vdx = at::dot(c.v, x[partner][t] - x[b][t]).item<double>();
    const double term = c.s * gu * vdx;
    acc = reduce == PositionReduce::Sum ? acc + term : std::max(acc, term);
  }
  return acc;
}

TEST(Scorer, PairDeltasMatchTheDefinitionComponentByComponent) {
  const int64_t B = 3, T = 5;
  auto mask = left_mask(T, {0, 2, 4});
  for (auto m : {make_ref(MatrixKind::K, HeadAxis::Rows, 12, 10, 3),
                 make_ref(MatrixKind::O, HeadAxis::Columns, 10, 12, 3),
                 make_ref(MatrixKind::MlpIn, HeadAxis::None, 12, 10, 1)}) {
    for (auto gran : {Granularity::Head, Granularity::Matrix}) {
      for (auto reduce : {PositionReduce::Sum, PositionReduce::Max}) {
        auto d = decompose64(m, gran, 21);
        ScoreOptions opts;
        opts.reduce = reduce;
        opts.positions = T;
        Scorer scorer({d}, opts);
        auto x = randn64({B, T, m.in_features}, 22);
        auto g = randn64({B, T, m.out_features}, 23);
        for (int64_t shift = 1; shift <= 2; ++shift) {
          auto got = scorer.pair_deltas(0, x, g, mask, shift);  // [B, nb, r]
          auto want = at::empty_like(got);
          for (int64_t b = 0; b < B; ++b)
            for (int64_t blk = 0; blk < d.n_blocks(); ++blk)
              for (int64_t i = 0; i < d.rank(); ++i)
                want[b][blk][i] = direct_delta(component_vectors(d, blk, i), x, g, mask, b,
                                               (b - shift + B) % B, reduce);
          EXPECT_CLOSE(got, want, 1e-12);
        }
      }
    }
  }
}

// A small float64 function standing in for the network after matrix A:
// y = A x + b at each position, L = Σ_b CE(W tanh(Σ_t c_t y_bt), target_b).
struct Toy {
  at::Tensor a, bias, w, c, targets;
  at::Tensor loss(const at::Tensor& y) const {  // y [B, T, out]
    auto h = at::tanh((y * c.view({1, -1, 1})).sum(1));  // [B, out]
    auto logits = at::matmul(h, w.t());                   // [B, V]
    return -logits.log_softmax(-1).gather(1, targets.unsqueeze(1)).sum();
  }
  at::Tensor output(const at::Tensor& x) const { return at::matmul(x, a.t()) + bias; }
};

TEST(Scorer, EstimateMatchesFiniteDifferencesToFirstOrderOnASyntheticFunction) {
  const int64_t T = 4, in = 8, out = 6, heads = 2;
  auto m = make_ref(MatrixKind::K, HeadAxis::Rows, out, in, heads);
  Toy toy{randn64({out, in}, 31), randn64({out}, 32), randn64({5, out}, 33),
          randn64({T}, 34) * 0.5, at::tensor({1, 3}, at::kLong)};
  DecomposeOptions dopts;
  dopts.dtype = at::kDouble;
  auto d = decompose_matrix(m, toy.a, dopts);
  ScoreOptions sopts;
  sopts.positions = T;
  Scorer scorer({d}, sopts);

  auto x = randn64({2, T, in}, 35);  // example 0 and its partner 1
  auto y = toy.output(x).requires_grad_(true);
  auto g = torch::autograd::grad({toy.loss(y)}, {y})[0];  // dL/dy [2, T, out]
  auto per_example_g = g.clone();
  auto deltas = scorer.pair_deltas(0, x, per_example_g, at::Tensor(), 1);  // [2, nb, r]

  // Only example 0's own loss: rerun the function on example 0 alone.
  Toy one = toy;
  one.targets = toy.targets.narrow(0, 0, 1);
  auto x0 = x.narrow(0, 0, 1), x1 = x.narrow(0, 1, 1);
  const double base = one.loss(one.output(x0)).item<double>();
  double worst_ratio = 1e9;
  for (int64_t blk = 0; blk < d.n_blocks(); ++blk) {
    for (int64_t i = 0; i < d.rank(); ++i) {
      auto cv = component_vectors(d, blk, i);
      const double est = deltas[0][blk][i].item<double>();  // ΔL for x' = x1, linear in x'
      double err[2];
      const double eps[2] = {0.02, 0.01};
      for (int k = 0; k < 2; ++k) {
        // Only E_i sees x' = x + ε (x1 − x): y = A x + b + E_i (x' − x).
        auto dx = eps[k] * (x1 - x0);                                     // [1, T, in]
        auto bump = cv.s * at::matmul(dx, cv.v).unsqueeze(-1) * cv.u;    // [1, T, out]
        const double actual = one.loss(one.output(x0) + bump).item<double>() - base;
        err[k] = std::abs(actual - eps[k] * est);
      }
      if (blk == 0 && i == 0)
        std::printf("[ measure  ] head 0 component 0: eps*est %.4e, |error| %.3e (eps %.2f), %.3e (eps %.3f)\n",
                    eps[0] * est, err[0], eps[0], err[1], eps[1]);
      if (err[0] < 1e-12) continue;  // s = 0 or no effect: nothing to compare
      worst_ratio = std::min(worst_ratio, err[0] / err[1]);
      EXPECT_NEAR(err[0] / err[1], 4.0, 0.6) << "block " << blk << " component " << i;
    }
  }
  std::printf("[ measure  ] smallest error ratio for halved eps: %.3f (4 = second order)\n", worst_ratio);
}

// Deterministic synthetic x, g for a batch (as a model would give for those examples).
void fake_taps(const std::vector<int64_t>& rows, int64_t T, const MatrixRef& m, at::Tensor& x,
               at::Tensor& g, at::Tensor& mask) {
  std::vector<at::Tensor> xs, gs;
  std::vector<int64_t> pads;
  for (int64_t r : rows) {
    xs.push_back(randn64({T, m.in_features}, 1000 + static_cast<uint64_t>(r)));
    gs.push_back(randn64({T, m.out_features}, 5000 + static_cast<uint64_t>(r)));
    pads.push_back(r % T);
  }
  x = at::stack(xs);
  g = at::stack(gs);
  mask = left_mask(T, pads);
}

ScoreState score_batches(const Scorer& scorer, const std::vector<Decomposition>& decs,
                         const std::vector<std::vector<int64_t>>& batches, int64_t T) {
  auto state = scorer.make_state(at::kCPU);
  for (const auto& rows : batches) {
    for (size_t i = 0; i < decs.size(); ++i) {
      at::Tensor x, g, mask;
      fake_taps(rows, T, decs[i].matrix, x, g, mask);
      if (i == 0) scorer.accumulate_counts(mask, state);
      scorer.accumulate(i, x, g, mask, state);
    }
  }
  return state;
}

TEST(ScoreState, TwoShardsMergedEqualOnePassOverTheUnion) {
  auto k = make_ref(MatrixKind::K, HeadAxis::Rows, 12, 10, 3, 0);
  auto k1 = make_ref(MatrixKind::K, HeadAxis::Rows, 12, 10, 3, 1);
  std::vector<Decomposition> decs{decompose64(k, Granularity::Head, 41),
                                  decompose64(k1, Granularity::Head, 42)};
  decs[1].offset = decs[0].size();
  ScoreOptions opts;
  opts.positions = 9;
  opts.pairs = 2;
  Scorer scorer(decs, opts);
  const auto batches = make_scoring_batches(37, 5, 7);
  auto whole = score_batches(scorer, decs, batches, 6);
  auto shard0 = score_batches(scorer, decs, batches_for_rank(batches, 0, 2), 6);
  auto shard1 = score_batches(scorer, decs, batches_for_rank(batches, 1, 2), 6);
  shard0.merge(shard1);
  EXPECT_TRUE(at::equal(shard0.max_delta(), whole.max_delta()));
  EXPECT_TRUE(whole.max_delta().isfinite().all().item<bool>());
  EXPECT_CLOSE(shard0.sums(), whole.sums(), 1e-12);
  // The same by hand, as an all-reduce would do it (MAX and SUM on the raw tensors).
  auto a = score_batches(scorer, decs, batches_for_rank(batches, 0, 2), 6);
  auto b = score_batches(scorer, decs, batches_for_rank(batches, 1, 2), 6);
  a.max_delta().copy_(at::maximum(a.max_delta(), b.max_delta()));
  a.sums().add_(b.sums());
  EXPECT_TRUE(at::equal(a.max_delta(), whole.max_delta()));
  EXPECT_CLOSE(a.sums(), whole.sums(), 1e-12);
}

TEST(ScoreState, PositionSumsAreAlignedToTheEndAndSkipPads) {
  auto m = make_ref(MatrixKind::K, HeadAxis::Rows, 4, 3, 2);
  auto d = decompose64(m, Granularity::Head, 51);
  ScoreOptions opts;
  opts.positions = 6;
  Scorer scorer({d}, opts);
  auto state = scorer.make_state(at::kCPU);
  // Batch 1: T = 3, row 1 has one pad. Batch 2: T = 5, no pads.
  auto x1 = randn64({2, 3, 3}, 52), x2 = randn64({2, 5, 3}, 53);
  auto mask1 = left_mask(3, {0, 1}), mask2 = left_mask(5, {0, 0});
  scorer.accumulate_counts(mask1, state);
  scorer.accumulate(0, x1, randn64({2, 3, 4}, 54), mask1, state);
  scorer.accumulate_counts(mask2, state);
  scorer.accumulate(0, x2, randn64({2, 5, 4}, 55), mask2, state);
  auto want = at::zeros({6, 3}, at::kDouble);
  want.narrow(0, 3, 3) += x1[0];
  want.narrow(0, 4, 2) += x1[1].narrow(0, 1, 2);
  want.narrow(0, 1, 5) += x2[0] + x2[1];
  EXPECT_CLOSE(state.x_sum(0), want, 1e-15);
  EXPECT_TRUE(at::equal(state.counts(), at::tensor({0.0, 2.0, 2.0, 3.0, 4.0, 4.0}, at::kDouble)));
  EXPECT_CLOSE(state.x_mean_all(0), want.sum(0) / 15.0, 1e-15);
}

TEST(ScoreState, RunningMaxOverExamplesAndPartners) {
  auto m = make_ref(MatrixKind::K, HeadAxis::Rows, 6, 4, 2);
  auto d = decompose64(m, Granularity::Head, 61);
  ScoreOptions opts;
  opts.positions = 4;
  opts.pairs = 5;  // more than B - 1: every other example once
  Scorer scorer({d}, opts);
  auto state = scorer.make_state(at::kCPU);
  auto x = randn64({3, 4, 4}, 62), g = randn64({3, 4, 6}, 63);
  scorer.accumulate(0, x, g, at::Tensor(), state);
  auto want = at::maximum(scorer.pair_deltas(0, x, g, at::Tensor(), 1).amax(0),
                          scorer.pair_deltas(0, x, g, at::Tensor(), 2).amax(0));
  EXPECT_TRUE(at::equal(state.max_delta(), want.reshape({-1})));
  // A single-example batch has no partner: scores stay unset.
  auto lone = scorer.make_state(at::kCPU);
  scorer.accumulate(0, x.narrow(0, 0, 1), g.narrow(0, 0, 1), at::Tensor(), lone);
  EXPECT_TRUE(at::isinf(lone.max_delta()).all().item<bool>());
}

TEST(ScoringBatches, SeededCoverEveryExampleOnceWithoutLonePartners) {
  const auto a = make_scoring_batches(17, 8, 3);
  ASSERT_EQ(a.size(), 2u);  // 8, 8, 1 -> 8, 9
  EXPECT_EQ(a[1].size(), 9u);
  const auto b = make_scoring_batches(103, 8, 3);
  std::multiset<int64_t> seen;
  for (const auto& batch : b) seen.insert(batch.begin(), batch.end());
  ASSERT_EQ(seen.size(), 103u);
  for (int64_t i = 0; i < 103; ++i) EXPECT_EQ(seen.count(i), 1u);
  EXPECT_EQ(make_scoring_batches(103, 8, 3), b);
  EXPECT_NE(make_scoring_batches(103, 8, 4), b);
  // Ranks split the batch list, whatever the world size.
  for (int world : {1, 2, 3, 5}) {
    size_t total = 0;
    for (int r = 0; r < world; ++r) {
      auto mine = batches_for_rank(b, r, world);
      for (size_t j = 0; j < mine.size(); ++j) EXPECT_EQ(mine[j], b[j * world + r]);
      total += mine.size();
    }
    EXPECT_EQ(total, b.size());
  }
  EXPECT_ANY_THROW(make_scoring_batches(10, 1, 0));
}

TEST(Select, LowestFractionGloballyWithTiesByIndex) {
  EXPECT_EQ(count_to_freeze(76800, 0.01), 768);
  EXPECT_EQ(count_to_freeze(10, 0.3), 3);   // Python: int(10 * 0.3) = int(3.0000000000000004)
  EXPECT_EQ(count_to_freeze(3, 0.7), 2);    // Python: int(3 * 0.7) = int(2.0999999999999996)
  EXPECT_EQ(count_to_freeze(5, 0.0), 0);
  EXPECT_EQ(count_to_freeze(5, 1.0), 5);
  auto scores = at::tensor({1.0, 0.0, 1.0, 0.0, -std::numeric_limits<double>::infinity(), 0.5},
                           at::kDouble);
  EXPECT_EQ(rank_components(scores), (std::vector<int64_t>{4, 1, 3, 5, 0, 2}));
  EXPECT_EQ(select_lowest(scores, 0.5), (std::vector<int64_t>{4, 1, 3}));
  EXPECT_EQ(select_lowest(scores.to(at::kFloat), 0.34), (std::vector<int64_t>{4, 1}));
  EXPECT_ANY_THROW(select_lowest(at::tensor({0.0, std::nan("")}, at::kDouble), 0.5));
  EXPECT_ANY_THROW(count_to_freeze(5, 1.5));
}

TEST(Freeze, FrozenSumOfAllComponentsIsTheMatrix) {
  for (auto m : {make_ref(MatrixKind::K, HeadAxis::Rows, 12, 10, 3),
                 make_ref(MatrixKind::O, HeadAxis::Columns, 10, 12, 3)}) {
    auto a = randn64({m.out_features, m.in_features}, 71);
    DecomposeOptions opts;
    opts.dtype = at::kDouble;
    auto d = decompose_matrix(m, a, opts);
    auto all = at::ones({d.n_blocks(), d.rank()}, at::kBool);
    EXPECT_CLOSE(frozen_sum(d, all), a, 1e-13);
    EXPECT_TRUE(at::equal(frozen_sum(d, at::zeros_like(all)), at::zeros_like(a)));
    // One component: s u vᵀ.
    auto one = at::zeros_like(all);
    one[1][2] = true;
    auto c = component_vectors(d, 1, 2);
    EXPECT_CLOSE(frozen_sum(d, one), c.s * at::outer(c.u, c.v), 1e-13);
  }
}

TEST(Freeze, BiasIsTheFrozenPartAppliedToTheMeanInputPerPosition) {
  auto m = make_ref(MatrixKind::K, HeadAxis::Rows, 6, 4, 2);
  auto a = randn64({6, 4}, 81);
  DecomposeOptions dopts;
  dopts.dtype = at::kDouble;
  auto d = decompose_matrix(m, a, dopts);
  ScoreOptions sopts;
  sopts.positions = 5;
  Scorer scorer({d}, sopts);
  auto state = scorer.make_state(at::kCPU);
  auto x = randn64({3, 3, 4}, 82);
  auto mask = left_mask(3, {0, 1, 2});
  scorer.accumulate_counts(mask, state);
  scorer.accumulate(0, x, randn64({3, 3, 6}, 83), mask, state);
  auto frozen = at::zeros({2, 3}, at::kBool);
  frozen[0][0] = true;
  frozen[1][2] = true;
  auto delta = frozen_sum(d, frozen);
  // x̄ per position (aligned to the end; rows 0-1 of P = 5 never seen).
  auto xbar = at::stack({x[0][0], (x[0][1] + x[1][1]) / 2, (x[0][2] + x[1][2] + x[2][2]) / 3});
  auto xall = (x[0].sum(0) + x[1][1] + x[1][2] + x[2][2]) / 6;
  auto f = freeze_matrix(d, a.to(at::kFloat), frozen, state, 0, {});
  EXPECT_EQ(f.n_frozen, 2);
  EXPECT_CLOSE(f.weight, a.to(at::kFloat).to(at::kDouble) - delta, 1e-15);
  auto mean_bias = at::matmul(delta, xall);
  EXPECT_CLOSE(f.table.narrow(0, 2, 3), at::matmul(xbar, delta.t()), 1e-6);
  EXPECT_CLOSE(f.table.narrow(0, 0, 2), mean_bias.expand({2, 6}), 1e-6);
  EXPECT_CLOSE(f.fallback, mean_bias, 1e-6);
  FreezeOptions mean;
  mean.bias = BiasMode::Mean;
  EXPECT_CLOSE(freeze_matrix(d, a, frozen, state, 0, mean).table, mean_bias.unsqueeze(0), 1e-6);
  FreezeOptions paper;
  paper.bias = BiasMode::PaperSum;
  EXPECT_CLOSE(freeze_matrix(d, a, frozen, state, 0, paper).fallback,
               at::matmul(delta, xbar.sum(0)), 1e-6);
}

}  // namespace
}  // namespace ep
