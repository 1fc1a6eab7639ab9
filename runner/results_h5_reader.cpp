// Reading a results file back: the cells it lists, one cell in full, provenance.
// The mirror of results_h5.cpp; `eprunner report`, the skip-finished logic and the
// tests use it (analysis/ reads the same layout with h5py). The file and its
// journal (results_journal.h) read as one: a journal entry's cell or run replaces
// the file's. A cell with checksums (format 2) is checked against them on every read.
#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "core/util/error.h"
#include "runner/cell_codec.h"
#include "runner/h5_util.h"
#include "runner/results_file.h"
#include "runner/results_journal.h"

namespace ep::runner {

Provenance h5::read_provenance(hid_t obj) {
  Provenance p;
  p.grid_text = read_string_attr(obj, "grid");
  p.grid_path = read_string_attr(obj, "grid_path");
  p.eprunner_version = read_string_attr(obj, "eprunner_version");
  p.git_commit = read_string_attr(obj, "git_commit");
  p.command_line = read_string_attr(obj, "command_line");
  p.world_size = static_cast<int>(read_int_attr(obj, "world_size", 1));
  p.devices = read_string_attr(obj, "devices");
  p.hosts = read_string_attr(obj, "hosts");
  p.torch_version = read_string_attr(obj, "torch_version");
  p.mpi_version = read_string_attr(obj, "mpi_version");
  p.hdf5_version = read_string_attr(obj, "hdf5_version");
  p.started_at = read_string_attr(obj, "started_at");
  p.ended_at = read_string_attr(obj, "ended_at");
  return p;
}

namespace {

namespace fs = std::filesystem;

// What a read fetches: everything, or only the metrics (attributes).
enum class Depth { Metrics, All };

SplitResult read_split(hid_t parent, const std::string& name, Depth depth) {
  SplitResult s;
  if (!h5::exists(parent, name)) return s;
  h5::Handle g = h5::open_group(parent, name);
  s.metric = h5::read_string_attr(g, "metric");
  s.accuracy = h5::read_double_attr(g, "accuracy", s.accuracy);
  s.loss = h5::read_double_attr(g, "loss", s.loss);
  s.macro_f1 = h5::read_double_attr(g, "macro_f1", s.macro_f1);  // absent in files before macro F1 was kept
  s.n = h5::read_int_attr(g, "n");
  if (depth == Depth::Metrics) return s;
  s.predicted = h5::read_vector<int64_t>(g, "predicted");
  s.correct = h5::read_vector<uint8_t>(g, "correct");
  return s;
}

Evaluation read_evaluation(hid_t parent, const std::string& name, Depth depth) {
  Evaluation e;
  if (!h5::exists(parent, name)) return e;
  h5::Handle g = h5::open_group(parent, name);
  e.test = read_split(g, "test", depth);
  e.validation = read_split(g, "validation", depth);
  return e;
}

std::map<std::string, Array<uint8_t>> read_masks(hid_t g, Depth depth) {
  std::map<std::string, Array<uint8_t>> out;
  if (depth != Depth::All || !h5::exists(g, "masks")) return out;
  h5::Handle masks = h5::open_group(g, "masks");
  for (const auto& matrix : h5::children(masks)) out[matrix] = h5::read_array<uint8_t>(masks, matrix);
  return out;
}

PrunedResult read_pruned(hid_t parent, const std::string& name, Depth depth) {
  h5::Handle g = h5::open_group(parent, name);
  PrunedResult r;
  r.p = h5::read_double_attr(g, "p", 0.0);
  r.n_frozen = h5::read_int_attr(g, "n_frozen");
  r.eval.test = read_split(g, "test", depth);
  r.eval.validation = read_split(g, "validation", depth);
  r.masks = read_masks(g, depth);
  return r;
}

MethodResult read_method(hid_t parent, const std::string& name, Depth depth) {
  h5::Handle g = h5::open_group(parent, name);
  MethodResult m;
  m.method = h5::read_string_attr(g, "method");
  m.fraction = h5::read_double_attr(g, "fraction", 0.0);
  m.seed = h5::read_int_attr(g, "seed");
  m.matrix = h5::read_string_attr(g, "matrix");
  m.layers = h5::read_vector<int64_t>(g, "layers");
  m.n_removed = h5::read_int_attr(g, "n_removed");
  m.eval.test = read_split(g, "test", depth);
  m.eval.validation = read_split(g, "validation", depth);
  m.masks = read_masks(g, depth);
  return m;
}

// The children of a group named 0, 1, ..., in numeric order ("10" after "2").
std::vector<std::string> numbered_children(hid_t group, const std::string& cell, const std::string& what) {
  std::vector<std::string> names = h5::children(group);
  for (const auto& n : names)
    EP_CHECK(!n.empty() && n.size() < 10 && n.find_first_not_of("0123456789") == std::string::npos,
             "cell '{}': {}/{} is not a number", cell, what, n);
  std::sort(names.begin(), names.end(), [](const auto& a, const auto& b) { return std::stoi(a) < std::stoi(b); });
  return names;
}

std::map<std::string, MatrixScores> read_scores(hid_t cell) {
  std::map<std::string, MatrixScores> out;
  if (!h5::exists(cell, "scores")) return out;
  h5::Handle g = h5::open_group(cell, "scores");
  for (const auto& matrix : h5::children(g)) {
    h5::Handle m = h5::open_group(g, matrix);
    MatrixScores& s = out[matrix];
    s.delta_loss = h5::read_array<float>(m, "delta_loss");
    s.singular_values = h5::read_array<float>(m, "singular_values");
    s.activation_mean = h5::read_array<float>(m, "activation_mean");
    s.position_count = h5::read_array<int64_t>(m, "position_count");
  }
  return out;
}

herr_t collect_attr_name(hid_t, const char* name, const H5A_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

std::vector<std::string> attribute_names(hid_t obj) {
  std::vector<std::string> names;
  if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_attr_name, &names) < 0)
    h5::fail("listing attributes");
  return names;
}

}  // namespace

