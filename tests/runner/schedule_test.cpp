// Cells, fingerprints, skipping finished cells, and the split of ranks into groups.
#include <gtest/gtest.h>

#include "core/util/error.h"
#include "runner/grid.h"
#include "runner/schedule.h"

using namespace ep::runner;

namespace {

ep::grid::Grid two_by_two() {
  return ep::grid::parse(R"(
[[models]]
name = "a"
path = "ckpt-a"
[[models]]
name = "b"
path = "ckpt-b"
[[tasks]]
kind = "int-sum"
[[tasks]]
kind = "int-mult"
[eigenprune]
p = [0.1, 0.3]
)",
                         "/grids/g.toml");
}

}  // namespace

TEST(Schedule, CellsAreModelMajor) {
  auto cells = make_cells(two_by_two());
  ASSERT_EQ(cells.size(), 4u);
  EXPECT_EQ(cells[0].name, "a__int-sum");
  EXPECT_EQ(cells[1].name, "a__int-mult");
  EXPECT_EQ(cells[2].name, "b__int-sum");
  EXPECT_EQ(cells[3].name, "b__int-mult");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(cells[i].index, i);
    EXPECT_EQ(cells[i].model, i / 2);
    EXPECT_EQ(cells[i].task, i % 2);
    EXPECT_EQ(cells[i].fingerprint.size(), 16u);
  }
}

TEST(Schedule, FingerprintFollowsResultSettingsOnly) {
  auto g = two_by_two();
  const std::string fp = cell_fingerprint(g, 0, 0);
  EXPECT_EQ(fp, cell_fingerprint(two_by_two(), 0, 0));  // stable
  EXPECT_NE(fp, cell_fingerprint(g, 0, 1));

  auto h = g;
  h.layout.ranks_per_cell = 8;
  h.output = "/elsewhere.h5";
  EXPECT_EQ(fp, cell_fingerprint(h, 0, 0)) << "ranks and output must not change results";
  h.eigenprune.p = {0.2};
  EXPECT_NE(fp, cell_fingerprint(h, 0, 0));
  h = g;
  h.seed = 1;
  EXPECT_NE(fp, cell_fingerprint(h, 0, 0));
}

TEST(Schedule, FinishedCellsAreSkippedUnlessRestartOrChanged) {
  auto cells = make_cells(two_by_two());
  std::map<std::string, std::string> finished = {{cells[0].name, cells[0].fingerprint},
                                                 {cells[2].name, "0000000000000000"}};
  std::vector<std::string> changed;
  auto todo = cells_to_run(cells, finished, false, &changed);
  ASSERT_EQ(todo.size(), 3u);
  EXPECT_EQ(todo[0].name, cells[1].name);
  EXPECT_EQ(todo[1].name, cells[2].name);
  EXPECT_EQ(todo[2].name, cells[3].name);
  EXPECT_EQ(changed, std::vector<std::string>{cells[2].name});
  EXPECT_EQ(cells_to_run(cells, finished, true).size(), 4u);
}

TEST(Schedule, GroupsAreConsecutiveRanks) {
  GroupLayout l = plan_groups(8, 2);
  EXPECT_EQ(l.n_groups, 4);
  EXPECT_EQ(l.idle_ranks, 0);
  EXPECT_EQ(l.group_of(0), 0);
  EXPECT_EQ(l.group_of(5), 2);
  EXPECT_EQ(l.rank_in_group(5), 1);
  EXPECT_EQ(l.leader_of(3), 6);
  EXPECT_TRUE(l.is_leader(6));
  EXPECT_FALSE(l.is_leader(7));
}

TEST(Schedule, UnevenWorldLeavesRanksIdle) {
  std::vector<std::string> notes;
  GroupLayout l = plan_groups(5, 2, &notes);
  EXPECT_EQ(l.n_groups, 2);
  EXPECT_EQ(l.idle_ranks, 1);
  EXPECT_EQ(l.group_of(4), -1);
  EXPECT_EQ(l.rank_in_group(4), -1);
  ASSERT_EQ(notes.size(), 1u);
}

TEST(Schedule, SmallWorldShrinksTheGroup) {
  std::vector<std::string> notes;
  GroupLayout l = plan_groups(2, 4, &notes);
  EXPECT_EQ(l.n_groups, 1);
  EXPECT_EQ(l.ranks_per_cell, 2);
  EXPECT_EQ(l.idle_ranks, 0);
  EXPECT_EQ(notes.size(), 1u);
  EXPECT_THROW(plan_groups(0, 1), ep::Error);
}
