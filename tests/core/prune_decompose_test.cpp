// Decomposition: every SVD route against LAPACK (at::linalg_svd) and against
// matrices built with known singular values; block layouts and global indices.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <tuple>

#include "core/prune/decompose.h"
#include "tests/core/prune_test_util.h"

namespace ep {
namespace {

using prune_test::randn64;

// A [nb, m, n] with exact rank `rank` (product of two random factors).
at::Tensor low_rank(int64_t nb, int64_t m, int64_t n, int64_t rank, uint64_t seed) {
  return at::matmul(randn64({nb, m, rank}, seed), randn64({nb, rank, n}, seed + 1));
}

// Q1 diag(s) Q2ᵀ with orthonormal Q1 [m, r], Q2 [n, r]: singular values known exactly.
at::Tensor with_singular_values(int64_t m, int64_t n, const at::Tensor& s, uint64_t seed) {
  const int64_t r = s.size(0);
  auto q1 = std::get<0>(at::linalg_qr(randn64({m, r}, seed)));
  auto q2 = std::get<0>(at::linalg_qr(randn64({n, r}, seed + 7)));
  return at::matmul(q1 * s.unsqueeze(0), q2.t()).unsqueeze(0);  // [1, m, n]
}

struct RouteCheck {
  double recon = 0;     // max over blocks of ||A - USVᵀ|| / ||A||
  double s_err = 0;     // max |s - s_lapack| / s_max (per block)
  double v_orth = 0;    // max |VᵀV - I|
  bool finite = true;
};

RouteCheck check_route(const at::Tensor& a, SvdRoute route) {
  auto svd = block_svd(a, route);
  RouteCheck c;
  c.finite = svd.u.isfinite().all().item<bool>() && svd.s.isfinite().all().item<bool>() &&
             svd.v.isfinite().all().item<bool>();
  c.recon = reconstruction_error(a, svd).max().item<double>();
  auto s_ref = at::linalg_svdvals(a);  // the outside reference: LAPACK gesdd
  auto scale = s_ref.narrow(-1, 0, 1).clamp_min(1e-300);
  c.s_err = ((svd.s - s_ref).abs() / scale).max().item<double>();
  auto eye = at::eye(svd.v.size(-1), at::kDouble);
  c.v_orth = (at::matmul(svd.v.transpose(-2, -1), svd.v) - eye).abs().max().item<double>();
  return c;
}

const SvdRoute kRoutes[] = {SvdRoute::Lapack, SvdRoute::Gram, SvdRoute::Auto};

void expect_route_ok(const at::Tensor& a, const char* what) {
  for (SvdRoute route : kRoutes) {
    auto c = check_route(a, route);
    std::printf("[ measure  ] %s %-6s: recon %.2e, |s - lapack|/s_max %.2e, |VtV - I| %.2e\n", what,
                std::string(name_of(route)).c_str(), c.recon, c.s_err, c.v_orth);
    EXPECT_TRUE(c.finite) << what << " " << name_of(route);
    EXPECT_LE(c.recon, 1e-6) << what << " " << name_of(route);
    EXPECT_LE(c.s_err, 1e-6) << what << " " << name_of(route);
    EXPECT_LE(c.v_orth, 1e-6) << what << " " << name_of(route);
  }
}

TEST(BlockSvd, RoutesMatchLapackOnRandomBlocks) {
  expect_route_ok(randn64({3, 16, 48}, 1), "random wide [3,16,48]");
  expect_route_ok(randn64({2, 48, 16}, 2), "random tall [2,48,16]");
  expect_route_ok(randn64({1, 32, 32}, 3), "random square [1,32,32]");
}

TEST(BlockSvd, RoutesMatchLapackOnLowRankBlocks) {
  expect_route_ok(low_rank(2, 16, 48, 3, 4), "rank-3 wide");
  expect_route_ok(low_rank(2, 48, 16, 5, 5), "rank-5 tall");
  expect_route_ok(low_rank(1, 32, 32, 1, 6), "rank-1 square");
}

TEST(BlockSvd, RoutesMatchLapackOnZeroBlocks) {
  auto a = randn64({3, 16, 40}, 7);
  a.select(0, 1).zero_();  // a zero head among random ones
  expect_route_ok(a, "zero head");
  expect_route_ok(at::zeros({2, 8, 24}, at::kDouble), "all zero");
}

TEST(BlockSvd, ZeroSingularValuesAreExactlyZeroWithOrthonormalU) {
  auto a = low_rank(2, 40, 12, 4, 8);  // tall, rank 4 of 12
  auto z = at::zeros({1, 10, 30}, at::kDouble);
  for (SvdRoute route : kRoutes) {
    auto svd = block_svd(a, route);
    EXPECT_TRUE(svd.s.narrow(-1, 4, 8).eq(0).all().item<bool>()) << name_of(route) << " " << svd.s;
    EXPECT_TRUE(svd.s.narrow(-1, 0, 4).gt(0).all().item<bool>()) << name_of(route);
    auto eye = at::eye(12, at::kDouble);
    EXPECT_LE((at::matmul(svd.u.transpose(-2, -1), svd.u) - eye).abs().max().item<double>(), 1e-8)
        << name_of(route);
    auto zs = block_svd(z, route);
    EXPECT_TRUE(zs.s.eq(0).all().item<bool>()) << name_of(route);
    EXPECT_TRUE(zs.u.isfinite().all().item<bool>()) << name_of(route);
  }
}

TEST(BlockSvd, RecoversKnownSingularValuesSpanningTenDecades) {
  // Elementwise relative accuracy for values down to 1e-5 of the largest.
  auto s = at::logspace(0, -5, 20, 10.0, at::kDouble);
  auto a = with_singular_values(24, 60, s, 9);
  for (SvdRoute route : kRoutes) {
    auto got = block_svd(a, route).s.select(0, 0).narrow(0, 0, 20);  // then 4 zeros
    EXPECT_CLOSE(got / s, at::ones_like(s), 1e-6) << name_of(route);
  }
  // Down to 1e-10: absolute accuracy relative to s_max (what float64 SVD can promise).
  auto s2 = at::logspace(0, -10, 20, 10.0, at::kDouble);
  auto a2 = with_singular_values(60, 24, s2, 10);
  for (SvdRoute route : kRoutes) {
    auto got = block_svd(a2, route).s.select(0, 0).narrow(0, 0, 20);
    EXPECT_LE((got - s2).abs().max().item<double>(), 1e-6) << name_of(route);
  }
}

MatrixRef make_ref(MatrixKind kind, HeadAxis axis, int64_t out, int64_t in, int64_t heads) {
  MatrixRef m{};
  m.kind = kind;
  m.layer = 2;
  m.out_features = out;
  m.in_features = in;
  m.n_heads = axis == HeadAxis::None ? 1 : heads;
  m.head_dim = axis == HeadAxis::Rows ? out / heads : axis == HeadAxis::Columns ? in / heads : out;
  m.head_axis = axis;
  return m;
}

TEST(BlockLayout, HeadBlocksAreRowsForKeysAndColumnsForOutput) {
  auto a = randn64({12, 20}, 11);
  auto k = make_ref(MatrixKind::K, HeadAxis::Rows, 12, 20, 3);
  auto o = make_ref(MatrixKind::O, HeadAxis::Columns, 12, 20, 4);
  auto lk = block_layout(k, Granularity::Head);
  auto lo = block_layout(o, Granularity::Head);
  auto lm = block_layout(k, Granularity::Matrix);
  EXPECT_EQ(lk.n_blocks, 3);
  EXPECT_EQ(lk.rank(), 4);
  EXPECT_EQ(lo.n_blocks, 4);
  EXPECT_EQ(lo.rank(), 5);
  EXPECT_EQ(lm.n_blocks, 1);
  EXPECT_EQ(lm.rank(), 12);
  // Head 1 of k is rows 4..7; head 2 of o is columns 10..14.
  EXPECT_TRUE(at::equal(split_blocks(a, lk).select(0, 1), a.narrow(0, 4, 4)));
  EXPECT_TRUE(at::equal(split_blocks(a, lo).select(0, 2), a.narrow(1, 10, 5)));
  for (const auto& l : {lk, lo, lm}) EXPECT_TRUE(at::equal(join_blocks(split_blocks(a, l), l), a));
}

TEST(Decompose, ComponentsSumToTheMatrixWithGlobalIndices) {
  auto a = randn64({12, 20}, 12).to(at::kFloat);
  for (auto m : {make_ref(MatrixKind::K, HeadAxis::Rows, 12, 20, 3),
                 make_ref(MatrixKind::O, HeadAxis::Columns, 12, 20, 4),
                 make_ref(MatrixKind::MlpIn, HeadAxis::None, 12, 20, 1)}) {
    for (auto g : {Granularity::Head, Granularity::Matrix}) {
      DecomposeOptions opts;
      opts.granularity = g;
      opts.dtype = at::kDouble;
      std::vector<Decomposition> decs{decompose_matrix(m, a, opts), decompose_matrix(m, a, opts)};
      decs[1].offset = decs[0].size();
      auto sum = at::zeros({12, 20}, at::kDouble);
      for (int64_t i = 0; i < decs[1].size(); ++i) {
        auto id = locate_component(decs, decs[1].offset + i);
        ASSERT_EQ(id.matrix, 1u);
        ASSERT_EQ(id.block * decs[1].rank() + id.index, i);
        auto c = component_vectors(decs[1], id.block, id.index);
        sum += c.s * at::outer(c.u, c.v);
      }
      EXPECT_CLOSE(sum, a.to(at::kDouble), 1e-6);
      EXPECT_EQ(total_components(decs), 2 * decs[0].size());
      EXPECT_ANY_THROW(locate_component(decs, total_components(decs)));
    }
  }
}

}  // namespace
}  // namespace ep
