// Damaged results files: a checksum catches changed data, a reading child that
// crashes or hangs costs one cell (named, with why) and never the reader, and
// byte-flipped files give an ep::Error or a snapshot, nothing worse.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>
#include <hdf5.h>

#include "core/util/error.h"
#include "runner/results_file.h"
#include "runner/results_guard.h"
#include "sample_cells.h"

namespace fs = std::filesystem;
using namespace ep::runner;
using ep::runner::samples::cell_difference;
using ep::runner::samples::sample_cell;
using ep::runner::samples::sample_provenance;

namespace {

class ResultsGuard : public ep::runner::samples::FolderPerTest {
 protected:
  void SetUp() override {
    FolderPerTest::SetUp();
    file_ = dir_ / "results.h5";
    auto w = open_results_h5(file_, sample_provenance(), false);
    for (int i = 0; i < 3; ++i) w->write_cell(sample_cell(i));
    w->finish("2026-01-01T00:00:00Z");
  }
  void TearDown() override {
    ::unsetenv("EPRUNNER_TEST_READ_FAULT");
    FolderPerTest::TearDown();
  }

  // Changes one value of a cell's dataset in place, as a flipped bit on disk would.
  void change_value(const std::string& dataset) {
    const hid_t f = H5Fopen(file_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    const hid_t d = H5Dopen2(f, dataset.c_str(), H5P_DEFAULT);
    ASSERT_GE(d, 0) << dataset;
    std::vector<uint8_t> v(4096);
    const hid_t space = H5Dget_space(d);
    const auto n = H5Sget_simple_extent_npoints(space);
    v.resize(static_cast<size_t>(n));
    ASSERT_GE(H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), 0);
    v[0] ^= 1;
    ASSERT_GE(H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), 0);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
  }

  fs::path file_;
};

}  // namespace

TEST_F(ResultsGuard, ReadsEverythingLikeTheReader) {
  auto snap = read_results_guarded(file_, ReadDepth::Everything);
  ASSERT_EQ(snap->cells().size(), 3u);
  EXPECT_TRUE(snap->damaged.empty());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(cell_difference(snap->read_cell(sample_cell(i).name), sample_cell(i)), "");
  EXPECT_EQ(snap->provenance().ended_at, "2026-01-01T00:00:00Z");
  EXPECT_EQ(snap->runs().size(), 1u);
  auto metrics = read_results_guarded(file_, ReadDepth::Metrics);
  EXPECT_EQ(metrics->read_metrics(sample_cell(1).name).base.test.accuracy, sample_cell(1).base.test.accuracy);
}

TEST_F(ResultsGuard, ChangedDataFailsTheChecksum) {
  const std::string bad = sample_cell(1).name;
  change_value("cells/" + bad + "/base/test/correct");
  try {
    open_results_reader(file_)->read_cell(bad);
    FAIL() << "a changed value read back without complaint";
  } catch (const ep::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("checksum"), std::string::npos) << msg;
    EXPECT_NE(msg.find(bad), std::string::npos) << msg;
    EXPECT_NE(msg.find(file_.string()), std::string::npos) << msg;
  }
  // The metrics (what reports read) have their own checksum; `correct` is not in them.
  EXPECT_NO_THROW(open_results_reader(file_)->read_metrics(bad));
  auto snap = read_results_guarded(file_, ReadDepth::Everything);
  ASSERT_EQ(snap->damaged.size(), 1u);
  EXPECT_EQ(snap->damaged[0].name, bad);
  EXPECT_EQ(snap->cells().size(), 2u);  // the good ones are all there
  EXPECT_THROW(snap->read_cell(bad), ep::Error);
}

