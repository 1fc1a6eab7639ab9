// `eprunner plan` output: cells with their state in an existing results file, and
// the rank groups for a world size.
#include <gtest/gtest.h>

#include "runner/grid.h"
#include "runner/plan.h"
#include "runner/schedule.h"

using namespace ep::runner;

namespace {

ep::grid::Grid grid() {
  return ep::grid::parse(R"(
[layout]
ranks_per_cell = 2
[[models]]
name = "a"
path = "/nowhere/a"
[[tasks]]
kind = "int-sum"
[[tasks]]
kind = "int-mult"
[[tasks]]
kind = "cb"
data_dir = "/nowhere/CB"
[eigenprune]
p = [0.05, 0.3]
)",
                         "/grids/g.toml");
}

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

}  // namespace

TEST(Plan, CellsStatesAndGroups) {
  const auto g = grid();
  const auto cells = make_cells(g);
  std::map<std::string, std::string> finished = {{"a__int-sum", cells[0].fingerprint}, {"a__cb", "stale"}};
  std::map<std::string, std::string> failed = {{"a__int-mult", "x"}};
  const std::string out = format_plan(g, 5, finished, failed);
  EXPECT_TRUE(has(out, "cells (3)")) << out;
  EXPECT_TRUE(has(out, "a__int-sum")) << out;
  EXPECT_TRUE(has(out, "done (skipped)")) << out;
  EXPECT_TRUE(has(out, "failed before (rerun)")) << out;
  EXPECT_TRUE(has(out, "settings changed (rerun)")) << out;
  EXPECT_TRUE(has(out, "2 of 3 cell(s) to run")) << out;
  EXPECT_TRUE(has(out, "/nowhere/CB (missing)")) << out;
  EXPECT_TRUE(has(out, "p: 0.05, 0.3")) << out;
  // No checkpoint to read a config from: the estimate says why instead of a number.
  EXPECT_TRUE(has(out, "memory (estimated, per rank on its device: cpu")) << out;
  EXPECT_TRUE(has(out, "a__int-sum                       unknown: ")) << out;
  EXPECT_TRUE(has(out, "ranks: 5, ranks_per_cell 2 -> 2 group(s)")) << out;
  EXPECT_TRUE(has(out, "group 0: ranks 0-1")) << out;
  EXPECT_TRUE(has(out, "group 1: ranks 2-3")) << out;
  EXPECT_TRUE(has(out, "idle: rank 4")) << out;
}

TEST(Plan, OneRankShrinksTheGroup) {
  const std::string out = format_plan(grid(), 1, {}, {});
  EXPECT_TRUE(has(out, "1 group(s)")) << out;
  EXPECT_TRUE(has(out, "group 0: rank 0")) << out;
  EXPECT_TRUE(has(out, "note: ranks_per_cell = 2 but only 1 rank(s)")) << out;
}
