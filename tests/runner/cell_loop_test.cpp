// The cell loop under mpirun (tests/cli/grid_mpi.sh): with a stand-in executor,
// every cell runs exactly once on a whole group, results land in the file, an
// executor error becomes an error cell, a rerun computes only what is missing,
// and --restart computes everything again.
#include <unistd.h>

#include <filesystem>

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

// A folder every rank agrees on (rank 0 names it).
fs::path shared_dir() {
  int64_t pid = ::getpid();
  MPI_Bcast(&pid, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
  return fs::temp_directory_path() / fmt::format("ep_cell_loop_{}", pid);
}

ep::grid::Grid make_grid(const fs::path& dir, int ranks_per_cell) {
  return ep::grid::parse(fmt::format(R"(
output = "{}/results.h5"
[layout]
ranks_per_cell = {}
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
[[tasks]]
name = "boom"
kind = "int-sum"
[eigenprune]
p = [0.1, 0.3]
)", dir.string(), ranks_per_cell),
                         dir / "grid.toml");
}

// Runs the loop; returns how many times each cell was executed (summed over groups
// on rank 0), and checks every run of a cell involved its whole group.
std::vector<int> run_and_count(const ep::grid::Grid& grid, bool restart, LoopSummary* summary) {
  std::vector<int> executed(6, 0);
  CellExecutor fake = [&](const ep::grid::Grid& g, const Cell& cell, const GroupContext& ctx) {
    // A group collective: every member must be here for the same cell.
    int mine = cell.index, lo = 0, hi = 0;
    MPI_Allreduce(&mine, &lo, 1, MPI_INT, MPI_MIN, ctx.group);
    MPI_Allreduce(&mine, &hi, 1, MPI_INT, MPI_MAX, ctx.group);
    EXPECT_EQ(lo, hi) << "group members ran different cells";
    if (ctx.group_rank == 0) executed[cell.index]++;
    if (g.tasks[cell.task].name == "boom") throw std::runtime_error("boom on purpose");
    CellResult r;  // identity left to the loop; ran_on says where the executor ran
    r.ran_on = "cpu (mpi)";
    r.base.test.metric = "full-vocab";
    r.base.test.accuracy = cell.index / 100.0;
    r.base.test.n = 10;
    r.examples = 10;
    for (double p : g.eigenprune.p) {
      PrunedResult pr;
      pr.p = p;
      pr.eval.test.accuracy = cell.index / 100.0 + p;
      r.pruned.push_back(pr);
    }
    return r;
  };
  LoopOptions opts;
  opts.restart = restart;
  opts.provenance.grid_text = grid.text;
  *summary = run_cells(grid, MPI_COMM_WORLD, fake, opts);
  std::vector<int> total(6, 0);
  MPI_Reduce(executed.data(), total.data(), 6, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
  return total;
}

}  // namespace

TEST(CellLoop, RunsEachCellOnceAndResumes) {
  EP_SKIP_UNLESS_MPIRUN();
  const int rank = ep::dist::comm_rank(MPI_COMM_WORLD);
  const fs::path dir = shared_dir();
  if (rank == 0) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  for (int ranks_per_cell : {1, 2}) {
    SCOPED_TRACE(fmt::format("ranks_per_cell = {}", ranks_per_cell));
    const auto grid = make_grid(dir, ranks_per_cell);
    LoopSummary s;
    auto counts = run_and_count(grid, /*restart=*/true, &s);
    EXPECT_EQ(s.cells, 6);
    EXPECT_EQ(s.skipped, 0);
    EXPECT_EQ(s.done, 4);
    EXPECT_EQ(s.failed, 2);
    if (rank == 0) {
      EXPECT_EQ(counts, std::vector<int>(6, 1));
      auto reader = open_results_reader(grid.output);
      auto cells = reader->cells();
      ASSERT_EQ(cells.size(), 6u);
      for (const auto& c : cells) {
        if (c.task == "boom") {
          EXPECT_EQ(c.status, CellStatus::Error);
          EXPECT_NE(c.error.find("boom on purpose"), std::string::npos) << c.error;
        } else {
          EXPECT_EQ(c.status, CellStatus::Done) << c.name;
          CellResult full = reader->read_cell(c.name);
          EXPECT_DOUBLE_EQ(full.base.test.accuracy, c.index / 100.0);
          EXPECT_EQ(full.pruned.size(), 2u);
          // The group (the loop's) and the device and backend (the executor's) both reach the file.
          EXPECT_EQ(full.ran_on.rfind("group ", 0), 0u) << full.ran_on;
          EXPECT_NE(full.ran_on.find(", cpu (mpi)"), std::string::npos) << full.ran_on;
          EXPECT_EQ(full.name, c.name);
          EXPECT_EQ(full.fingerprint, c.fingerprint);
        }
      }
      EXPECT_EQ(reader->provenance().world_size, ep::dist::comm_size(MPI_COMM_WORLD));
      EXPECT_FALSE(reader->provenance().ended_at.empty());
    }

    // A rerun computes only the error cells.
    counts = run_and_count(grid, /*restart=*/false, &s);
    EXPECT_EQ(s.skipped, 4);
    EXPECT_EQ(s.failed, 2);
    if (rank == 0) {
      EXPECT_EQ(counts, (std::vector<int>{0, 0, 1, 0, 0, 1}));
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) fs::remove_all(dir);
}
