// The HDF5 results writer (layout: docs/results-format.md).
//
// Three guarantees, each from one piece:
//   - crash safety: the published file is never changed in place. Every change is
//     built in memory and published whole (durable_file.h: private temporary,
//     fsync, rename), so at every instant `<file>` and each journal entry is either
//     absent or complete; a kill at any moment loses nothing already written.
//   - constant cost per cell: a finished cell is published as a journal entry of its
//     own size, and the journal is folded into `<file>` only when it has grown as
//     large as the file (results_journal.h); each byte is copied O(1) times.
//   - one writer: ResultsLock (results_lock.h), held from open to destruction.
// libhdf5 itself never writes to disk (in-memory files, h5_util.h), so a full disk
// is one clear error from write(2), not a crash inside the library.
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "core/util/error.h"
#include "runner/cell_codec.h"
#include "runner/durable_file.h"
#include "runner/h5_util.h"
#include "runner/results_file.h"
#include "runner/results_journal.h"
#include "runner/results_lock.h"

namespace ep::runner {

namespace {

namespace fs = std::filesystem;

void write_split(hid_t parent, const std::string& name, const SplitResult& s) {
  h5::Handle g = h5::create_group(parent, name);
  h5::write_attr(g, "metric", s.metric);
  h5::write_attr(g, "accuracy", s.accuracy);
  h5::write_attr(g, "loss", s.loss);
  h5::write_attr(g, "macro_f1", s.macro_f1);
  h5::write_attr(g, "n", s.n);
  h5::write_vector(g, "predicted", s.predicted);
  h5::write_vector(g, "correct", s.correct);
}

void write_evaluation(hid_t parent, const std::string& name, const Evaluation& e) {
  h5::Handle g = h5::create_group(parent, name);
  write_split(g, "test", e.test);
  write_split(g, "validation", e.validation);
}

void write_pruned(hid_t parent, size_t i, const PrunedResult& r) {
  h5::Handle g = h5::create_group(parent, std::to_string(i));
  h5::write_attr(g, "p", r.p);
  h5::write_attr(g, "n_frozen", r.n_frozen);
  write_split(g, "test", r.eval.test);
  write_split(g, "validation", r.eval.validation);
  h5::Handle masks = h5::create_group(g, "masks");
  for (const auto& [matrix, mask] : r.masks) h5::write_array(masks, matrix, mask);
}

void write_method(hid_t parent, size_t i, const MethodResult& m) {
  h5::Handle g = h5::create_group(parent, std::to_string(i));
  h5::write_attr(g, "method", m.method);
  h5::write_attr(g, "fraction", m.fraction);
  h5::write_attr(g, "seed", m.seed);
  h5::write_attr(g, "matrix", m.matrix);
  h5::write_attr(g, "n_removed", m.n_removed);
  h5::write_attr(g, "label", m.label());  // for people browsing the file (h5ls, HDFView)
  h5::write_vector(g, "layers", m.layers);
  write_split(g, "test", m.eval.test);
  write_split(g, "validation", m.eval.validation);
  if (m.masks.empty()) return;
  h5::Handle masks = h5::create_group(g, "masks");
  for (const auto& [matrix, mask] : m.masks) h5::write_array(masks, matrix, mask);
}

void write_scores(hid_t parent, const std::map<std::string, MatrixScores>& scores) {
  h5::Handle g = h5::create_group(parent, "scores");
  for (const auto& [matrix, s] : scores) {
    h5::Handle m = h5::create_group(g, matrix);
    h5::write_array(m, "delta_loss", s.delta_loss);
    h5::write_array(m, "singular_values", s.singular_values);
    h5::write_array(m, "activation_mean", s.activation_mean);
    h5::write_array(m, "position_count", s.position_count);
  }
}

void write_cell_group(hid_t cells, const CellResult& c, int64_t run) {
  // A cell written again (an earlier error, or --restart) replaces the old group.
  if (h5::exists(cells, c.name)) h5::remove(cells, c.name);
  h5::Handle g = h5::create_group(cells, c.name);
  h5::write_attr(g, "index", static_cast<int64_t>(c.index));
  h5::write_attr(g, "name", c.name);
  h5::write_attr(g, "model", c.model);
  h5::write_attr(g, "task", c.task);
  h5::write_attr(g, "fingerprint", c.fingerprint);
  h5::write_attr(g, "error", c.error);
  h5::write_attr(g, "ran_on", c.ran_on);
  h5::write_attr(g, "run", run);
  h5::write_attr(g, "examples", c.examples);
  h5::write_attr(g, "written_at", utc_now());

  h5::Handle ex = h5::create_group(g, "examples");
  h5::write_vector(ex, "test_ids", c.test_ids);
  h5::write_vector(ex, "test_targets", c.test_targets);
  h5::write_vector(ex, "validation_ids", c.validation_ids);
  h5::write_vector(ex, "validation_targets", c.validation_targets);

  write_evaluation(g, "base", c.base);
  std::vector<double> ps;
  h5::Handle pruned = h5::create_group(g, "pruned");
  for (size_t i = 0; i < c.pruned.size(); ++i) {
    write_pruned(pruned, i, c.pruned[i]);
    ps.push_back(c.pruned[i].p);
  }
  h5::write_vector(g, "p", ps);
  write_scores(g, c.scores);
  h5::write_vector(g, "finetune_loss", c.finetune_loss);
  if (!c.methods.empty()) {
    h5::Handle methods = h5::create_group(g, "methods");
    for (size_t i = 0; i < c.methods.size(); ++i) write_method(methods, i, c.methods[i]);
  }

  h5::Handle timings = h5::create_group(g, "timings");
  for (const auto& [stage, seconds] : c.timings) h5::write_attr(timings, stage, seconds);
  // Last, so a reader that sees `status` sees a whole cell (belt and braces: the
  // rename already guarantees it).
  h5::write_attr(g, "status", std::string(name_of(c.status)));
  // Checksums of the cell as a reader will see it (read back from the in-memory
  // file): what a damaged file fails (results_h5_reader.cpp).
  h5::write_attr(g, h5::kChecksumAttr, cell_checksum(h5::read_cell_group(g, true)));
  h5::write_attr(g, h5::kMetricsChecksumAttr, cell_checksum(h5::read_cell_group(g, false)));
}

}  // namespace

std::string MethodResult::label() const {
  if (method == "laser")
    return fmt::format("laser {}.{} rho={}", matrix, fmt::join(layers, "+"), fraction);
  if (method == "random") return fmt::format("random seed={} p={}", seed, fraction);
  return fmt::format("{} p={}", method, fraction);
}

void h5::write_provenance(hid_t obj, const Provenance& p) {
  h5::write_attr(obj, "grid", p.grid_text);
  h5::write_attr(obj, "grid_path", p.grid_path);
  h5::write_attr(obj, "eprunner_version", p.eprunner_version);
  h5::write_attr(obj, "git_commit", p.git_commit);
  h5::write_attr(obj, "command_line", p.command_line);
  h5::write_attr(obj, "world_size", static_cast<int64_t>(p.world_size));
  h5::write_attr(obj, "devices", p.devices);
  h5::write_attr(obj, "hosts", p.hosts);
  h5::write_attr(obj, "torch_version", p.torch_version);
  h5::write_attr(obj, "mpi_version", p.mpi_version);
  h5::write_attr(obj, "hdf5_version", p.hdf5_version);
  h5::write_attr(obj, "started_at", p.started_at);
  h5::write_attr(obj, "ended_at", p.ended_at);
}

namespace {

std::string hdf5_version() {
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  return fmt::format("{}.{}.{}", maj, min, rel);
}

// --restart: the old results go to <file>.bak (or .bak.1, .bak.2, ...: an earlier
// backup is never overwritten), and only when the file is an eprunner results file
// (an `output` naming the grid itself must not make the grid a backup).
void move_aside(const fs::path& file) {
  try {
    open_results_reader(file);
  } catch (const std::exception& e) {
    EP_FAIL("--restart: '{}' is not an eprunner results file, so it is left alone ({}); give the grid another output",
            file.string(), e.what());
  }
  fs::path backup = file.string() + ".bak";
  for (int k = 1; fs::exists(backup); ++k) backup = file.string() + ".bak." + std::to_string(k);
  fs::rename(file, backup);
}

// Temporaries of writers that died (this one holds the lock: no live writer owns
// any): <file>.tmp*, and in the journal <seq>.h5.tmp*.
void remove_dead_temporaries(const fs::path& file) {
  std::error_code ec;
  for (const fs::path& folder : {file.parent_path(), journal_folder(file)}) {
    if (!fs::is_directory(folder, ec)) continue;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      const bool ours = folder == file.parent_path() ? is_temporary_of(p, file)
                                                     : p.filename().string().find(".h5.tmp") != std::string::npos;
      if (ours) fs::remove(p, ec);
    }
  }
}

void write_format(hid_t f, const std::string& created_at) {
  h5::write_attr(f, "format", std::string(h5::kFormat));
  h5::write_attr(f, "format_version", h5::kFormatVersion);
  h5::write_attr(f, "created_at", created_at);
}

// Checks `file` is a results file this writer may add to, before any cell is
// computed (not when the first finished cell cannot be saved).
void check_writable(hid_t f, const fs::path& file) {
  EP_CHECK(h5::read_string_attr(f, "format") == h5::kFormat,
           "'{}' is an HDF5 file but not an eprunner results file; choose another output or remove it", file.string());
  const int64_t version = h5::read_int_attr(f, "format_version");
  EP_CHECK(version <= h5::kFormatVersion,
           "'{}' has results format version {}, newer than this eprunner writes ({}); update eprunner", file.string(),
           version, h5::kFormatVersion);
  EP_CHECK(h5::exists(f, "cells") && h5::exists(f, "runs"),
           "'{}' is an eprunner results file without its /cells or /runs group (damaged); move it aside "
           "(or run with --restart) and rerun", file.string());
}

// Where each group of the folded file comes from: the old file, or the latest
// journal entry that has it.
struct FoldSources {
  std::map<std::string, hid_t> runs, cells;
};

void collect(hid_t file, FoldSources& s) {
  for (const char* kind : {"runs", "cells"}) {
    if (!h5::exists(file, kind)) continue;
    h5::Handle g = h5::open_group(file, kind);
    auto& into = std::string(kind) == "runs" ? s.runs : s.cells;
    for (const auto& name : h5::children(g)) into[name] = file;
  }
}

// The old file and the journal's entries, as one new image: root attributes from
// the latest, every run and cell from where it was last written.
std::vector<uint8_t> fold_image(const fs::path& file, const std::vector<JournalEntry>& entries) {
  h5::Handle old = h5::open_file(file, false);
  check_writable(old, file);
  std::vector<h5::Handle> opened;
  for (const auto& e : entries) opened.push_back(h5::open_file(e.path, false));

  h5::MemoryFile out;
  write_format(out, h5::read_string_attr(old, "created_at"));
  hid_t latest = opened.empty() ? old.get() : opened.back().get();
  h5::write_provenance(out, h5::read_provenance(latest));
  h5::write_attr(out, "updated_at", h5::read_string_attr(latest, "updated_at"));

  FoldSources sources;
  collect(old, sources);
  for (const auto& e : opened) collect(e, sources);
  for (const char* kind : {"runs", "cells"}) {
    h5::Handle g = h5::create_group(out, kind);
    for (const auto& [name, from] : std::string(kind) == "runs" ? sources.runs : sources.cells)
      h5::copy_object(from, std::string(kind) + "/" + name, g, name);
  }
  opened.clear();
  old.reset();
  return out.close_to_image();
}

class H5ResultsWriter : public ResultsWriter {
 public:
  H5ResultsWriter(const fs::path& file, Provenance provenance, bool restart)
      : file_(fs::absolute(file)), prov_(std::move(provenance)) {
    prov_.hdf5_version = hdf5_version();
    if (!file_.parent_path().empty()) fs::create_directories(file_.parent_path());
    lock_.emplace(file_);
    remove_dead_temporaries(file_);
    if (fs::exists(file_)) {
      fold();  // a crashed run's journal first: the file (and a backup of it) is then whole
    } else if (!list_journal(file_).empty()) {
      EP_FAIL("'{}' has a journal ('{}') but no results file: the file was moved or deleted while its journal "
              "stayed; put the file back, or remove the journal folder", file_.string(),
              journal_folder(file_).string());
    }
    if (restart && fs::exists(file_)) move_aside(file_);
    if (!fs::exists(file_)) create_empty();
    folded_bytes_ = fs::file_size(file_);
    {
      h5::Handle f = h5::open_file(file_, false);
      check_writable(f, file_);
      run_ = static_cast<int64_t>(h5::children(h5::open_group(f, "runs")).size());
    }
    record_run();
  }

