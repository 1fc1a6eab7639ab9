// Deterministic CellResults for the results-file tests: every field filled from the
// cell's index, so a test can tell whether what it reads back is whole and right.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "runner/results_file.h"

namespace ep::runner::samples {

// A fresh folder per test (named after the test and this process), removed afterwards.
class FolderPerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ep_results_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

inline SplitResult sample_split(int seed, int64_t n, const std::string& metric) {
  SplitResult s;
  s.metric = metric;
  s.n = n;
  for (int64_t i = 0; i < n; ++i) {
    s.predicted.push_back((seed * 31 + i * 7) % 50257);
    s.correct.push_back(static_cast<uint8_t>((seed + i) % 3 == 0));
  }
  int64_t right = 0;
  for (auto c : s.correct) right += c;
  s.accuracy = n ? static_cast<double>(right) / static_cast<double>(n) : 0.0;
  s.loss = 1.0 + seed * 0.125;
  if (metric == "choices") s.macro_f1 = 0.25 + seed * 0.0625;  // a classification task's; NaN otherwise
  return s;
}

// `big` adds arrays large enough to be chunked and compressed (and to make a write
// take long enough for a kill to land in the middle of it).
inline CellResult sample_cell(int index, bool big = false) {
  CellResult c;
  c.index = index;
  c.model = "model" + std::to_string(index / 5);
  c.task = "task" + std::to_string(index % 5);
  c.name = c.model + "__" + c.task;
  c.fingerprint = "fp" + std::to_string(index);
  c.ran_on = "group 0: rank 0, cpu";
  c.examples = 1000 + index;
  const int64_t n = 40 + index;
  for (int64_t i = 0; i < n; ++i) {
    c.test_ids.push_back(i * 2);
    c.test_targets.push_back(i % 7);
  }
  c.validation_ids = {1, 3, 5};
  c.validation_targets = {0, 1, 2};
  c.base.test = sample_split(index, n, "full-vocab");
  c.base.validation = sample_split(index + 100, 3, "full-vocab");
  const int64_t L = 2, B = 3, R = big ? 64 : 4, P = 6, I = big ? 256 : 8;
  for (double p : {0.01, 0.05, 0.1, 0.3}) {
    PrunedResult r;
    r.p = p;
    r.n_frozen = static_cast<int64_t>(L * B * R * p);
    r.eval.test = sample_split(index + static_cast<int>(p * 100), n, "full-vocab");
    r.eval.validation = sample_split(index + 7, 3, "full-vocab");
    Array<uint8_t> mask{{L, B, R}, std::vector<uint8_t>(L * B * R, 0)};
    for (int64_t i = 0; i < r.n_frozen; ++i) mask.data[(i * 5 + index) % mask.data.size()] = 1;
    r.masks["k"] = mask;
    c.pruned.push_back(r);
  }
  MatrixScores s;
  s.delta_loss = {{L, B, R}, {}};
  s.singular_values = {{L, B, R}, {}};
  for (int64_t i = 0; i < L * B * R; ++i) {
    s.delta_loss.data.push_back(static_cast<float>(index) - 0.01f * static_cast<float>(i));
    s.singular_values.data.push_back(static_cast<float>(L * B * R - i));
  }
  s.activation_mean = {{L, P, I}, {}};
  for (int64_t i = 0; i < L * P * I; ++i) s.activation_mean.data.push_back(0.5f * static_cast<float>(i % 97) + index);
  s.position_count = {{P}, {n, n, n, n, n - 1, n - 2}};
  c.scores["k"] = s;
  c.finetune_loss = {3.5f, 2.25f, static_cast<float>(index)};
  c.timings = {{"load", 0.5}, {"score", 1.25 + index}, {"total", 9.0}};
  if (index % 2 == 1) {  // comparisons in odd cells: files hold cells with and without them
    MethodResult control{"random"};
    control.fraction = 0.05;
    control.seed = index;
    control.n_removed = c.pruned[1].n_frozen;
    control.eval.test = sample_split(index + 40, n, "full-vocab");
    control.eval.validation = sample_split(index + 41, 3, "full-vocab");
    control.masks["k"] = c.pruned[0].masks["k"];
    c.methods.push_back(control);
    MethodResult laser{"laser"};
    laser.fraction = 0.25;
    laser.matrix = "mlp_in";
    laser.layers = {0, 1};
    laser.n_removed = 2 * (R - 1);
    laser.eval.test = sample_split(index + 42, n, "full-vocab");
    c.methods.push_back(laser);
  }
  return c;
}

// Equal, or both NaN (an unmeasured loss is NaN on both sides).
inline bool same(double a, double b) { return a == b || (a != a && b != b); }

// "" when a and b hold the same values, else the first difference found.
inline std::string split_difference(const std::string& where, const SplitResult& a, const SplitResult& b) {
  if (a.metric != b.metric) return where + ".metric";
  if (!same(a.accuracy, b.accuracy)) return where + ".accuracy";
  if (!same(a.loss, b.loss)) return where + ".loss";
  if (!same(a.macro_f1, b.macro_f1)) return where + ".macro_f1";
  if (a.n != b.n) return where + ".n";
  if (a.predicted != b.predicted) return where + ".predicted";
  if (a.correct != b.correct) return where + ".correct";
  return "";
}

inline std::string cell_difference(const CellResult& a, const CellResult& b) {
  if (a.index != b.index || a.name != b.name || a.model != b.model || a.task != b.task) return "identity";
  if (a.fingerprint != b.fingerprint || a.status != b.status || a.error != b.error) return "status";
  if (a.ran_on != b.ran_on || a.examples != b.examples) return "ran_on/examples";
  if (a.test_ids != b.test_ids || a.test_targets != b.test_targets) return "test examples";
  if (a.validation_ids != b.validation_ids || a.validation_targets != b.validation_targets)
    return "validation examples";
  for (auto d : {split_difference("base.test", a.base.test, b.base.test),
                 split_difference("base.validation", a.base.validation, b.base.validation)})
    if (!d.empty()) return d;
  if (a.pruned.size() != b.pruned.size()) return "pruned.size";
  for (size_t i = 0; i < a.pruned.size(); ++i) {
    const auto &x = a.pruned[i], &y = b.pruned[i];
    const std::string w = "pruned[" + std::to_string(i) + "]";
    if (x.p != y.p || x.n_frozen != y.n_frozen) return w + ".p";
    for (auto d : {split_difference(w + ".test", x.eval.test, y.eval.test),
                   split_difference(w + ".validation", x.eval.validation, y.eval.validation)})
      if (!d.empty()) return d;
    if (x.masks != y.masks) return w + ".masks";
  }
  if (a.scores.size() != b.scores.size()) return "scores.size";
  for (const auto& [m, s] : a.scores) {
    auto it = b.scores.find(m);
    if (it == b.scores.end()) return "scores." + m;
    const auto& t = it->second;
    if (!(s.delta_loss == t.delta_loss)) return "scores." + m + ".delta_loss";
    if (!(s.singular_values == t.singular_values)) return "scores." + m + ".singular_values";
    if (!(s.activation_mean == t.activation_mean)) return "scores." + m + ".activation_mean";
    if (!(s.position_count == t.position_count)) return "scores." + m + ".position_count";
  }
  if (a.finetune_loss != b.finetune_loss) return "finetune_loss";
  if (a.timings != b.timings) return "timings";
  if (a.methods.size() != b.methods.size()) return "methods.size";
  for (size_t i = 0; i < a.methods.size(); ++i) {
    const auto &x = a.methods[i], &y = b.methods[i];
    const std::string w = "methods[" + std::to_string(i) + "]";
    if (x.method != y.method || x.fraction != y.fraction || x.seed != y.seed || x.matrix != y.matrix ||
        x.layers != y.layers || x.n_removed != y.n_removed)
      return w;
    for (auto d : {split_difference(w + ".test", x.eval.test, y.eval.test),
                   split_difference(w + ".validation", x.eval.validation, y.eval.validation)})
      if (!d.empty()) return d;
    if (x.masks != y.masks) return w + ".masks";
  }
  return "";
}

inline Provenance sample_provenance() {
  Provenance p;
  p.grid_text = "seed = 1\n";
  p.grid_path = "/tmp/grid.toml";
  p.eprunner_version = "0.1.0";
  p.git_commit = "abc123";
  p.command_line = "eprunner run grid.toml";
  p.world_size = 4;
  p.devices = "cpu x 4";
  p.hosts = "node1";
  p.torch_version = "1.13.1";
  p.mpi_version = "Open MPI v4.1.4";
  p.started_at = "2026-01-01T00:00:00Z";
  return p;
}

}  // namespace ep::runner::samples
