#include "core/prune/decompose.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <string>
#include <tuple>

#include "core/prune/shape_text.h"
#include "core/prune/official_recipe.h"
#include "core/util/error.h"

namespace ep {

BlockLayout block_layout(const MatrixRef& m, Granularity g) {
  BlockLayout l;
  l.rows = m.out_features;
  l.cols = m.in_features;
  if (g == Granularity::Matrix || m.head_axis == HeadAxis::None || m.n_heads <= 1) return l;
  l.n_blocks = m.n_heads;
  if (m.head_axis == HeadAxis::Rows) {
    EP_CHECK(m.n_heads * m.head_dim == m.out_features,
             "matrix {}: {} heads x {} rows != {} output features", m.name(), m.n_heads,
             m.head_dim, m.out_features);
    l.rows = m.head_dim;
    l.split_rows = true;
  } else {
    EP_CHECK(m.n_heads * m.head_dim == m.in_features,
             "matrix {}: {} heads x {} columns != {} input features", m.name(), m.n_heads,
             m.head_dim, m.in_features);
    l.cols = m.head_dim;
    l.split_cols = true;
  }
  return l;
}

torch::Tensor split_blocks(const torch::Tensor& a, const BlockLayout& l) {
  const int64_t out = a.size(0), in = a.size(1);
  if (l.split_rows) return a.reshape({l.n_blocks, l.rows, in});             // [nb, bo, in]
  if (l.split_cols) return a.reshape({out, l.n_blocks, l.cols}).permute({1, 0, 2});  // [nb, out, bi]
  return a.unsqueeze(0);                                                     // [1, out, in]
}

torch::Tensor join_blocks(const torch::Tensor& blocks, const BlockLayout& l) {
  const int64_t nb = blocks.size(0), bo = blocks.size(1), bi = blocks.size(2);
  if (l.split_rows) return blocks.reshape({nb * bo, bi});
  if (l.split_cols) return blocks.permute({1, 0, 2}).reshape({bo, nb * bi});
  return blocks.select(0, 0);
}

namespace {

// s_max · kZeroSingularValue per block, [nb, 1]; s is descending.
torch::Tensor zero_threshold(const torch::Tensor& s) {
  return s.narrow(-1, 0, 1) * kZeroSingularValue;
}

// Orthonormal columns for the u's of zero singular values. `u` [m, r] has its
// first `good` columns orthonormal; the rest are replaced by an orthonormal
// completion (the column space of a complete QR beyond the good columns).
void complete_columns(torch::Tensor u, int64_t good) {
  const int64_t m = u.size(0), r = u.size(1);
  if (good == r) return;
  torch::Tensor fill;
  if (good == 0) {
    fill = at::eye(m, u.options()).narrow(1, 0, r);
  } else {
    auto qr = at::linalg_qr(u.narrow(1, 0, good), "complete");
    fill = std::get<0>(qr).narrow(1, good, r - good);  // [m, r - good]
  }
  u.narrow(1, good, r - good).copy_(fill);
}

// Thin SVD of tall blocks (m >= n) through eigh(AᵀA): V are eigenvectors
// (orthonormal to rounding), s_i = ||A v_i||, u_i = A v_i / s_i. Taking s from
// ||A v_i|| rather than sqrt(λ_i) makes s_i u_i = A v_i exactly, so Σ E_i = A VVᵀ
// = A whatever the accuracy of small λ. ref: Golub & Van Loan, Matrix
// Computations, 4th ed., §8.6.3 (SVD via the symmetric eigenproblem).
BlockSvd gram_svd_tall(const torch::Tensor& a) {  // a [nb, m, n], m >= n
  auto gram = at::matmul(a.transpose(-2, -1), a);                  // [nb, n, n]
  auto eig = at::linalg_eigh(gram, "L");
  auto v = std::get<1>(eig).flip({-1});                             // [nb, n, n], λ descending
  auto av = at::matmul(a, v);                                       // [nb, m, n]
  auto s = av.norm(2, {-2});                                        // [nb, n]
  // Rounding can swap neighbours of nearly equal s; restore descending order (a
  // check first: the gathers copy [nb, m, n] and are rarely needed).
  const int64_t n = a.size(2);
  if (n > 1 && !(s.narrow(-1, 0, n - 1) >= s.narrow(-1, 1, n - 1)).all().item<bool>()) {
    auto order = std::get<1>(s.sort(/*stable=*/true, /*dim=*/-1, /*descending=*/true));
    s = s.gather(-1, order);
    v = v.gather(-1, order.unsqueeze(-2).expand_as(v));
    av = av.gather(-1, order.unsqueeze(-2).expand_as(av));
  }
  auto zero = s <= zero_threshold(s);                               // [nb, n]
  s = s.masked_fill(zero, 0.0);
  auto u = av / s.masked_fill(zero, 1.0).unsqueeze(-2);             // [nb, m, n]
  auto n_good = (~zero).sum(-1).cpu();                              // [nb]
  for (int64_t b = 0; b < a.size(0); ++b) {
    const int64_t good = n_good[b].item<int64_t>();
    if (good < n) complete_columns(u.select(0, b), good);
  }
  return {u, s, v};
}

BlockSvd gram_svd(const torch::Tensor& a) {
  if (a.size(1) >= a.size(2)) return gram_svd_tall(a);
  // Wide block: Aᵀ = U' S V'ᵀ  =>  A = V' S U'ᵀ.
  auto t = gram_svd_tall(a.transpose(-2, -1));
  return {t.v, t.s, t.u};
}

BlockSvd lapack_svd(const torch::Tensor& a) {
  auto usv = at::linalg_svd(a, /*full_matrices=*/false);
  auto s = std::get<1>(usv);                                        // [nb, r]
  s = s.masked_fill(s <= zero_threshold(s), 0.0);
  return {std::get<0>(usv), s, std::get<2>(usv).transpose(-2, -1)};
}

// The Gram route's eigenvector factor W (V for tall blocks, U for wide ones) is
// square, and the other factor is A W / s, so U S Vᵀ = A W Wᵀ and
// ||A − U S Vᵀ|| = ||A (I − W Wᵀ)|| <= ||A|| · ||I − W Wᵀ||: checking that W is
// orthonormal bounds the reconstruction error for r³ flops instead of m·n·r.
// ref: eigh gives W orthonormal to ~1e-15 in float64; anything above this bound
// is a numerical failure (NaN, a broken LAPACK), and those blocks are redone.
constexpr double kAutoMaxOrthoError = 1e-10;

torch::Tensor orthonormality_error(const torch::Tensor& w) {  // w [nb, r, r] -> [nb]
  auto eye = at::eye(w.size(-1), w.options());
  return (at::matmul(w.transpose(-2, -1), w) - eye).abs().amax({-2, -1});
}

BlockSvd auto_svd(const torch::Tensor& a) {
  auto svd = gram_svd(a);
  const auto& w = a.size(1) >= a.size(2) ? svd.v : svd.u;  // the square eigenvector factor
  // [nb]; written as "not (err <= bound)" so that NaN counts as bad.
  auto good = (orthonormality_error(w) <= kAutoMaxOrthoError).logical_and(svd.s.isfinite().all(-1));
  auto bad = good.logical_not().cpu();
  if (!bad.any().item<bool>()) return svd;
  for (int64_t b = 0; b < a.size(0); ++b) {
    if (!bad[b].item<bool>()) continue;
    auto redo = lapack_svd(a.narrow(0, b, 1));
    svd.u.narrow(0, b, 1).copy_(redo.u);
    svd.s.narrow(0, b, 1).copy_(redo.s);
    svd.v.narrow(0, b, 1).copy_(redo.v);
  }
  return svd;
}

}  // namespace

BlockSvd block_svd(const torch::Tensor& blocks, SvdRoute route) {
  EP_CHECK(blocks.dim() == 3 && blocks.scalar_type() == torch::kFloat64,
           "block_svd expects [nb, m, n] float64, got {} {}", shape_text(blocks), dtype_text(blocks));
  auto a = blocks.contiguous();
  switch (route) {
    case SvdRoute::Lapack: return lapack_svd(a);
    case SvdRoute::Gram: return gram_svd(a);
    case SvdRoute::Auto: return auto_svd(a);
  }
  EP_FAIL("bad SVD route");
}

torch::Tensor reconstruction_error(const torch::Tensor& blocks, const BlockSvd& svd) {
  auto usv = at::matmul(svd.u * svd.s.unsqueeze(-2), svd.v.transpose(-2, -1));  // [nb, m, n]
  auto diff = (blocks - usv).norm(2, {-2, -1});
  auto norm = blocks.norm(2, {-2, -1});
  return diff / norm.masked_fill(norm == 0, 1.0);
}

Decomposition decompose_matrix(const MatrixRef& m, const torch::Tensor& weight,
                               const DecomposeOptions& opts) {
  EP_CHECK(weight.dim() == 2 && weight.size(0) == m.out_features && weight.size(1) == m.in_features,
           "matrix {}: weight has shape {}, expected [{}, {}]", m.name(), shape_text(weight),
           m.out_features, m.in_features);
  Decomposition d;
  d.matrix = m;
  d.layout = block_layout(m, opts.granularity);
  auto blocks = split_blocks(weight.to(torch::kFloat64), d.layout);  // [nb, bo, bi]
  auto svd = block_svd(blocks, opts.route);
  d.u = svd.u.to(opts.dtype).contiguous();
  d.s = svd.s.to(opts.dtype).contiguous();
  d.v = svd.v.to(opts.dtype).contiguous();
  return d;
}

std::vector<Decomposition> decompose(const CausalLM& model, const std::vector<MatrixKind>& kinds,
                                     const DecomposeOptions& opts) {
  std::vector<Decomposition> out;
  int64_t offset = 0;
  for (MatrixKind kind : kinds) {
    for (const MatrixRef& m : model.matrices(kind)) {
      if (!opts.layers.empty() && std::find(opts.layers.begin(), opts.layers.end(), m.layer) == opts.layers.end())
        continue;
      const torch::Tensor a = model.weight(m);
      out.push_back(decompose_matrix(m, opts.fold_input_norm ? fold_input_norm(m, a, model.input_norm(m)) : a, opts));
      out.back().offset = offset;
      offset += out.back().size();
    }
  }
  return out;
}

int64_t total_components(const std::vector<Decomposition>& decs) {
  return decs.empty() ? 0 : decs.back().offset + decs.back().size();
}

ComponentId locate_component(const std::vector<Decomposition>& decs, int64_t global) {
  for (size_t i = 0; i < decs.size(); ++i) {
    const auto& d = decs[i];
    if (global >= d.offset && global < d.offset + d.size()) {
      const int64_t local = global - d.offset;
      return {i, d.matrix.layer, d.matrix.kind, local / d.rank(), local % d.rank()};
    }
  }
  EP_FAIL("component {} is out of range (there are {})", global, total_components(decs));
}

ComponentVectors component_vectors(const Decomposition& d, int64_t block, int64_t index) {
  const auto& l = d.layout;
  auto u = d.u.select(0, block).select(1, index).to(torch::kFloat64);  // [bo]
  auto v = d.v.select(0, block).select(1, index).to(torch::kFloat64);  // [bi]
  ComponentVectors c;
  c.s = d.s[block][index].item<double>();
  c.u = u;
  c.v = v;
  if (l.split_rows) {
    c.u = at::zeros({d.matrix.out_features}, u.options());
    c.u.narrow(0, block * l.rows, l.rows).copy_(u);
  }
  if (l.split_cols) {
    c.v = at::zeros({d.matrix.in_features}, v.options());
    c.v.narrow(0, block * l.cols, l.cols).copy_(v);
  }
  return c;
}

}  // namespace ep
