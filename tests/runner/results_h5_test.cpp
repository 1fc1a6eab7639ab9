// The HDF5 results file: what is written reads back the same; resuming keeps
// cells, --restart sets them aside; errors are clear.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <hdf5.h>

#include "core/util/error.h"
#include "runner/results_file.h"
#include "sample_cells.h"

namespace fs = std::filesystem;
using namespace ep::runner;
using ep::runner::samples::cell_difference;
using ep::runner::samples::sample_cell;
using ep::runner::samples::sample_provenance;

namespace {

class ResultsH5 : public ep::runner::samples::FolderPerTest {};

}  // namespace

TEST_F(ResultsH5, CellsRoundTrip) {
  const fs::path file = dir_ / "results.h5";
  {
    auto w = open_results_h5(file, sample_provenance(), false);
    w->write_cell(sample_cell(0));
    w->write_cell(sample_cell(3, /*big=*/true));
    w->finish("2026-01-01T01:00:00Z");
  }
  auto r = open_results_reader(file);
  auto cells = r->cells();
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells[0].name, sample_cell(0).name);
  EXPECT_EQ(cells[1].name, sample_cell(3).name);
  EXPECT_EQ(cells[1].status, CellStatus::Done);
  EXPECT_EQ(cell_difference(r->read_cell(cells[0].name), sample_cell(0)), "");
  EXPECT_EQ(cell_difference(r->read_cell(cells[1].name), sample_cell(3, true)), "");
  EXPECT_FALSE(fs::exists(dir_ / "results.h5.tmp"));
}

TEST_F(ResultsH5, ProvenanceRoundTrip) {
  const fs::path file = dir_ / "results.h5";
  auto w = open_results_h5(file, sample_provenance(), false);
  // Readable as soon as the writer is open, before any cell.
  auto before = open_results_reader(file)->provenance();
  EXPECT_EQ(before.ended_at, "");
  w->finish("2026-01-01T01:00:00Z");
  Provenance p = open_results_reader(file)->provenance();
  Provenance want = sample_provenance();
  EXPECT_EQ(p.grid_text, want.grid_text);
  EXPECT_EQ(p.grid_path, want.grid_path);
  EXPECT_EQ(p.git_commit, want.git_commit);
  EXPECT_EQ(p.command_line, want.command_line);
  EXPECT_EQ(p.world_size, 4);
  EXPECT_EQ(p.devices, want.devices);
  EXPECT_EQ(p.torch_version, want.torch_version);
  EXPECT_EQ(p.mpi_version, want.mpi_version);
  EXPECT_FALSE(p.hdf5_version.empty());
  EXPECT_EQ(p.started_at, want.started_at);
  EXPECT_EQ(p.ended_at, "2026-01-01T01:00:00Z");
}

TEST_F(ResultsH5, ErrorCellsAreNotFinishedAndGetReplaced) {
  const fs::path file = dir_ / "results.h5";
  CellResult failed;
  failed.index = 1;
  failed.name = "m__t";
  failed.model = "m";
  failed.task = "t";
  failed.fingerprint = "f";
  failed.status = CellStatus::Error;
  failed.error = "out of memory";
  {
    auto w = open_results_h5(file, sample_provenance(), false);
    w->write_cell(sample_cell(0));
    w->write_cell(failed);
  }
  auto finished = open_results_reader(file)->finished();
  EXPECT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished.count(sample_cell(0).name), 1u);
  EXPECT_EQ(open_results_reader(file)->read_cell("m__t").error, "out of memory");

  failed.status = CellStatus::Done;
  failed.error = "";
  {
    auto w = open_results_h5(file, sample_provenance(), false);  // a resumed run
    w->write_cell(failed);
  }
  auto r = open_results_reader(file);
  EXPECT_EQ(r->finished().size(), 2u);
  EXPECT_EQ(r->read_cell("m__t").status, CellStatus::Done);
  EXPECT_EQ(r->read_cell("m__t").error, "");
}

