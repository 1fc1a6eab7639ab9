// Reading a results file back: the cells it lists, one cell in full, provenance.
// The mirror of results_h5.cpp; `eprunner report`, the skip-finished logic and the
// tests use it (analysis/ reads the same layout with h5py).
#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "core/util/error.h"
#include "runner/h5_util.h"
#include "runner/results_file.h"

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

PrunedResult read_pruned(hid_t parent, const std::string& name, Depth depth) {
  h5::Handle g = h5::open_group(parent, name);
  PrunedResult r;
  r.p = h5::read_double_attr(g, "p", 0.0);
  r.n_frozen = h5::read_int_attr(g, "n_frozen");
  r.eval.test = read_split(g, "test", depth);
  r.eval.validation = read_split(g, "validation", depth);
  if (depth == Depth::All && h5::exists(g, "masks")) {
    h5::Handle masks = h5::open_group(g, "masks");
    for (const auto& matrix : h5::children(masks)) r.masks[matrix] = h5::read_array<uint8_t>(masks, matrix);
  }
  return r;
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

CellSummary read_summary(hid_t cell) {
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

class H5ResultsReader : public ResultsReader {
 public:
  explicit H5ResultsReader(const fs::path& file) : file_(file) {
    EP_CHECK(fs::exists(file), "results file '{}' does not exist", file.string());
    f_ = h5::open_file(file, false);
    EP_CHECK(h5::read_string_attr(f_, "format") == h5::kFormat,
             "'{}' is not an eprunner results file (no format = \"{}\" attribute)", file.string(), h5::kFormat);
    int64_t version = h5::read_int_attr(f_, "format_version");
    EP_CHECK(version <= h5::kFormatVersion,
             "'{}' has results format version {}, newer than this eprunner reads ({}); update eprunner",
             file.string(), version, h5::kFormatVersion);
  }

  Provenance provenance() const override { return h5::read_provenance(f_); }

  Provenance run_provenance(int64_t k) const override {
    const std::string run = std::to_string(k);
    if (!h5::exists(f_, "runs") || !h5::exists(h5::open_group(f_, "runs"), run)) return provenance();
    return h5::read_provenance(h5::open_group(f_, "runs/" + run));
  }

  std::vector<CellSummary> cells() const override {
    std::vector<CellSummary> out;
    if (!h5::exists(f_, "cells")) return out;
    h5::Handle cells = h5::open_group(f_, "cells");
    for (const auto& name : h5::children(cells)) {
      h5::Handle c = h5::open_group(cells, name);
      if (!h5::has_attr(c, "status")) continue;  // never published without it; skip defensively
      out.push_back(read_summary(c));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
    return out;
  }

  CellResult read_cell(const std::string& name) const override { return read(name, Depth::All); }
  CellResult read_metrics(const std::string& name) const override { return read(name, Depth::Metrics); }

 private:
  CellResult read(const std::string& name, Depth depth) const {
    EP_CHECK(h5::exists(f_, "cells") && h5::exists(h5::open_group(f_, "cells"), name),
             "results file '{}' has no cell '{}'", file_.string(), name);
    h5::Handle g = h5::open_group(f_, "cells/" + name);
    CellSummary s = read_summary(g);
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
      std::vector<std::string> names = h5::children(pruned);
      // Groups are named 0, 1, ...: sort numerically, not by name ("10" < "2").
      std::sort(names.begin(), names.end(), [](const auto& a, const auto& b) { return std::stoi(a) < std::stoi(b); });
      for (const auto& n : names) c.pruned.push_back(read_pruned(pruned, n, depth));
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

  fs::path file_;
  h5::Handle f_;
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