TEST_F(ResultsGuard, ChangedMetricsFailTheMetricsChecksum) {
  const std::string bad = sample_cell(2).name;
  const hid_t f = H5Fopen(file_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  const hid_t g = H5Gopen2(f, ("cells/" + bad + "/base/test").c_str(), H5P_DEFAULT);
  const hid_t a = H5Aopen(g, "accuracy", H5P_DEFAULT);
  const double changed = 0.999;
  ASSERT_GE(H5Awrite(a, H5T_NATIVE_DOUBLE, &changed), 0);
  H5Aclose(a);
  H5Gclose(g);
  H5Fclose(f);
  auto snap = read_results_guarded(file_, ReadDepth::Metrics);
  ASSERT_EQ(snap->damaged.size(), 1u);
  EXPECT_NE(snap->damaged[0].why.find("checksum"), std::string::npos) << snap->damaged[0].why;
}

TEST_F(ResultsGuard, ACrashingCellCostsOnlyThatCell) {
  const std::string bad = sample_cell(1).name;
  ::setenv("EPRUNNER_TEST_READ_FAULT", ("crash:" + bad).c_str(), 1);
  auto snap = read_results_guarded(file_, ReadDepth::Everything);
  ASSERT_EQ(snap->damaged.size(), 1u);
  EXPECT_EQ(snap->damaged[0].name, bad);
  // A signal; under ASan its handler turns the SIGSEGV into an exit status.
  const std::string& why = snap->damaged[0].why;
  EXPECT_TRUE(why.find("crashed libhdf5 (signal 11") != std::string::npos ||
              why.find("ended unexpectedly (status 1)") != std::string::npos) << why;
  ASSERT_EQ(snap->cells().size(), 2u);
  EXPECT_EQ(cell_difference(snap->read_cell(sample_cell(2).name), sample_cell(2)), "");
}

TEST_F(ResultsGuard, AHangingCellIsCutOffByTheTimeLimit) {
  const std::string bad = sample_cell(0).name;
  ::setenv("EPRUNNER_TEST_READ_FAULT", ("hang:" + bad).c_str(), 1);
  GuardOptions o;
  o.seconds_per_cell = 1;
  const auto t0 = std::chrono::steady_clock::now();
  auto snap = read_results_guarded(file_, ReadDepth::Metrics, o);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10);
  ASSERT_EQ(snap->damaged.size(), 1u);
  EXPECT_EQ(snap->damaged[0].name, bad);
  EXPECT_NE(snap->damaged[0].why.find("took over 1 s"), std::string::npos) << snap->damaged[0].why;
  EXPECT_EQ(snap->cells().size(), 2u);
}

TEST_F(ResultsGuard, NotAResultsFileIsOneClearError) {
  std::ofstream(dir_ / "text.h5") << "not hdf5 at all";
  try {
    read_results_guarded(dir_ / "text.h5", ReadDepth::Summaries);
    FAIL();
  } catch (const ep::Error& e) {
    EXPECT_NE(std::string(e.what()).find("text.h5"), std::string::npos) << e.what();
  }
}

// 120 copies of the file, each with 1-8 random bytes changed: reading each ends in
// a snapshot (damage listed) or one ep::Error naming the file; never a crash, hang
// or other exception in this process.
TEST_F(ResultsGuard, ByteFlippedFilesNeverTakeTheReaderDown) {
  std::ifstream in(file_, std::ios::binary);
  const std::vector<char> good((std::istreambuf_iterator<char>(in)), {});
  std::mt19937 rng(7);
  int whole_file_errors = 0, damaged_cells = 0, clean = 0;
  GuardOptions o;
  o.seconds_per_cell = 5;
  for (int trial = 0; trial < 120; ++trial) {
    std::vector<char> bytes = good;
    const int flips = std::uniform_int_distribution<int>(1, 8)(rng);
    for (int k = 0; k < flips; ++k)
      bytes[std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng)] ^=
          static_cast<char>(1 << std::uniform_int_distribution<int>(0, 7)(rng));
    const fs::path copy = dir_ / ("flipped" + std::to_string(trial) + ".h5");
    std::ofstream(copy, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    try {
      auto snap = read_results_guarded(copy, ReadDepth::Everything, o);
      damaged_cells += static_cast<int>(snap->damaged.size());
      clean += snap->damaged.empty();
      for (const auto& c : snap->cells()) (void)snap->read_cell(c.name);  // what is listed reads
    } catch (const ep::Error& e) {
      ++whole_file_errors;
      EXPECT_NE(std::string(e.what()).find(copy.string()), std::string::npos) << e.what();
    }
    fs::remove(copy);
  }
  std::printf("120 flipped files: %d unreadable as a whole, %d damaged cells listed, %d read clean\n",
              whole_file_errors, damaged_cells, clean);
}
