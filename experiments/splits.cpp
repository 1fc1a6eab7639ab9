#include "experiments/splits.h"

#include <algorithm>
#include <cmath>

#include "core/util/error.h"
#include "experiments/seeded_shuffle.h"

namespace ep {

IndexSplit split_indices(int64_t n, double held_out_fraction, uint64_t seed) {
  EP_CHECK(held_out_fraction >= 0.0 && held_out_fraction < 1.0,
           "split fraction {} is out of range; expected a number in [0, 1)", held_out_fraction);
  const auto n_held = static_cast<int64_t>(std::llround(static_cast<double>(n) * held_out_fraction));
  const std::vector<int64_t> perm = seeded_permutation(n, seed);
  IndexSplit split;
  split.held_out.assign(perm.begin(), perm.begin() + n_held);
  split.kept.assign(perm.begin() + n_held, perm.end());
  // Sorted, so each split lists its examples in source order (easy to read and diff).
  std::sort(split.held_out.begin(), split.held_out.end());
  std::sort(split.kept.begin(), split.kept.end());
  return split;
}

}  // namespace ep
