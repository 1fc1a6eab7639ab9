#include "core/prune/methods.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/prune/select.h"
#include "core/util/error.h"
#include "core/util/seeded_shuffle.h"

namespace ep {

std::vector<int64_t> rank_highest_first(const torch::Tensor& scores) {
  // Ascending by (−score, index) is descending by score with ties to the smaller index
  // (negation is exact in float64, and keeps ±inf ordered).
  return rank_components(-scores.to(at::kDouble));
}

std::vector<int64_t> random_ranking(int64_t n, uint64_t seed) {
  // Its own stream of the seed: the control's seed 1 is not the split's seed 1.
  constexpr uint64_t kRandomControlStream = 0x52414e44;  // "RAND"
  return seeded_permutation(n, derive_seed(seed, kRandomControlStream));
}

int64_t laser_rank_kept(int64_t rank, double rho) {
  EP_CHECK(rho > 0.0 && rho <= 1.0, "LASER's rho (the fraction of the rank kept) must be in (0, 1], got {}", rho);
  // ref: int(rho * rank) as the paper's code counts, but never the empty matrix.
  return std::max<int64_t>(1, static_cast<int64_t>(std::floor(static_cast<double>(rank) * rho)));
}

std::vector<int64_t> laser_components(const std::vector<Decomposition>& decs, const std::vector<int64_t>& layers,
                                      double rho) {
  std::vector<int64_t> removed, present;
  for (int64_t layer : layers) {
    bool found = false;
    for (const Decomposition& d : decs) {
      if (d.matrix.layer != layer) continue;
      found = true;
      const int64_t r = d.rank(), k = laser_rank_kept(r, rho);
      for (int64_t b = 0; b < d.n_blocks(); ++b)
        for (int64_t i = k; i < r; ++i) removed.push_back(d.offset + b * r + i);
    }
    if (!found) {
      for (const Decomposition& d : decs) present.push_back(d.matrix.layer);
      EP_FAIL("LASER: no decomposed matrix at layer {} (layers: {})", layer, fmt::join(present, ", "));
    }
  }
  std::sort(removed.begin(), removed.end());
  removed.erase(std::unique(removed.begin(), removed.end()), removed.end());
  return removed;
}

}  // namespace ep
