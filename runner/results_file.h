// What a run keeps, as plain data, and the interfaces that store and read it.
//
// The cell executor fills a CellResult with std::vectors and shapes; only the
// writer knows the file format (results_h5.cpp: HDF5, docs/results-format.md).
// Nothing here needs LibTorch or HDF5 headers.
//
// Dimensions: n examples of a split; L layers; B blocks per matrix (heads, or 1 at
// "matrix" granularity or for MLP matrices); R components per block; P positions
// (aligned to the END of the sequence: row P-1 is the last token); I a matrix's
// input features.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/util/name_table.h"

namespace ep::runner {

// Whether a cell's result is there: "done" (computed), "error" (its message in `error`).
enum class CellStatus { Done, Error };
inline constexpr Named<CellStatus> kCellStatusNames[] = {{CellStatus::Done, "done"}, {CellStatus::Error, "error"}};
constexpr const auto& names(CellStatus) { return kCellStatusNames; }

// A dense row-major array: data.size() == product(shape). Empty = not recorded.
template <class T>
struct Array {
  std::vector<int64_t> shape;
  std::vector<T> data;
  bool empty() const { return data.empty() && shape.empty(); }
  bool operator==(const Array& o) const { return shape == o.shape && data == o.data; }
};

// One model state on one split.
struct SplitResult {
  std::string metric;  // "full-vocab" or "choices" (the grid's task.metric)
  double accuracy = std::numeric_limits<double>::quiet_NaN();  // fraction in [0, 1]
  double macro_f1 = std::numeric_limits<double>::quiet_NaN();  // classification tasks (CB): lm-evaluation-harness's macro F1; NaN otherwise
  double loss = std::numeric_limits<double>::quiet_NaN();      // mean last-token cross-entropy
  int64_t n = 0;
  std::vector<int64_t> predicted;  // [n] predicted token id (full-vocab) or choice index (choices)
  std::vector<uint8_t> correct;    // [n] 1 = right
};

struct Evaluation {
  SplitResult test;
  SplitResult validation;  // n = 0 when the task has no validation split
};

// The model after freezing the lowest-scored fraction p of all components.
struct PrunedResult {
  double p = 0;
  int64_t n_frozen = 0;  // int(N * p) of N components in all
  Evaluation eval;
  // One per grid matrix, in grid order: uint8 [L, B, R], 1 = frozen.
  std::map<std::string, Array<uint8_t>> masks;
};

// A comparison evaluated in the same cell (core/prune/methods.h, docs/methods.md):
//   "highest": the int(N·p) highest-scoring components frozen (bias as the grid's);
//   "random":  int(N·p) components chosen uniformly with `seed`, frozen likewise;
//   "laser":   matrix `matrix` at `layers` replaced by its rank-k approximation,
//              k = max(1, int(ρ·rank)), ρ = `fraction`; no bias.
struct MethodResult {
  std::string method;           // "highest", "random" or "laser"
  double fraction = 0;          // p (highest, random) or ρ (laser)
  int64_t seed = 0;             // random: the seed of the draw; 0 otherwise
  std::string matrix;           // laser: the matrix kind; "" for the controls (the grid's matrices)
  std::vector<int64_t> layers;  // laser: the layers reduced together
  int64_t n_removed = 0;        // components frozen or dropped
  Evaluation eval;
  // The controls: one per grid matrix, as PrunedResult::masks. LASER: none (its choice
  // is the top k of each block of `layers`).
  std::map<std::string, Array<uint8_t>> masks;
  // "laser mlp_in.5 rho=0.1", "random seed=2 p=0.05", "highest p=0.05"
  std::string label() const;
};

// What scoring found for one matrix kind ("k", "mlp_in", ...).
struct MatrixScores {
  Array<float> delta_loss;       // [L, B, R] ΔL_i: max over pairs (and positions, per the grid)
  Array<float> singular_values;  // [L, B, R] s_i, descending inside a block
  Array<float> activation_mean;  // [L, P, I] mean input x per position (x̄ of the freeze)
  Array<int64_t> position_count; // [P] how many examples reached each position
};

struct CellResult {
  int index = 0;
  std::string name;         // "<model>__<task>"
  std::string model;
  std::string task;
  std::string fingerprint;  // runner/schedule.h cell_fingerprint
  CellStatus status = CellStatus::Done;
  std::string error;  // the message when status == Error
  std::string ran_on;           // e.g. "group 1: ranks 2-3, cpu"