CellSummary h5::read_cell_summary(hid_t cell) {
  CellSummary s;
  s.index = static_cast<int>(h5::read_int_attr(cell, "index"));
  s.name = h5::read_string_attr(cell, "name");
  s.model = h5::read_string_attr(cell, "model");
  s.task = h5::read_string_attr(cell, "task");
  s.fingerprint = h5::read_string_attr(cell, "fingerprint");
  const std::string status = h5::read_string_attr(cell, "status");
  const auto known = find_name<CellStatus>(status);
  EP_CHECK(known, "cell '{}': status '{}' is neither done nor error", s.name, status);
  s.status = *known;
  s.error = h5::read_string_attr(cell, "error");
  s.run = h5::read_int_attr(cell, "run");
  s.has_results = h5::exists(cell, "base");
  return s;
}

CellResult h5::read_cell_group(hid_t g, bool everything) {
  const Depth depth = everything ? Depth::All : Depth::Metrics;
  CellSummary s = read_cell_summary(g);
  CellResult c;
  c.index = s.index;
  c.name = s.name;
  c.model = s.model;
  c.task = s.task;
  c.fingerprint = s.fingerprint;
  c.status = s.status;
  c.error = s.error;
  c.ran_on = h5::read_string_attr(g, "ran_on");
  c.examples = h5::read_int_attr(g, "examples");
  if (depth == Depth::All && h5::exists(g, "examples")) {
    h5::Handle ex = h5::open_group(g, "examples");
    c.test_ids = h5::read_vector<int64_t>(ex, "test_ids");
    c.test_targets = h5::read_vector<int64_t>(ex, "test_targets");
    c.validation_ids = h5::read_vector<int64_t>(ex, "validation_ids");
    c.validation_targets = h5::read_vector<int64_t>(ex, "validation_targets");
  }
  c.base = read_evaluation(g, "base", depth);
  if (h5::exists(g, "pruned")) {
    h5::Handle pruned = h5::open_group(g, "pruned");
    for (const auto& n : numbered_children(pruned, c.name, "pruned")) c.pruned.push_back(read_pruned(pruned, n, depth));
  }
  if (h5::exists(g, "methods")) {
    h5::Handle methods = h5::open_group(g, "methods");
    for (const auto& n : numbered_children(methods, c.name, "methods"))
      c.methods.push_back(read_method(methods, n, depth));
  }
  if (depth == Depth::All) {
    c.scores = read_scores(g);
    c.finetune_loss = h5::read_vector<float>(g, "finetune_loss");
  }
  if (h5::exists(g, "timings")) {
    h5::Handle t = h5::open_group(g, "timings");
    for (const auto& stage : attribute_names(t)) c.timings[stage] = h5::read_double_attr(t, stage, 0.0);
  }
  return c;
}

namespace {

// One HDF5 file of the set (the results file or a journal entry), opened.
struct Source {
  fs::path path;
  h5::Handle file;
};

Source open_source(const fs::path& path) {
  Source s{path, h5::open_file(path, false)};
  EP_CHECK(h5::read_string_attr(s.file, "format") == h5::kFormat,
           "'{}' is not an eprunner results file (no format = \"{}\" attribute)", path.string(), h5::kFormat);
  const int64_t version = h5::read_int_attr(s.file, "format_version");
  EP_CHECK(version <= h5::kFormatVersion,
           "'{}' has results format version {}, newer than this eprunner reads ({}); update eprunner", path.string(),
           version, h5::kFormatVersion);
  return s;
}

class H5ResultsReader : public ResultsReader {
 public:
  explicit H5ResultsReader(const fs::path& file) : file_(file) {
    EP_CHECK(fs::exists(file), "results file '{}' does not exist", file.string());
    // The journal's entries first, then the file (results_journal.h: an entry folded
    // and deleted meanwhile is in the file opened after it).
    std::vector<Source> entries;
    for (const auto& e : list_journal(file)) {
      try {
        entries.push_back(open_source(e.path));
      } catch (const Error&) {
        if (fs::exists(e.path)) throw;  // damaged, not folded
      }
    }
    sources_.push_back(open_source(file));
    for (auto& e : entries) sources_.push_back(std::move(e));
  }

