// Seeded train/held-out splits of a list of n items.
#pragma once

#include <cstdint>
#include <vector>

namespace ep {

struct IndexSplit {
  std::vector<int64_t> kept;      // ascending
  std::vector<int64_t> held_out;  // ascending; llround(n * fraction) items
};

// Deals 0..n-1 into kept and held-out parts by a seeded permutation: the first
// llround(n * fraction) items of seeded_permutation(n, seed) are held out. The same
// (n, fraction, seed) gives the same split on every platform. fraction in [0, 1).
IndexSplit split_indices(int64_t n, double held_out_fraction, uint64_t seed);

}  // namespace ep
