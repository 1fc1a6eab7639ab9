// Eigenpruning step 4: freeze the chosen components.
//
// Freezing E_i replaces its input-dependent effect E_i x by its effect on the mean
// input: A' = A − Σ E_i and b'[t] = b + Σ E_i x̄[t] (paper §3), where x̄[t] is the
// mean training input at position t, counted from the END of the prompt (left
// padding puts the answer position last). The bias goes through
// CausalLM::set_position_bias; positions earlier than any seen in training get
// the mean over all positions.
//
// A ScopedFreeze is a delta on a loaded model: it keeps the original weights and
// puts them back on remove() or destruction, so one model serves every p.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "core/model/causal_lm.h"
#include "core/prune/decompose.h"
#include "core/prune/score.h"

namespace ep {

// PerPosition: b'[t] = b + D x̄[t] (the paper's text; default).
// Mean:        b' = b + D x̄ with x̄ the mean over all positions (no token dimension).
// PaperSum:    b' = b + Σ_t D x̄[t], the same at every position (the paper code's
//              summation, with eprunner's x̄; the code's own freeze: FreezeOptions::recipe).
// (enum class BiasMode, core/prune/settings.h)

struct FreezeOptions {
  BiasMode bias = BiasMode::PerPosition;
  // Official: the decompositions are of the folded matrices A_f and the state holds the
  // last batch's residual sums; A' and b' as official_recipe.h derives (bias is ignored).
  Recipe recipe = Recipe::Eprunner;
};

// D = Σ of the frozen components of one matrix, [out, in] float64.
// frozen [nb, r] bool.
torch::Tensor frozen_sum(const Decomposition& d, const torch::Tensor& frozen);

// The new weight and bias of one matrix.
struct MatrixFreeze {
  MatrixRef matrix;
  int64_t n_frozen = 0;
  torch::Tensor weight;    // A' = A − D, [out, in] float64
  torch::Tensor table;     // [P, out] float32, added at the last P positions (aligned to the end)
  torch::Tensor fallback;  // [out] float32, added at earlier positions
};

// weight A [out, in]; state gives x̄ for matrix `index` of the decompositions.
MatrixFreeze freeze_matrix(const Decomposition& d, const torch::Tensor& weight,
                           const torch::Tensor& frozen, const ScoreState& state, size_t index,
                           const FreezeOptions& opts);

// The freeze of one matrix of `model` as `opts` says: freeze_matrix, or under the
// official recipe official_freeze_matrix (official_recipe.h) with the model's norm.
// What ScopedFreeze applies, for callers that need the numbers (export).
MatrixFreeze freeze_model_matrix(const CausalLM& model, const Decomposition& d, const torch::Tensor& weight,
                                 const torch::Tensor& frozen, const ScoreState& state, size_t index,
                                 const FreezeOptions& opts);

// Applies the freeze of `frozen` (global component indices) to every decomposed
// matrix that has at least one frozen component (others are not touched, so p = 0
// leaves the model bit-identical). One ScopedFreeze per model at a time.
class ScopedFreeze {
 public:
  ScopedFreeze(CausalLM& model, const std::vector<Decomposition>& decs, const ScoreState& state,
               const std::vector<int64_t>& frozen, const FreezeOptions& opts = {});
  ~ScopedFreeze();
  ScopedFreeze(const ScopedFreeze&) = delete;
  ScopedFreeze& operator=(const ScopedFreeze&) = delete;
  ScopedFreeze(ScopedFreeze&& other) noexcept;
  ScopedFreeze& operator=(ScopedFreeze&&) = delete;

  // Puts the original weights back (the saved tensors, not A' + D) and removes the
  // position biases. Idempotent.
  void remove();
  size_t n_matrices() const { return originals_.size(); }

 private:
  CausalLM* model_ = nullptr;
  std::vector<std::pair<MatrixRef, torch::Tensor>> originals_;  // A as model.weight() gave it
};

}  // namespace ep