  // A writer dropped without finish() (an error stopped the run) still folds what it
  // wrote, so the file alone is whole; if that fails too the journal stays, and
  // the next writer folds it.
  ~H5ResultsWriter() override {
    if (journal_count_ == 0) return;
    try {
      fold();
    } catch (const std::exception& e) {
      spdlog::warn("results file '{}': {} (the journal '{}' keeps every finished cell; the next run or "
                   "`eprunner merge {}` folds it in)", file_.string(), e.what(), journal_folder(file_).string(),
                   file_.string());
    }
  }

  void write_cell(const CellResult& cell) override {
    publish_entry("the results of cell " + cell.name, [&](hid_t f) {
      h5::Handle cells = h5::create_group(f, "cells");
      write_cell_group(cells, cell, run_);
    });
    // Geometric folding: copying the file once it is matched by the journal keeps
    // the copies per byte bounded. The count floor spares tiny files a fold per cell.
    // The cell is saved already: a fold that fails (a full disk) only postpones it.
    if (journal_count_ >= kMinEntriesPerFold && journal_bytes_ >= folded_bytes_) {
      try {
        fold();
      } catch (const std::exception& e) {
        spdlog::warn("{} (cell {} is saved in the journal '{}'; folding is tried again later)", e.what(), cell.name,
                     journal_folder(file_).string());
      }
    }
  }

