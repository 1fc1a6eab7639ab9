#include "core/prune/scoring_batches.h"

#include <algorithm>
#include <random>
#include <utility>

#include "core/util/error.h"

namespace ep {

namespace {
// Uniform in [0, bound): rejects the raw values below 2^64 mod bound (no modulo bias).
uint64_t uniform_below(std::mt19937_64& gen, uint64_t bound) {
  const uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    const uint64_t r = gen();
    if (r >= threshold) return r % bound;
  }
}

std::vector<int64_t> shuffled(int64_t n, uint64_t seed) {
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
  std::mt19937_64 gen(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<size_t>(uniform_below(gen, static_cast<uint64_t>(i) + 1));
    std::swap(perm[static_cast<size_t>(i)], perm[j]);
  }
  return perm;
}
}  // namespace

std::vector<std::vector<int64_t>> make_scoring_batches(int64_t n_examples, int64_t batch_size,
                                                       uint64_t seed) {
  EP_CHECK(n_examples >= 0, "number of scoring examples must be >= 0, got {}", n_examples);
  EP_CHECK(batch_size >= 2,
           "scoring batch size must be >= 2 (partners come from the same batch), got {}",
           batch_size);
  const auto perm = shuffled(n_examples, seed);
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
