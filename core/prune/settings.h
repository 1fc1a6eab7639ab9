// The eigenpruning choices a grid names, as enums with their one name table each
// (core/util/name_table.h). Torch-free: the grid file and `plan` use them without
// LibTorch. What each choice means is documented where it acts (decompose.h,
// score.h, freeze.h) and in docs/eigenpruning.md.
#pragma once

#include "core/model/matrix_kind.h"
#include "core/util/name_table.h"

namespace ep {

// decompose.h: per head (the paper's code) or the whole matrix (the paper's text).
enum class Granularity { Head, Matrix };
inline constexpr Named<Granularity> kGranularityNames[] = {{Granularity::Head, "head"},
                                                          {Granularity::Matrix, "matrix"}};
constexpr const auto& names(Granularity) { return kGranularityNames; }

// decompose.h: how the float64 SVD is computed.
enum class SvdRoute { Auto, Lapack, Gram };
inline constexpr Named<SvdRoute> kSvdRouteNames[] = {
    {SvdRoute::Auto, "auto"}, {SvdRoute::Lapack, "lapack"}, {SvdRoute::Gram, "gram"}};
constexpr const auto& names(SvdRoute) { return kSvdRouteNames; }

// score.h: how one example's ΔL folds over token positions ("sum": the first-order
// change of swapping the whole input; "max": the reduction the paper's code used, but
// alone not its computation: that is Recipe::Official).
enum class PositionReduce { Sum, Max };
inline constexpr Named<PositionReduce> kPositionReduceNames[] = {{PositionReduce::Sum, "sum"},
                                                                {PositionReduce::Max, "max"}};
constexpr const auto& names(PositionReduce) { return kPositionReduceNames; }

// freeze.h: the frozen components' bias: per position (the paper's text), one mean
// for all positions, or Σ_t D x̄[t] at every position (the paper code's summation,
// with eprunner's x̄; the code's own bias is Recipe::Official).
// None: no bias at all, A' = A − ΣE_i only — a plain low-rank edit, as LASER makes
// (and an ablation of the bias term for eigenpruning).
enum class BiasMode { PerPosition, Mean, PaperSum, None };
inline constexpr Named<BiasMode> kBiasModeNames[] = {{BiasMode::PerPosition, "position"},
                                                    {BiasMode::Mean, "mean"},
                                                    {BiasMode::PaperSum, "paper_sum"},
                                                    {BiasMode::None, "none"}};
constexpr const auto& names(BiasMode) { return kBiasModeNames; }

// official_recipe.h: "eprunner" (the corrected method, with the options above) or
// "official": the paper's code reproduced exactly, quirks included (TransformerLens'
// LayerNorm-folded matrices, x = the residual before the norm, mean loss, max over
// positions with pads, x̄ of the last minibatch, the bias summed over positions).
enum class Recipe { Eprunner, Official };
inline constexpr Named<Recipe> kRecipeNames[] = {{Recipe::Eprunner, "eprunner"}, {Recipe::Official, "official"}};
constexpr const auto& names(Recipe) { return kRecipeNames; }
// The kinds the official recipe acts on: q, k, v and mlp_in have a norm in front of
// them to fold; o and mlp_out do not (and TransformerLens' centring changes W_O and
// W_out themselves), so it refuses them.
constexpr bool official_recipe_supports(MatrixKind k) {
  return k == MatrixKind::Q || k == MatrixKind::K || k == MatrixKind::V || k == MatrixKind::MlpIn;
}

}  // namespace ep
