#include "runner/score_arrays.h"

#include <torch/torch.h>

#include "core/prune/select.h"

namespace ep::runner {
namespace {

// The rows of `flat` [N] that belong to kind's matrices, as [L, B, R].
template <class T>
Array<T> per_kind(const std::vector<Decomposition>& decs, MatrixKind kind, const torch::Tensor& flat) {
  Array<T> a;
  std::vector<torch::Tensor> rows;
  int64_t nb = 0, r = 0;
  for (const auto& d : decs) {
    if (d.matrix.kind != kind) continue;
    nb = d.n_blocks();
    r = d.rank();
    rows.push_back(flat.slice(0, d.offset, d.offset + d.size()));
  }
  const torch::Tensor t = torch::stack(rows).reshape({static_cast<int64_t>(rows.size()), nb, r}).contiguous();
  a.shape = {t.size(0), nb, r};
  a.data.assign(t.data_ptr<T>(), t.data_ptr<T>() + t.numel());
  return a;
}

}  // namespace

MatrixScores matrix_scores(const std::vector<Decomposition>& decs, MatrixKind kind, const ScoreState& state) {
  MatrixScores m;
  m.delta_loss = per_kind<float>(decs, kind, state.max_delta().to(torch::kCPU, torch::kFloat32));
  std::vector<torch::Tensor> means;
  torch::Tensor s_flat = torch::zeros({total_components(decs)}, torch::kFloat32);  // [N] by global index
  for (size_t i = 0; i < decs.size(); ++i) {
    const Decomposition& d = decs[i];
    s_flat.slice(0, d.offset, d.offset + d.size()).copy_(d.s.reshape({-1}).to(torch::kCPU, torch::kFloat32));
    if (d.matrix.kind == kind) means.push_back(state.x_mean(i).to(torch::kCPU, torch::kFloat32));
  }
  m.singular_values = per_kind<float>(decs, kind, s_flat);
  const torch::Tensor mean = torch::stack(means).contiguous();  // [L, P, I]
  m.activation_mean.shape = {mean.size(0), mean.size(1), mean.size(2)};
  m.activation_mean.data.assign(mean.data_ptr<float>(), mean.data_ptr<float>() + mean.numel());
  const torch::Tensor counts = state.counts().to(torch::kCPU, torch::kInt64).contiguous();
  m.position_count.shape = {counts.size(0)};
  m.position_count.data.assign(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + counts.numel());
  return m;
}

Array<uint8_t> frozen_mask_array(const std::vector<Decomposition>& decs, MatrixKind kind,
                                 const std::vector<int64_t>& frozen) {
  const torch::Tensor mask = frozen_mask(total_components(decs), frozen).to(torch::kUInt8);
  return per_kind<uint8_t>(decs, kind, mask);
}

}  // namespace ep::runner
