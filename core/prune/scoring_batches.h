// Which training examples go together in a scoring batch, and which rank scores it.
//
// The scores must not depend on the number of processes: ΔL of an example depends
// on its partners, and partners are taken inside a batch, so batch composition is
// fixed by the seed alone (a shuffle that does not look at the world size); ranks
// only decide who computes which batch. No LibTorch here, so the distributed layer
// can use it without paying for torch headers.
#pragma once

#include <cstdint>
#include <vector>

namespace ep {

// A seeded shuffle of 0..n_examples-1 cut into batches of `batch_size`. A last
// batch of a single example would have no partner, so it joins the batch before.
// The shuffle is seeded_permutation (core/util/seeded_shuffle.h), the same on every
// platform and standard library, and the one the task splits use.
std::vector<std::vector<int64_t>> make_scoring_batches(int64_t n_examples, int64_t batch_size,
                                                       uint64_t seed);

// The batches that `rank` of `world` scores: batch i goes to rank i % world.
std::vector<std::vector<int64_t>> batches_for_rank(const std::vector<std::vector<int64_t>>& batches,
                                                   int rank, int world);

}  // namespace ep