TEST_F(ResultsH5, RestartMovesTheOldFileAside) {
  const fs::path file = dir_ / "results.h5";
  open_results_h5(file, sample_provenance(), false)->write_cell(sample_cell(0));
  open_results_h5(file, sample_provenance(), true);
  EXPECT_TRUE(open_results_reader(file)->cells().empty());
  EXPECT_EQ(open_results_reader(dir_ / "results.h5.bak")->cells().size(), 1u);
  // A second restart keeps the first backup: the new one is .bak.1.
  open_results_h5(file, sample_provenance(), false)->write_cell(sample_cell(1));
  open_results_h5(file, sample_provenance(), true);
  EXPECT_EQ(open_results_reader(dir_ / "results.h5.bak")->cells().at(0).name, sample_cell(0).name);
  EXPECT_EQ(open_results_reader(dir_ / "results.h5.bak.1")->cells().at(0).name, sample_cell(1).name);
}

// `output = "grid.toml"` with --restart must not turn the grid into a backup.
TEST_F(ResultsH5, RestartLeavesAFileThatIsNotResultsAlone) {
  const fs::path grid = dir_ / "grid.toml";
  std::ofstream(grid) << "seed = 1\n";
  try {
    open_results_h5(grid, sample_provenance(), true);
    FAIL() << "--restart moved a grid file aside";
  } catch (const ep::Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not an eprunner results file, so it is left alone"), std::string::npos)
        << e.what();
  }
  std::ifstream in(grid);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "seed = 1\n");
  EXPECT_FALSE(fs::exists(dir_ / "grid.toml.bak"));
}

// A cell marked done whose base evaluation is missing (a damaged or hand-edited file)
// is not trusted: a rerun computes it again.
TEST_F(ResultsH5, DoneCellWithoutItsResultsIsNotFinished) {
  const fs::path file = dir_ / "results.h5";
  {
    auto w = open_results_h5(file, sample_provenance(), false);
    w->write_cell(sample_cell(0));
    w->write_cell(sample_cell(1));
  }
  const std::string damaged = sample_cell(1).name;
  {
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    ASSERT_GE(H5Ldelete(f, ("cells/" + damaged + "/base").c_str(), H5P_DEFAULT), 0);
    H5Fclose(f);
  }
  const auto finished = open_results_reader(file)->finished();
  EXPECT_EQ(finished.count(sample_cell(0).name), 1u);
  EXPECT_EQ(finished.count(damaged), 0u);
}

// A results file that lost /cells is refused when the run opens it, before any cell
// is computed (not when the first finished cell cannot be saved).
TEST_F(ResultsH5, FileWithoutCellsIsRefusedAtOpen) {
  const fs::path file = dir_ / "results.h5";
  open_results_h5(file, sample_provenance(), false)->write_cell(sample_cell(0));
  {
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    ASSERT_GE(H5Ldelete(f, "cells", H5P_DEFAULT), 0);
    H5Fclose(f);
  }
  try {
    open_results_h5(file, sample_provenance(), false);
    FAIL() << "a results file without /cells was opened for writing";
  } catch (const ep::Error& e) {
    EXPECT_NE(std::string(e.what()).find("without its /cells or /runs group"), std::string::npos) << e.what();
  }
}

TEST_F(ResultsH5, StaleTmpFromACrashIsIgnored) {
  const fs::path file = dir_ / "results.h5";
  open_results_h5(file, sample_provenance(), false)->write_cell(sample_cell(0));
  std::ofstream(dir_ / "results.h5.tmp") << "half a file";
  auto w = open_results_h5(file, sample_provenance(), false);
  w->write_cell(sample_cell(1));
  EXPECT_EQ(open_results_reader(file)->cells().size(), 2u);
}

TEST_F(ResultsH5, ReaderRejectsOtherFiles) {
  std::ofstream(dir_ / "text.h5") << "not hdf5";
  EXPECT_THROW(open_results_reader(dir_ / "text.h5"), ep::Error);
  EXPECT_THROW(open_results_reader(dir_ / "missing.h5"), ep::Error);
  EXPECT_THROW(open_results_h5(dir_ / "text.h5", sample_provenance(), false), ep::Error);
}

TEST_F(ResultsH5, ReadingAMissingCellNamesIt) {
  const fs::path file = dir_ / "results.h5";
  open_results_h5(file, sample_provenance(), false);
  try {
    open_results_reader(file)->read_cell("nope__x");
    FAIL() << "no error";
  } catch (const ep::Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope__x"), std::string::npos);
  }
}
