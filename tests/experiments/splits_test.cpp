// Seeded permutations and splits: sizes, determinism, disjointness, and a pinned
// permutation so a change of algorithm (which would silently change every split
// and so every published number) fails a test.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/util/error.h"
#include "experiments/seeded_shuffle.h"
#include "experiments/splits.h"

namespace ep {
namespace {

TEST(SeededPermutation, IsAPermutation) {
  auto p = seeded_permutation(1000, 7);
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
  EXPECT_NE(p, sorted);
}

TEST(SeededPermutation, SameSeedSamePermutationOtherSeedOther) {
  EXPECT_EQ(seeded_permutation(500, 42), seeded_permutation(500, 42));
  EXPECT_NE(seeded_permutation(500, 42), seeded_permutation(500, 43));
}

TEST(SeededPermutation, PinnedValues) {
  // Pinned from this implementation (mt19937_64 + Fisher-Yates from the top +
  // rejection sampling); mt19937_64's stream is fixed by the C++ standard, so these
  // must hold on every platform.
  EXPECT_EQ(seeded_permutation(10, 42), (std::vector<int64_t>{1, 7, 9, 0, 3, 8, 4, 2, 5, 6}));
  EXPECT_EQ(derive_seed(42, 1), 2949826092126892291ull);
}

TEST(SeededPermutation, EdgeSizes) {
  EXPECT_TRUE(seeded_permutation(0, 1).empty());
  EXPECT_EQ(seeded_permutation(1, 1), (std::vector<int64_t>{0}));
}

TEST(DeriveSeed, StreamsDiffer) {
  EXPECT_NE(derive_seed(42, 1), derive_seed(42, 2));
  EXPECT_NE(derive_seed(42, 1), derive_seed(43, 1));
  EXPECT_EQ(derive_seed(42, 1), derive_seed(42, 1));
}

TEST(SplitIndices, SizesDisjointAndCovering) {
  IndexSplit s = split_indices(10000, 0.2, 5);
  EXPECT_EQ(s.held_out.size(), 2000u);
  EXPECT_EQ(s.kept.size(), 8000u);
  std::set<int64_t> all(s.kept.begin(), s.kept.end());
  for (int64_t i : s.held_out) EXPECT_TRUE(all.insert(i).second) << i << " in both parts";
  EXPECT_EQ(all.size(), 10000u);
  EXPECT_TRUE(std::is_sorted(s.kept.begin(), s.kept.end()));
  EXPECT_TRUE(std::is_sorted(s.held_out.begin(), s.held_out.end()));
}

TEST(SplitIndices, RoundsToNearest) {
  EXPECT_EQ(split_indices(400, 0.2, 1).held_out.size(), 80u);
  EXPECT_EQ(split_indices(7, 0.3, 1).held_out.size(), 2u);  // 2.1
  EXPECT_EQ(split_indices(9, 0.5, 1).held_out.size(), 5u);  // 4.5 rounds away from zero
  EXPECT_TRUE(split_indices(9, 0.0, 1).held_out.empty());
}

TEST(SplitIndices, BadFractionIsAnError) {
  EXPECT_THROW(split_indices(10, 1.0, 1), Error);
  EXPECT_THROW(split_indices(10, -0.1, 1), Error);
}

}  // namespace
}  // namespace ep