  void begin_run(const Provenance& provenance) override {
    ++run_;
    prov_ = provenance;
    prov_.hdf5_version = hdf5_version();
    record_run();
  }

  void finish(const std::string& ended_at) override {
    prov_.ended_at = ended_at;
    record_run();
    try {
      fold();
    } catch (const std::exception& e) {
      EP_FAIL("{}; every finished cell is saved in the journal '{}' beside it (reports read it); free space and run "
              "`eprunner merge {}` to fold it into the file", e.what(), journal_folder(file_).string(),
              file_.string());
    }
  }

 private:
  static constexpr uint64_t kMinEntriesPerFold = 16;

  void create_empty() {
    h5::MemoryFile f;
    write_format(f, utc_now());
    h5::write_provenance(f, prov_);
    h5::write_attr(f, "updated_at", utc_now());
    h5::create_group(f, "cells");
    h5::create_group(f, "runs");
    publish_file(file_, f.close_to_image(), "the results file");
  }

  // /runs/<k> with this run's provenance (again at the end, with ended_at).
  void record_run() {
    publish_entry(fmt::format("the provenance of run {}", run_), [&](hid_t f) {
      h5::Handle runs = h5::create_group(f, "runs");
      h5::Handle run = h5::create_group(runs, std::to_string(run_));
      h5::write_provenance(run, prov_);
    });
  }

