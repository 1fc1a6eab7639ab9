// Reading a results file this process did not just write (a report, a merge, a
// resumed run): libhdf5 can crash, hang or allocate without bound on a damaged
// file, and no exception reaches us from a SIGSEGV inside it. So the reading runs
// in a child process with a time limit per cell; what it read comes back through
// a pipe in the cell codec (runner/cell_codec.h). A cell whose reading crashes,
// hangs, fails or fails its checksum is listed as damaged, with why, and the
// reading goes on with the next cell in a fresh child: one bad cell does not hide
// the good ones.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "runner/results_file.h"

namespace ep::runner {

// How much of each cell comes back.
enum class ReadDepth {
  Summaries,  // identity and status (CellSummary) only
  Metrics,    // plus each split's metrics and the timings (ResultsReader::read_metrics);
              // cells with comparisons ([controls], [laser]) whole, for the report's
              // paired tests of the methods (McNemar needs the per-example results)
  Everything  // every stored array (ResultsReader::read_cell)
};

struct GuardOptions {
  // Seconds one cell may take to read before its child is killed; 0 = the default
  // (EPRUNNER_READ_TIMEOUT, else 120).
  double seconds_per_cell = 0;
  // Only these cells are read at `depth` (the rest as summaries); empty = all.
  std::set<std::string> only;
  // Read at `depth` (so every checksum is verified) but keep only the summaries: a
  // resumed run's check of its own file.
  bool check_only = false;
};

struct DamagedCell {
  std::string name;  // "" when the damage is in the file's list of cells itself
  std::string why;   // e.g. "reading it crashed libhdf5 (SIGSEGV)", "checksum mismatch: ..."
};

// Everything read, held in memory; also a ResultsReader (read_cell of a damaged or
// unread cell throws, naming the file, the cell and why).
class ResultsSnapshot : public ResultsReader {
 public:
  std::filesystem::path file;
  ReadDepth depth = ReadDepth::Summaries;
  Provenance root;
  std::map<int64_t, Provenance> run_list;
  std::vector<CellSummary> listed;         // readable cells, in index order
  std::map<std::string, CellResult> data;  // by name, at `depth` (Metrics/Everything)
  std::vector<DamagedCell> damaged;

  Provenance provenance() const override { return root; }
  Provenance run_provenance(int64_t k) const override;
  std::map<int64_t, Provenance> runs() const override { return run_list; }
  std::vector<std::string> cell_names() const override;
  CellSummary summary(const std::string& name) const override;
  std::vector<CellSummary> cells() const override { return listed; }
  CellResult read_cell(const std::string& name) const override;
  CellResult read_metrics(const std::string& name) const override;
};

// "cell a: why; cell b: why" (the first few, and how many more), for messages.
std::string describe_damage(const ResultsSnapshot& snapshot, size_t at_most = 5);

// How the reading child starts. By default it is a fork() of this process. An MPI
// rank must not fork (an RDMA network's registered memory does not survive it):
// `eprunner run` names its own executable here, and the child is a fresh
// `eprunner __read-results ...` (posix_spawn) that runs guarded_reader_main.
void set_guarded_reader_executable(const std::string& path);
inline constexpr const char* kGuardedReaderCommand = "__read-results";
// The spawned child's main: argv = {exe, "__read-results", file, depth, first,
// check_only, only...}; it writes its frames to file descriptor 3.
int guarded_reader_main(int argc, char** argv);

// Reads `file` in child processes. Throws ep::Error naming the file when the file as
// a whole cannot be read (missing, not a results file, its root or cell list
// damaged); damaged cells are listed in the snapshot instead.
std::unique_ptr<ResultsSnapshot> read_results_guarded(const std::filesystem::path& file, ReadDepth depth,
                                                      const GuardOptions& options = {});

}  // namespace ep::runner
