#include "core/prune/scoring_batches.h"

#include <algorithm>
#include <utility>

#include "core/util/error.h"
#include "core/util/seeded_shuffle.h"

namespace ep {

std::vector<std::vector<int64_t>> make_scoring_batches(int64_t n_examples, int64_t batch_size,
                                                       uint64_t seed) {
  EP_CHECK(n_examples >= 0, "number of scoring examples must be >= 0, got {}", n_examples);
  EP_CHECK(batch_size >= 2,
           "scoring batch size must be >= 2 (partners come from the same batch), got {}",
           batch_size);
  const auto perm = seeded_permutation(n_examples, seed);
  std::vector<std::vector<int64_t>> batches;
  for (int64_t start = 0; start < n_examples; start += batch_size) {
    const int64_t end = std::min(n_examples, start + batch_size);
    batches.emplace_back(perm.begin() + start, perm.begin() + end);
  }
  if (batches.size() >= 2 && batches.back().size() == 1) {
    batches[batches.size() - 2].push_back(batches.back()[0]);
    batches.pop_back();
  }
  return batches;
}

std::vector<std::vector<int64_t>> batches_for_rank(const std::vector<std::vector<int64_t>>& batches,
                                                   int rank, int world) {
  EP_CHECK(world >= 1 && rank >= 0 && rank < world, "bad rank {} of world {}", rank, world);
  std::vector<std::vector<int64_t>> mine;
  for (size_t i = static_cast<size_t>(rank); i < batches.size(); i += static_cast<size_t>(world))
    mine.push_back(batches[i]);
  return mine;
}

}  // namespace ep
