// The scoring pass and the frozen masks as the results file keeps them: one
// [L, B, R] array per matrix kind (layers, blocks, components), from the flat
// global component index of core/prune/decompose.h.
#pragma once

#include <vector>

#include <torch/types.h>

#include "core/prune/decompose.h"
#include "core/prune/score.h"
#include "runner/results_file.h"

namespace ep::runner {

// ΔL maxima, singular values, mean inputs per position and position counts of kind's matrices.
MatrixScores matrix_scores(const std::vector<Decomposition>& decs, MatrixKind kind, const ScoreState& state);

// uint8 [L, B, R], 1 = frozen, of kind's matrices; `frozen` holds global indices.
Array<uint8_t> frozen_mask_array(const std::vector<Decomposition>& decs, MatrixKind kind,
                                 const std::vector<int64_t>& frozen);

}  // namespace ep::runner
