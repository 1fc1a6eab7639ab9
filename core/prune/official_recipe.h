// The paper's official recipe (grid `recipe = "official"`): the computation of the
// paper's public code (TransformerLens 1.14, default weight processing), quirks
// included, so that its Table 2 can be reproduced and set beside the corrected method.
// ref: the paper code as read from its repository (April 2024); docs/eigenpruning.md,
// "The official recipe".
//
// TransformerLens loads a model with fold_ln and center_writing_weights: a key is
// k = LNPre(x) W_K' + b_K', LNPre(x) = (x − mean x) / std (no scale, no shift),
// W_K' = diag(w) W_K centred over d_model, b_K' = b_K + β W_K. In eprunner's convention
// A [out, in], k = A·LN(x) + b, so the official recipe's matrix is
//
//   A_f = A·diag(w)·C          (C = I − 11ᵀ/d; RMSNorm: A_f = A·diag(w), no C, no β)
//
// and its x is the residual stream x entering the norm (TransformerLens' resid_pre,
// or resid_mid for GPT-2's mlp_in). TransformerLens' residual is centred, Cx; since
// A_f's right singular vectors with s > 0 are ⊥ 1, v·Cx = v·x and D_f·Cx = D_f·x: the
// un-centred residual gives the same scores and the same bias.
//
// Freezing in folded space, k'' = LNPre(x)(A_f − D_f)ᵀ + b_K' + Σ_t D_f x̄[t], is in
// eprunner's space (LNPre(x) = diag(1/w)(LN(x) − β), and D_f C = D_f):
//
//   A' = A − D_f·diag(1/w),   b' = b + D_f·diag(1/w)·β + Σ_t D_f x̄[t]
//
// with x̄[t] the mean residual of the LAST scoring minibatch at padded position t,
// pads included, and the sum over that batch's positions (the same bias everywhere).
//
// The scoring side (mean loss, max over positions with pads, x̄ of the last batch)
// is in score.cpp under ScoreOptions::recipe.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/model/causal_lm.h"
#include "core/prune/decompose.h"
#include "core/prune/freeze.h"
#include "core/prune/score.h"

namespace ep {

// official_recipe_supports(kind): core/prune/settings.h.

// A_f [out, in] float64 from A [out, in] and the norm in front of it.
torch::Tensor fold_input_norm(const MatrixRef& m, const torch::Tensor& weight, const InputNorm& norm);

// The official freeze of one matrix: D_f = Σ frozen E_i of the folded decomposition `d`,
// weight A (unfolded, as the model stores it), state: x̄ sums of the last batch (pads
// included), as ScoreOptions::recipe = Official leaves them.
MatrixFreeze official_freeze_matrix(const Decomposition& d, const torch::Tensor& weight, const InputNorm& norm,
                                    const torch::Tensor& frozen, const ScoreState& state, size_t index);

// Which rank scores the last batch of the global list (batches_for_rank deals batch i
// to rank i % world): under the official recipe only that rank's activation sums are
// kept, and the SUM all-reduce gives them to every rank.
inline int rank_of_last_batch(size_t n_batches, int world) {
  return n_batches == 0 ? 0 : static_cast<int>((n_batches - 1) % static_cast<size_t>(world));
}

}  // namespace ep