  Provenance provenance() const override { return h5::read_provenance(sources_.back().file); }

  Provenance run_provenance(int64_t k) const override {
    const std::string run = "runs/" + std::to_string(k);
    for (auto it = sources_.rbegin(); it != sources_.rend(); ++it)
      if (h5::exists(it->file, "runs") && h5::exists(h5::open_group(it->file, "runs"), std::to_string(k)))
        return h5::read_provenance(h5::open_group(it->file, run));
    return provenance();
  }

  std::map<int64_t, Provenance> runs() const override {
    std::map<int64_t, Provenance> out;
    for (const auto& s : sources_) {
      if (!h5::exists(s.file, "runs")) continue;
      h5::Handle runs = h5::open_group(s.file, "runs");
      for (const auto& k : h5::children(runs)) {
        EP_CHECK(!k.empty() && k.size() < 10 && k.find_first_not_of("0123456789") == std::string::npos,
                 "results file '{}': runs/{} is not a run number", s.path.string(), k);
        out[std::stoll(k)] = h5::read_provenance(h5::open_group(runs, k));
      }
    }
    return out;
  }

  std::vector<std::string> cell_names() const override {
    std::vector<std::string> out;
    for (const auto& [name, source] : where()) out.push_back(name);
    return out;
  }

  CellSummary summary(const std::string& name) const override {
    const Source& source = holder(name);
    try {
      return h5::read_cell_summary(h5::open_group(source.file, "cells/" + name));
    } catch (const Error& e) {
      EP_FAIL("results file '{}': cell '{}': {}", source.path.string(), name, e.what());
    }
  }

  std::vector<CellSummary> cells() const override {
    std::vector<CellSummary> out;
    for (const auto& [name, source] : where()) {
      h5::Handle c = h5::open_group(source->file, "cells/" + name);
      if (!h5::has_attr(c, "status")) continue;  // never published without it; skip defensively
      try {
        out.push_back(h5::read_cell_summary(c));
      } catch (const Error& e) {
        EP_FAIL("results file '{}': cell '{}': {}", source->path.string(), name, e.what());
      }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
    return out;
  }

  CellResult read_cell(const std::string& name) const override { return read(name, true); }
  CellResult read_metrics(const std::string& name) const override { return read(name, false); }

 private:
  // Cell name -> the source holding its latest copy.
  std::map<std::string, const Source*> where() const {
    std::map<std::string, const Source*> out;
    for (const auto& s : sources_) {
      if (!h5::exists(s.file, "cells")) continue;
      for (const auto& name : h5::children(h5::open_group(s.file, "cells"))) out[name] = &s;
    }
    return out;
  }

  const Source& holder(const std::string& name) const {
    for (auto it = sources_.rbegin(); it != sources_.rend(); ++it)
      if (h5::exists(it->file, "cells") && h5::exists(h5::open_group(it->file, "cells"), name)) return *it;
    EP_FAIL("results file '{}' has no cell '{}'", file_.string(), name);
  }

  CellResult read(const std::string& name, bool everything) const {
    const Source* source = &holder(name);
    try {
      h5::Handle g = h5::open_group(source->file, "cells/" + name);
      CellResult c = h5::read_cell_group(g, everything);
      const char* attr = everything ? h5::kChecksumAttr : h5::kMetricsChecksumAttr;
      if (h5::has_attr(g, attr)) {  // format 1 files have none
        const std::string stored = h5::read_string_attr(g, attr);
        const std::string read = cell_checksum(c);
        EP_CHECK(stored == read, "its contents fail their checksum (stored {}, read {}): the file is damaged",
                 stored, read);
      }
      return c;
    } catch (const std::bad_alloc&) {
      EP_FAIL("results file '{}': cell '{}': a stored size is too large to read (the file is damaged)",
              source->path.string(), name);
    } catch (const Error& e) {
      EP_FAIL("results file '{}': cell '{}': {}", source->path.string(), name, e.what());
    }
  }

  fs::path file_;
  std::vector<Source> sources_;  // the file, then its journal's entries in order
};

}  // namespace

std::map<std::string, std::string> ResultsReader::finished() const {
  std::map<std::string, std::string> out;
  for (const auto& c : cells())
    if (c.status == CellStatus::Done && c.has_results) out[c.name] = c.fingerprint;
  return out;
}

std::unique_ptr<ResultsReader> open_results_reader(const fs::path& file) {
  return std::make_unique<H5ResultsReader>(file);
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace ep::runner
