// The eigenpruning choices a grid names, as enums with their one name table each
// (core/util/name_table.h). Torch-free: the grid file and `plan` use them without
// LibTorch. What each choice means is documented where it acts (decompose.h,
// score.h, freeze.h) and in docs/eigenpruning.md.
#pragma once

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
// change of swapping the whole input; "max": the paper's code).
enum class PositionReduce { Sum, Max };
inline constexpr Named<PositionReduce> kPositionReduceNames[] = {{PositionReduce::Sum, "sum"},
                                                                {PositionReduce::Max, "max"}};
constexpr const auto& names(PositionReduce) { return kPositionReduceNames; }

// freeze.h: the frozen components' bias: per position (the paper's text), one mean
// for all positions, or Σ_t D x̄[t] at every position (the paper's code).
enum class BiasMode { PerPosition, Mean, PaperSum };
inline constexpr Named<BiasMode> kBiasModeNames[] = {
    {BiasMode::PerPosition, "position"}, {BiasMode::Mean, "mean"}, {BiasMode::PaperSum, "paper_sum"}};
constexpr const auto& names(BiasMode) { return kBiasModeNames; }

}  // namespace ep
