// Crash safety of the results file: a child process writes cells in a loop and is
// killed with SIGKILL at a random moment; the file must then open, and hold every
// cell the child had finished (it reports each one through a pipe) and nothing
// half-written. Repeated with different kill times.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "runner/results_file.h"
#include "sample_cells.h"

namespace fs = std::filesystem;
using namespace ep::runner;
using ep::runner::samples::cell_difference;
using ep::runner::samples::sample_cell;
using ep::runner::samples::sample_provenance;

namespace {

constexpr int kCellsPerChild = 200;

// The child: open the file and write cells until killed; one byte down the pipe
// after each write_cell returns. Never returns to GoogleTest.
[[noreturn]] void write_until_killed(const fs::path& file, int first_cell, int pipe_fd) {
  try {
    auto w = open_results_h5(file, sample_provenance(), false);
    for (int i = first_cell; i < first_cell + kCellsPerChild; ++i) {
      w->write_cell(sample_cell(i, /*big=*/true));
      char one = 1;
      if (::write(pipe_fd, &one, 1) != 1) ::_exit(3);
    }
  } catch (...) {
    ::_exit(2);
  }
  ::_exit(0);
}

int count_bytes(int fd) {
  int n = 0;
  char buf[256];
  ssize_t got;
  while ((got = ::read(fd, buf, sizeof(buf))) > 0) n += static_cast<int>(got);
  return n;
}

}  // namespace

TEST(ResultsCrash, KilledWriterLosesNoFinishedCell) {
  const fs::path dir = fs::temp_directory_path() / ("ep_results_crash_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path file = dir / "results.h5";
  std::mt19937 rng(20240521);
  int finished_before = 0;  // cells finished by earlier children (the file keeps them)

  for (int round = 0; round < 6; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      write_until_killed(file, round * kCellsPerChild, fds[1]);
    }
    ::close(fds[1]);
    // Kill times spread over the first few writes, including during opening.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(5, 400)(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the writer ended on its own (status " << status
                                     << "): it failed, or finished before the kill";
    const int finished_now = count_bytes(fds[0]);
    ::close(fds[0]);

    const int want = finished_before + finished_now;
    if (want == 0 && !fs::exists(file)) continue;  // killed before the file was first published
    auto reader = open_results_reader(file);
    auto cells = reader->cells();
    // Every finished cell is there; at most one more (written, renamed, killed
    // before the pipe byte) may be.
    ASSERT_GE(static_cast<int>(cells.size()), want) << "round " << round;
    ASSERT_LE(static_cast<int>(cells.size()), want + 1) << "round " << round;
    for (const auto& c : cells) {
      ASSERT_EQ(c.status, CellStatus::Done);
      EXPECT_EQ(cell_difference(reader->read_cell(c.name), sample_cell(c.index, true)), "") << c.name;
    }
    std::printf("round %d: killed after %d finished cells; the file lists %zu\n", round, want, cells.size());
    finished_before = static_cast<int>(cells.size());
  }
  EXPECT_GT(finished_before, 0) << "no round finished a cell: the kill times are too short to test anything";
  fs::remove_all(dir);
}