  // The examples of each split, in the order of `predicted`/`correct`: the example's
  // position in its split (the executor fills 0..n-1; the split itself is fixed by
  // the task's seed) and its answer (token id or choice index, as `predicted`).
  std::vector<int64_t> test_ids, test_targets;
  std::vector<int64_t> validation_ids, validation_targets;

  Evaluation base;                     // before pruning (after fine-tuning, if any)
  std::vector<PrunedResult> pruned;    // one per grid p, ascending
  std::map<std::string, MatrixScores> scores;  // by matrix name
  std::vector<float> finetune_loss;    // mean train loss per logged step (empty: no fine-tuning)
  std::vector<MethodResult> methods;   // the grid's [controls] and [laser], in that order (empty: none)

  std::map<std::string, double> timings;  // seconds per stage: "load", "finetune", "score", "evaluate", "total"
  int64_t examples = 0;  // examples processed in all (forward passes), for throughput
};

// The run as a whole, stored as the file's root attributes.
struct Provenance {
  std::string grid_text;
  std::string grid_path;
  std::string eprunner_version;
  std::string git_commit;
  std::string command_line;
  int world_size = 1;
  std::string devices;        // e.g. "cpu x 2 ranks" or "cuda: NVIDIA H100 x 8"
  std::string hosts;
  std::string torch_version;
  std::string mpi_version;
  std::string hdf5_version;   // filled by the HDF5 writer
  std::string started_at;     // ISO 8601 UTC, this run
  std::string ended_at;       // set by finish(); "" while running or after a crash
};

// One writer per run, on world rank 0. write_cell is durable when it returns: a
// crash or kill at any later (or earlier) moment leaves a readable file holding
// this cell and every cell written before it.
class ResultsWriter {
 public:
  virtual ~ResultsWriter() = default;
  virtual void write_cell(const CellResult& cell) = 0;
  // Starts another run in the same file (`eprunner merge`: one run per source run, so
  // each copied cell keeps pointing at the run that computed it); cells written
  // after it belong to it. The first run is started by open_results_h5.
  virtual void begin_run(const Provenance& provenance) = 0;
  // The end of the run: its ended_at, and the journal folded into the file.
  virtual void finish(const std::string& ended_at) = 0;
};

// Opens `file` for a run: keeps the cells already in it (they are skipped), or with
// `restart` moves it aside to `<file>.bak` and starts empty. The file exists and is
// readable when this returns. Only one writer at a time: a second one (in any
// process) gets an ep::Error naming the first (results_lock.h).
std::unique_ptr<ResultsWriter> open_results_h5(const std::filesystem::path& file, const Provenance& provenance,
                                               bool restart);

// A cell as listed by the reader, without its arrays.
struct CellSummary {
  int index = 0;
  std::string name, model, task, fingerprint;
  CellStatus status = CellStatus::Done;
  std::string error;
  int64_t run = 0;  // the run (/runs/<k>) that computed it; 0 in files without runs
  bool has_results = true;  // its base evaluation is there (a "done" cell without it is recomputed)
};

class ResultsReader {
 public:
  virtual ~ResultsReader() = default;
  virtual Provenance provenance() const = 0;
  // The provenance of run k, the one that computed a cell (CellSummary::run): /runs/<k>,
  // or the file's own (root) provenance where the file has no such run.
  virtual Provenance run_provenance(int64_t k) const = 0;
  virtual std::map<int64_t, Provenance> runs() const = 0;   // every run recorded, by k
  virtual std::vector<std::string> cell_names() const = 0;  // listed cells, by name (nothing read)
  virtual CellSummary summary(const std::string& name) const = 0;
  virtual std::vector<CellSummary> cells() const = 0;       // in index order
  virtual CellResult read_cell(const std::string& name) const = 0;  // everything stored
  // Only the identity, status, timings and each split's metrics (no per-example
  // arrays, masks or scores): what reports need, cheap for big files.
  virtual CellResult read_metrics(const std::string& name) const = 0;
  // name -> fingerprint of every cell whose status is "done" and whose results are
  // there (base evaluation present): what a rerun skips.
  std::map<std::string, std::string> finished() const;
};

// Opens a results file (and its journal) read-only, in this process; an error names
// the file and what is wrong. For a file this process did not just write, prefer
// read_results_guarded (results_guard.h): libhdf5 can crash on a damaged file.
std::unique_ptr<ResultsReader> open_results_reader(const std::filesystem::path& file);

// The current time as ISO 8601 UTC ("2026-11-27T13:05:00Z").
std::string utc_now();

}  // namespace ep::runner
