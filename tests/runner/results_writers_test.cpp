// One writer per results file, private temporaries, the journal: a second writer is
// refused with the holder's name, a killed writer's lock does not block a rerun, a
// killed writer's journal is read and folded, and a cell costs the same to write
// in a big file as in a small one.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <hdf5.h>

#include "core/util/error.h"
#include "core/util/host.h"
#include "runner/results_file.h"
#include "runner/results_journal.h"
#include "runner/results_lock.h"
#include "sample_cells.h"

namespace fs = std::filesystem;
using namespace ep::runner;
using ep::runner::samples::cell_difference;
using ep::runner::samples::sample_cell;
using ep::runner::samples::sample_provenance;

namespace {

class ResultsWriters : public ep::runner::samples::FolderPerTest {
 protected:
  void SetUp() override {
    FolderPerTest::SetUp();
    file_ = dir_ / "results.h5";
  }

  // A child that opens a writer on file_, writes `cells` cells, reports on the pipe
  // and then waits to be killed.
  pid_t writer_child(int cells, int* ready_fd) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      try {
        auto w = open_results_h5(file_, sample_provenance(), false);
        for (int i = 0; i < cells; ++i) w->write_cell(sample_cell(i));
        char one = 1;
        if (::write(fds[1], &one, 1) != 1) ::_exit(3);
        for (;;) ::pause();
      } catch (...) {
        ::_exit(2);
      }
    }
    ::close(fds[1]);
    *ready_fd = fds[0];
    return pid;
  }

  fs::path file_;
};

bool wait_ready(int fd) {
  char c = 0;
  const bool ok = ::read(fd, &c, 1) == 1;
  ::close(fd);
  return ok;
}

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

}  // namespace

TEST_F(ResultsWriters, SecondWriterIsRefusedNamingTheFirst) {
  int ready = -1;
  const pid_t first = writer_child(1, &ready);
  ASSERT_TRUE(wait_ready(ready)) << "the first writer failed";
  try {
    open_results_h5(file_, sample_provenance(), false);
    kill_and_reap(first);
    FAIL() << "a second writer opened a file another process is writing";
  } catch (const ep::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("being written by another eprunner"), std::string::npos) << msg;
    EXPECT_NE(msg.find("pid " + std::to_string(first)), std::string::npos) << msg;
    EXPECT_NE(msg.find("host " + ep::hostname()), std::string::npos) << msg;
    EXPECT_NE(msg.find("since 20"), std::string::npos) << msg;
  }
  kill_and_reap(first);
  // The lock died with its process (kill -9): a rerun opens the file and keeps the
  // cell the killed writer finished (it is in the journal it left).
  auto w = open_results_h5(file_, sample_provenance(), false);
  w->write_cell(sample_cell(1));
  w->finish("2026-01-01T00:00:00Z");
  auto r = open_results_reader(file_);
  ASSERT_EQ(r->cells().size(), 2u);
  EXPECT_EQ(cell_difference(r->read_cell(sample_cell(0).name), sample_cell(0)), "");
  EXPECT_FALSE(fs::exists(journal_folder(file_)));
}

TEST_F(ResultsWriters, TwoWritersInOneProcessAreRefusedToo) {
  auto w = open_results_h5(file_, sample_provenance(), false);
  EXPECT_THROW(open_results_h5(file_, sample_provenance(), false), ep::Error);
}

