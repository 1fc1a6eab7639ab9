// Eigenpruning step 3: choose the components to freeze.
//
// The lowest p fraction of ALL components of all chosen matrices (globally across
// layers and heads), int(N * p) of them as in the paper's code. Ties are broken by
// global index, so the choice is deterministic.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace ep {

// int(n * p), computed in double like Python's int(N * p). p in [0, 1].
int64_t count_to_freeze(int64_t n, double p);

// Every global index, ascending by (score, index). scores [N] (any float dtype,
// any device); NaN scores are an error. Unscored components (-inf) come first.
std::vector<int64_t> rank_components(const torch::Tensor& scores);

// The first count_to_freeze(N, p) entries of rank_components(scores).
std::vector<int64_t> select_lowest(const torch::Tensor& scores, double p);

// The same from a ranking computed once (for many p).
std::vector<int64_t> select_lowest(const std::vector<int64_t>& ranking, double p);

// [N] bool, true for the given indices.
torch::Tensor frozen_mask(int64_t n, const std::vector<int64_t>& frozen);

}  // namespace ep
