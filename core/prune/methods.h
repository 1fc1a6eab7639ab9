// What eigenpruning is compared with (docs/methods.md): other choices of components
// to remove from the same decompositions, so every method runs through the same
// freeze (freeze.h) and the same evaluation, and differs only in the choice.
//
//   controls — the same count int(N·p) as eigenpruning, from the same scores:
//     highest: the highest-scoring components instead of the lowest;
//     random:  a seeded uniform choice (the scores are not used).
//   LASER (Sharma, Ash, Misra 2023, "The Truth is in There"): a whole matrix at one
//     layer (or a set of layers) replaced by its rank-k approximation, keeping the
//     k = max(1, int(ρ·rank)) largest singular values; no bias compensation
//     (freeze with BiasMode::None), on decompositions at Granularity::Matrix.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "core/prune/decompose.h"

namespace ep {

// Every global index, descending by score, ties by ascending index (the mirror of
// rank_components: its first int(N·p) are the highest-scoring). NaN is an error.
std::vector<int64_t> rank_highest_first(const torch::Tensor& scores);

// A seeded uniform permutation of 0..n-1 (core/util/seeded_shuffle.h, the same on
// every platform): its first int(N·p) entries are a uniform random subset, and a
// larger p keeps the smaller p's subset (as eigenpruning's choices are nested).
std::vector<int64_t> random_ranking(int64_t n, uint64_t seed);

// k = max(1, int(ρ·rank)): the components LASER keeps in each block. ρ in (0, 1].
int64_t laser_rank_kept(int64_t rank, double rho);

// The global indices LASER removes: in every decomposition whose layer is in
// `layers`, every component past the first laser_rank_kept(rank, ρ) of each block
// (S is descending, so the largest are kept). A layer with no decomposition is an
// error naming the layers there are.
std::vector<int64_t> laser_components(const std::vector<Decomposition>& decs, const std::vector<int64_t>& layers,
                                      double rho);

}  // namespace ep