  // One journal entry: the root attributes as of now, and what `edit` adds.
  template <class Edit>
  void publish_entry(const std::string& what, Edit&& edit) {
    std::vector<uint8_t> image;
    {
      h5::MemoryFile f;
      write_format(f, utc_now());
      h5::write_provenance(f, prov_);
      h5::write_attr(f, "updated_at", utc_now());
      edit(f.get());
      image = f.close_to_image();
    }
    const fs::path folder = journal_folder(file_);
    if (journal_count_ == 0) create_folder(folder);
    publish_file(journal_entry_path(file_, ++seq_), image, what,
                 fmt::format("the results file '{}' and its journal hold every cell finished before", file_.string()));
    ++journal_count_;
    journal_bytes_ += image.size();
  }

  void create_folder(const fs::path& folder) {
    std::error_code ec;
    if (fs::create_directory(folder, ec)) sync_folder(file_.parent_path());
    EP_CHECK(!ec, "cannot create the journal folder '{}' of '{}': {}", folder.string(), file_.string(), ec.message());
  }

  // Journal -> file; then the entries go. Nothing to do without entries.
  void fold() {
    const std::vector<JournalEntry> entries = list_journal(file_);
    if (entries.empty()) return;
    publish_file(file_, fold_image(file_, entries), "the results file");
    folded_bytes_ = fs::file_size(file_);
    const fs::path folder = journal_folder(file_);
    for (const auto& e : entries) fs::remove(e.path);
    std::error_code ec;
    fs::remove(folder, ec);  // only when empty
    sync_folder(file_.parent_path());
    seq_ = std::max(seq_, entries.back().seq);
    journal_count_ = 0;
    journal_bytes_ = 0;
  }

  fs::path file_;
  Provenance prov_;
  std::optional<ResultsLock> lock_;
  int64_t run_ = 0;
  uint64_t seq_ = 0;            // the last entry's number
  uint64_t journal_count_ = 0;  // entries since the last fold
  uintmax_t journal_bytes_ = 0;
  uintmax_t folded_bytes_ = 0;  // the file's size after the last fold
};

}  // namespace

std::unique_ptr<ResultsWriter> open_results_h5(const fs::path& file, const Provenance& provenance, bool restart) {
  try {
    return std::make_unique<H5ResultsWriter>(file, provenance, restart);
  } catch (const fs::filesystem_error& e) {  // create_directories, rename to .bak
    EP_FAIL("results file '{}': {}", file.string(), e.what());
  }
}

}  // namespace ep::runner
