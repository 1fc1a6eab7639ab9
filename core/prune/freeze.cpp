#include "core/prune/freeze.h"

#include <ATen/ATen.h>

#include "core/prune/official_recipe.h"
#include "core/prune/select.h"
#include "core/prune/shape_text.h"
#include "core/util/error.h"

namespace ep {

torch::Tensor frozen_sum(const Decomposition& d, const torch::Tensor& frozen) {
  EP_CHECK(frozen.sizes() == d.s.sizes(), "frozen mask has shape {}, expected {}", shape_text(frozen),
           shape_text(d.s));
  auto s = d.s.to(at::kDouble) * frozen.to(d.s.device(), at::kDouble);  // [nb, r]
  auto u = d.u.to(at::kDouble);                                         // [nb, bo, r]
  auto v = d.v.to(at::kDouble);                                         // [nb, bi, r]
  auto blocks = at::matmul(u * s.unsqueeze(-2), v.transpose(-2, -1));   // [nb, bo, bi]
  return join_blocks(blocks, d.layout).contiguous();                    // [out, in]
}

MatrixFreeze freeze_matrix(const Decomposition& d, const torch::Tensor& weight,
                           const torch::Tensor& frozen, const ScoreState& state, size_t index,
                           const FreezeOptions& opts) {
  MatrixFreeze f;
  f.matrix = d.matrix;
  f.n_frozen = frozen.sum().item<int64_t>();
  auto delta = frozen_sum(d, frozen);                                   // D [out, in] f64
  f.weight = weight.to(at::kDouble) - delta.to(weight.device());
  const auto dev = delta.device();
  if (opts.bias == BiasMode::None) return f;  // no table: the components' effect is dropped (LASER)
  auto mean_all = at::matmul(delta, state.x_mean_all(index).to(dev));   // D x̄ [out]
  switch (opts.bias) {
    case BiasMode::None:
      break;
    case BiasMode::PerPosition: {
      auto table = at::matmul(state.x_mean(index).to(dev), delta.t());  // [P, out]
      auto seen = (state.counts().to(dev) > 0).unsqueeze(1);            // [P, 1]
      f.table = at::where(seen, table, mean_all.unsqueeze(0).expand_as(table));
      f.fallback = mean_all;
      break;
    }
    case BiasMode::Mean:
      f.table = mean_all.unsqueeze(0);
      f.fallback = mean_all;
      break;
    case BiasMode::PaperSum: {
      // ref: the paper's code sums E_i x̄[t] over positions into one bias.
      auto seen = (state.counts().to(dev) > 0).to(at::kDouble).unsqueeze(1);  // [P, 1]
      auto total = at::matmul((state.x_mean(index).to(dev) * seen).sum(0), delta.t());  // [out]
      f.table = total.unsqueeze(0);
      f.fallback = total;
      break;
    }
  }
  f.table = f.table.to(at::kFloat).contiguous();
  f.fallback = f.fallback.to(at::kFloat).contiguous();
  return f;
}

MatrixFreeze freeze_model_matrix(const CausalLM& model, const Decomposition& d, const torch::Tensor& weight,
                                 const torch::Tensor& frozen, const ScoreState& state, size_t index,
                                 const FreezeOptions& opts) {
  return opts.recipe == Recipe::Official
             ? official_freeze_matrix(d, weight, model.input_norm(d.matrix), frozen, state, index)
             : freeze_matrix(d, weight, frozen, state, index, opts);
}

ScopedFreeze::ScopedFreeze(CausalLM& model, const std::vector<Decomposition>& decs,
                           const ScoreState& state, const std::vector<int64_t>& frozen,
                           const FreezeOptions& opts)
    : model_(&model) {
  auto all = frozen_mask(total_components(decs), frozen);  // [N] bool, CPU
  try {
    for (size_t i = 0; i < decs.size(); ++i) {
      const auto& d = decs[i];
      auto mine = all.narrow(0, d.offset, d.size()).view({d.n_blocks(), d.rank()});
      if (!mine.any().item<bool>()) continue;
      auto original = model.weight(d.matrix);
      auto f = freeze_model_matrix(model, d, original, mine, state, i, opts);
      originals_.emplace_back(d.matrix, original);
      model.set_weight(d.matrix, f.weight);
      if (f.table.defined())
        model.set_position_bias(d.matrix, f.table.to(model.device()), f.fallback.to(model.device()));
    }
  } catch (...) {
    remove();
    throw;
  }
}

ScopedFreeze::ScopedFreeze(ScopedFreeze&& other) noexcept
    : model_(other.model_), originals_(std::move(other.originals_)) {
  other.model_ = nullptr;
  other.originals_.clear();
}

ScopedFreeze::~ScopedFreeze() {
  try {
    remove();
  } catch (...) {
    // A destructor must not throw; remove() only fails if the model is broken.
  }
}

void ScopedFreeze::remove() {
  if (model_ == nullptr) return;
  for (auto it = originals_.rbegin(); it != originals_.rend(); ++it) {
    model_->set_weight(it->first, it->second);
    model_->set_position_bias(it->first, torch::Tensor(), torch::Tensor());
  }
  originals_.clear();
  model_ = nullptr;
}

}  // namespace ep