TEST_F(ResultsWriters, KilledWritersJournalIsReadAndFolded) {
  int ready = -1;
  const pid_t pid = writer_child(5, &ready);
  ASSERT_TRUE(wait_ready(ready));
  kill_and_reap(pid);
  ASSERT_TRUE(fs::is_directory(journal_folder(file_))) << "5 cells should still be in the journal";
  {  // the reader sees the journal's cells
    auto r = open_results_reader(file_);
    ASSERT_EQ(r->cells().size(), 5u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(cell_difference(r->read_cell(sample_cell(i).name), sample_cell(i)), "");
    EXPECT_EQ(r->runs().size(), 1u);
  }
  // The next writer folds it into the file.
  open_results_h5(file_, sample_provenance(), false)->finish("2026-01-01T00:00:00Z");
  EXPECT_FALSE(fs::exists(journal_folder(file_)));
  auto r = open_results_reader(file_);
  EXPECT_EQ(r->cells().size(), 5u);
  EXPECT_EQ(r->runs().size(), 2u);
}

TEST_F(ResultsWriters, DeadWritersTemporariesAreRemoved) {
  open_results_h5(file_, sample_provenance(), false)->write_cell(sample_cell(0));
  const fs::path old_style = dir_ / "results.h5.tmp";
  const fs::path other_host = dir_ / "results.h5.tmp.node7.12345";
  const fs::path unrelated = dir_ / "results.h5.tmpfile-of-the-user";
  const fs::path not_ours = dir_ / "other.h5.tmp.node7.1";
  for (const auto& p : {old_style, other_host, unrelated, not_ours}) std::ofstream(p) << "half a file";
  open_results_h5(file_, sample_provenance(), false)->write_cell(sample_cell(1));
  EXPECT_FALSE(fs::exists(old_style));
  EXPECT_FALSE(fs::exists(other_host));
  EXPECT_TRUE(fs::exists(not_ours));
  EXPECT_EQ(open_results_reader(file_)->cells().size(), 2u);
}

TEST_F(ResultsWriters, JournalWithoutItsFileIsRefused) {
  {
    auto w = open_results_h5(file_, sample_provenance(), false);
    w->write_cell(sample_cell(0));
    // Simulate a crash mid-run: the journal stays; then the user deletes the file.
    fs::copy(journal_folder(file_), dir_ / "saved.journal", fs::copy_options::recursive);
  }
  fs::remove(file_);
  fs::rename(dir_ / "saved.journal", journal_folder(file_));
  try {
    open_results_h5(file_, sample_provenance(), false);
    FAIL() << "opened";
  } catch (const ep::Error& e) {
    EXPECT_NE(std::string(e.what()).find("has a journal"), std::string::npos) << e.what();
  }
}

// A reader during a run sees every finished cell, whether it is still in the
// journal or already folded; the file alone holds them all once the run ends.
TEST_F(ResultsWriters, ReadersSeeJournalAndFoldedCellsAlike) {
  auto w = open_results_h5(file_, sample_provenance(), false);
  for (int i = 0; i < 40; ++i) {  // several folds happen on the way (16 entries at least each)
    w->write_cell(sample_cell(i));
    auto r = open_results_reader(file_);
    ASSERT_EQ(r->cells().size(), static_cast<size_t>(i + 1)) << "after cell " << i;
    EXPECT_EQ(cell_difference(r->read_cell(sample_cell(i).name), sample_cell(i)), "");
  }
  w->finish("2026-01-01T00:00:00Z");
  EXPECT_FALSE(fs::exists(journal_folder(file_)));
  auto r = open_results_reader(file_);
  EXPECT_EQ(r->cells().size(), 40u);
  EXPECT_EQ(r->provenance().ended_at, "2026-01-01T00:00:00Z");
}

// A writer dropped without finish() (an error stopped the run) folds what it wrote.
TEST_F(ResultsWriters, DroppedWriterFoldsItsJournal) {
  {
    auto w = open_results_h5(file_, sample_provenance(), false);
    w->write_cell(sample_cell(0));
  }
  EXPECT_FALSE(fs::exists(journal_folder(file_)));
  EXPECT_EQ(open_results_reader(file_)->cells().size(), 1u);
}

// The cost of a cell must not grow with the cells already in the file (it did when
// every cell copied the whole file: a grid's writing cost grew with the square of
// its cells). Average seconds per cell, finish() included, for 40 and for 400
// cells: equal up to noise, where copying would make the second ~10x the first.
TEST_F(ResultsWriters, WritingACellCostsTheSameInABigFile) {
  using clock = std::chrono::steady_clock;
  const CellResult cell = sample_cell(7, /*big=*/true);
  auto per_cell = [&](int n) {
    const fs::path file = dir_ / ("cells" + std::to_string(n) + ".h5");
    const auto t0 = clock::now();
    auto w = open_results_h5(file, sample_provenance(), false);
    for (int i = 0; i < n; ++i) {
      CellResult c = cell;
      c.name = "m__t" + std::to_string(i);
      c.index = i;
      w->write_cell(c);
    }
    w->finish("2026-01-01T00:00:00Z");
    w.reset();
    const double s = std::chrono::duration<double>(clock::now() - t0).count() / n;
    EXPECT_EQ(open_results_reader(file)->cells().size(), static_cast<size_t>(n));
    EXPECT_EQ(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0) << "HDF5 objects left open";
    return s;
  };
  const double small = per_cell(40), big = per_cell(400);
  std::printf("seconds per cell: %.4f with 40 cells, %.4f with 400\n", small, big);
  EXPECT_LT(big, 2.5 * small);
}

// A full disk: the write that does not fit is one clear error naming the folder, the
// file stays readable with every cell written before, no temporary is left, and
// libhdf5 is never in the way (no crash at exit). Needs a small tmpfs (root); skipped
// where mounting is not permitted.
TEST_F(ResultsWriters, FullDiskIsOneClearErrorAndLosesNothing) {
  const fs::path mnt = dir_ / "small";
  fs::create_directories(mnt);
  const std::string mount = "mount -t tmpfs -o size=2m tmpfs " + mnt.string() + " 2>/dev/null";
  if (std::system(mount.c_str()) != 0) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  struct Unmount {
    fs::path at;
    ~Unmount() { (void)std::system(("umount " + at.string()).c_str()); }
  } unmount{mnt};
  const fs::path file = mnt / "results.h5";
  int written = 0;
  std::string error;
  {
    auto w = open_results_h5(file, sample_provenance(), false);
    try {
      for (; written < 1000; ++written) w->write_cell(sample_cell(written, /*big=*/true));
    } catch (const ep::Error& e) {
      error = e.what();
    }
  }  // the writer's fold at destruction may fail too: it only warns
  ASSERT_FALSE(error.empty()) << "2 MB held 1000 big cells?";
  EXPECT_NE(error.find("no space left on the device holding '" + mnt.string()), std::string::npos) << error;
  EXPECT_NE(error.find("hold every cell finished before; free space and rerun"), std::string::npos) << error;
  auto r = open_results_reader(file);
  ASSERT_EQ(r->cells().size(), static_cast<size_t>(written)) << error;
  for (const auto& c : r->cells()) EXPECT_EQ(cell_difference(r->read_cell(c.name), sample_cell(c.index, true)), "");
  for (const auto& e : fs::recursive_directory_iterator(mnt))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << "left behind: " << e.path();
  std::printf("full after %d cells: %s\n", written, error.c_str());
}
