// Seeded permutations that are the same on every platform and standard library.
//
// std::shuffle and std::uniform_int_distribution are implementation-defined, so a
// split made with them could differ between libstdc++ and libc++ (or a CUDA build
// and a CPU build). Only std::mt19937_64's output sequence is fixed by the standard;
// the shuffle and the bounded draw are written out here.
#pragma once

#include <cstdint>
#include <vector>

namespace ep {

// An independent seed for one purpose ("stream") derived from a user seed, so that
// e.g. the validation split does not change when the test fraction does.
// ref: splitmix64 (Steele, Lea, Flood 2014) as the mixing function.
uint64_t derive_seed(uint64_t seed, uint64_t stream);

// A permutation of 0..n-1 by Fisher-Yates driven by mt19937_64(seed).
std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed);

}  // namespace ep
