#include "core/prune/official_recipe.h"

#include <ATen/ATen.h>

#include "core/util/error.h"

namespace ep {

namespace {
torch::Tensor norm_weight(const MatrixRef& m, const InputNorm& norm, torch::Device device) {
  EP_CHECK(norm.defined(),
           "matrix {} has no norm in front of it; recipe = \"official\" folds the norm into the matrix as "
           "TransformerLens does, so it supports q, k, v and mlp_in only",
           m.name());
  auto w = norm.weight.to(device, at::kDouble);  // [in]
  EP_CHECK(w.dim() == 1 && w.size(0) == m.in_features, "matrix {}: its norm has {} features, expected {}", m.name(),
           w.numel(), m.in_features);
  // The official freeze maps folded space back through diag(1/w).
  const auto zero = (w == 0).nonzero();
  EP_CHECK(zero.size(0) == 0, "matrix {}: the norm in front of it has weight 0 at feature {}; recipe = \"official\" "
           "cannot unfold a freeze through it", m.name(), zero.size(0) ? zero[0][0].item<int64_t>() : -1);
  return w;
}
}  // namespace

torch::Tensor fold_input_norm(const MatrixRef& m, const torch::Tensor& weight, const InputNorm& norm) {
  auto w = norm_weight(m, norm, weight.device());
  // ref: TransformerLens fold_layer_norm (W' = diag(w) W) and center_writing_weights /
  // LNPre's centring (W' − mean over d_model): in [out, in], scale columns, centre rows.
  auto af = weight.to(at::kDouble) * w.unsqueeze(0);  // [out, in]
  if (!norm.rms) af = af - af.mean(1, /*keepdim=*/true);
  return af.contiguous();
}

MatrixFreeze official_freeze_matrix(const Decomposition& d, const torch::Tensor& weight, const InputNorm& norm,
                                    const torch::Tensor& frozen, const ScoreState& state, size_t index) {
  MatrixFreeze f;
  f.matrix = d.matrix;
  f.n_frozen = frozen.sum().item<int64_t>();
  auto df = frozen_sum(d, frozen);  // D_f [out, in] float64, folded space
  const auto dev = df.device();
  auto w = norm_weight(d.matrix, norm, dev);
  auto dw = df / w.unsqueeze(0);  // D_f·diag(1/w)
  f.weight = weight.to(at::kDouble) - dw.to(weight.device());
  // ref: the paper's code: b += Σ_t E x̄[t], x̄ the last minibatch's mean at each padded position.
  auto seen = (state.counts().to(dev) > 0).to(at::kDouble).unsqueeze(1);       // [P, 1]
  auto bias = at::matmul(df, (state.x_mean(index).to(dev) * seen).sum(0));     // [out]
  if (norm.bias.defined()) bias = bias + at::matmul(dw, norm.bias.to(dev, at::kDouble));  // LN's shift β
  f.table = bias.unsqueeze(0).to(at::kFloat).contiguous();
  f.fallback = bias.to(at::kFloat).contiguous();
  return f;
}

}  // namespace ep
