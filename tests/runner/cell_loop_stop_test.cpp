// The cell loop's stop request and single-cell runs (what Slurm jobs use), under
// mpirun (tests/cli/grid_mpi.sh runs the CellLoop.* tests with -np 2 and -np 4):
// - a stop flag seen by ONE rank (the last, a group member when groups have 2
//   ranks) ends every group at its next cell boundary: the cells in progress are
//   saved, the rest are counted as interrupted, nobody hangs; a rerun computes
//   exactly the interrupted cells;
// - only_cell runs that cell alone.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "distributed/mpi_env.h"
#include "runner/cell_loop.h"
#include "runner/grid.h"
#include "runner/results_file.h"
#include "../distributed/mpi_test_env.h"

namespace fs = std::filesystem;
using namespace ep::runner;

namespace {

constexpr int kCells = 12;  // 4 models x 3 tasks

fs::path shared_dir(const char* tag) {
  int64_t pid = ::getpid();
  MPI_Bcast(&pid, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
  return fs::temp_directory_path() / fmt::format("ep_cell_stop_{}_{}", tag, pid);
}

ep::grid::Grid make_grid(const fs::path& dir, int ranks_per_cell) {
  std::string text = fmt::format("output = \"{}/results.h5\"\n[layout]\nranks_per_cell = {}\n", dir.string(),
                                 ranks_per_cell);
  for (const char* m : {"a", "b", "c", "d"}) text += fmt::format("[[models]]\nname = \"{}\"\npath = \"ckpt\"\n", m);
  text += "[[tasks]]\nkind = \"int-sum\"\n[[tasks]]\nkind = \"int-mult\"\n[[tasks]]\nname = \"x\"\nkind = \"int-sum\"\n";
  text += "[eigenprune]\np = [0.1]\n";
  return ep::grid::parse(text, dir / "grid.toml");
}

// Runs the loop with a stand-in executor (50 ms per cell, so cells are still queued
// when the stop comes); `stop_on_rank` sets this rank's stop flag in its first
// cell (-1: never). Returns how often each cell ran (on rank 0).
std::vector<int> run(const ep::grid::Grid& grid, int stop_on_rank, std::optional<int> only, LoopSummary* summary) {
  std::vector<int> executed(kCells, 0);
  std::atomic<bool> stop{false};
  const int rank = ep::dist::comm_rank(MPI_COMM_WORLD);
  CellExecutor fake = [&](const ep::grid::Grid&, const Cell& cell, const GroupContext& ctx) {
    if (rank == stop_on_rank) stop = true;  // as a SIGUSR1 to this process alone would
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    MPI_Barrier(ctx.group);  // a group collective inside the cell
    if (ctx.group_rank == 0) executed[cell.index]++;
    CellResult r;
    r.base.test.accuracy = 0.5;
    r.pruned.push_back(PrunedResult{});
    return r;
  };
  LoopOptions opts;
  opts.stop = &stop;
  opts.only_cell = only;
  opts.provenance.grid_text = grid.text;
  *summary = run_cells(grid, MPI_COMM_WORLD, fake, opts);
  std::vector<int> total(kCells, 0);
  MPI_Reduce(executed.data(), total.data(), kCells, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
  return total;
}

void fresh(const fs::path& dir) {
  if (ep::dist::comm_rank(MPI_COMM_WORLD) == 0) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

}  // namespace

TEST(CellLoop, StopOnOneRankEndsEveryGroupAtACellBoundary) {
  EP_SKIP_UNLESS_MPIRUN();
  const int rank = ep::dist::comm_rank(MPI_COMM_WORLD);
  const int last = ep::dist::comm_size(MPI_COMM_WORLD) - 1;
  const fs::path dir = shared_dir("stop");
  for (int ranks_per_cell : {1, 2}) {
    SCOPED_TRACE(fmt::format("ranks_per_cell = {}", ranks_per_cell));
    fresh(dir);
    const auto grid = make_grid(dir, ranks_per_cell);
    LoopSummary s;
    const auto first = run(grid, last, std::nullopt, &s);
    EXPECT_EQ(s.cells, kCells);
    EXPECT_EQ(s.failed, 0);
    EXPECT_GE(s.done, 1);
    EXPECT_GE(s.interrupted, 1) << "every cell ran: the stop came too late to test anything";
    EXPECT_EQ(s.done + s.interrupted, kCells);
    std::vector<int> both = first;
    if (rank == 0) {
      const auto cells = open_results_reader(grid.output)->cells();
      EXPECT_EQ(static_cast<int>(cells.size()), s.done);  // finished cells saved, nothing for the others
      for (const auto& c : cells) EXPECT_EQ(first[c.index], 1) << c.name;
    }

    // The rerun computes exactly the interrupted cells.
    LoopSummary again;
    const auto second = run(grid, -1, std::nullopt, &again);
    EXPECT_EQ(again.skipped, s.done);
    EXPECT_EQ(again.done, s.interrupted);
    EXPECT_EQ(again.interrupted, 0);
    if (rank == 0) {
      for (int i = 0; i < kCells; ++i) EXPECT_EQ(first[i] + second[i], 1) << "cell " << i;
      EXPECT_EQ(open_results_reader(grid.output)->finished().size(), static_cast<size_t>(kCells));
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) fs::remove_all(dir);
}

TEST(CellLoop, OnlyCellRunsThatCell) {
  EP_SKIP_UNLESS_MPIRUN();
  const int rank = ep::dist::comm_rank(MPI_COMM_WORLD);
  const fs::path dir = shared_dir("only");
  fresh(dir);
  const auto grid = make_grid(dir, 1);
  LoopSummary s;
  auto counts = run(grid, -1, 7, &s);
  EXPECT_EQ(s.cells, 1);
  EXPECT_EQ(s.done, 1);
  EXPECT_EQ(s.skipped, 0);
  if (rank == 0) {
    std::vector<int> want(kCells, 0);
    want[7] = 1;
    EXPECT_EQ(counts, want);
    const auto cells = open_results_reader(grid.output)->cells();
    ASSERT_EQ(cells.size(), 1u);
    EXPECT_EQ(cells[0].index, 7);
  }
  counts = run(grid, -1, 7, &s);  // finished: skipped
  EXPECT_EQ(s.skipped, 1);
  EXPECT_EQ(s.done, 0);
  if (rank == 0) {
    EXPECT_EQ(counts, std::vector<int>(kCells, 0));
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) fs::remove_all(dir);
}
