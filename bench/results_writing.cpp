// What writing a grid's results costs as the file grows: `results_writing [N...]`
// (default 1 100 2000) writes N small cells into a fresh results file through the
// ordinary writer (ResultsWriter: journal entries, geometric folds, finish) and
// prints the seconds per cell, the slowest single write, and the file's size. Uses
// only the public writer API, so the same source builds against older commits for a
// side-by-side "before" (bench/README.md).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "runner/results_file.h"

namespace fs = std::filesystem;
using namespace ep::runner;

namespace {

// A small cell: 200 test examples, 4 values of p, k masks and scores of a 12-layer,
// 12-head model at rank 8 (what a tiny grid cell holds).
CellResult small_cell(int index) {
  CellResult c;
  c.index = index;
  c.model = "model" + std::to_string(index / 5);
  c.task = "task" + std::to_string(index % 5) + "_" + std::to_string(index);
  c.name = c.model + "__" + c.task;
  c.fingerprint = "fp" + std::to_string(index);
  c.ran_on = "group 0: rank 0, cpu";
  const int64_t n = 200, L = 12, B = 12, R = 8;
  auto split = [&](int seed) {
    SplitResult s;
    s.metric = "full-vocab";
    s.n = n;
    for (int64_t i = 0; i < n; ++i) {
      s.predicted.push_back((i * 7 + seed) % 50257);
      s.correct.push_back(static_cast<uint8_t>((i + seed) % 3 == 0));
    }
    s.accuracy = 1.0 / 3;
    s.loss = 2.5;
    return s;
  };
  for (int64_t i = 0; i < n; ++i) {
    c.test_ids.push_back(i);
    c.test_targets.push_back(i % 10);
  }
  c.base.test = split(index);
  for (double p : {0.01, 0.05, 0.1, 0.3}) {
    PrunedResult r;
    r.p = p;
    r.eval.test = split(index + static_cast<int>(p * 100));
    r.masks["k"] = {{L, B, R}, std::vector<uint8_t>(L * B * R, 0)};
    c.pruned.push_back(r);
  }
  MatrixScores s;
  s.delta_loss = {{L, B, R}, std::vector<float>(L * B * R, 0.25f + index)};
  s.singular_values = {{L, B, R}, std::vector<float>(L * B * R, 1.5f)};
  c.scores["k"] = s;
  c.timings = {{"total", 1.0}};
  return c;
}

struct Row {
  int cells = 0;
  double seconds = 0, slowest = 0;
  uintmax_t bytes = 0;
};

Row write_cells(const fs::path& dir, int n) {
  using clock = std::chrono::steady_clock;
  const fs::path file = dir / ("results_" + std::to_string(n) + ".h5");
  Provenance prov;
  prov.grid_text = "[eigenprune]\n";
  Row row{n};
  const auto t0 = clock::now();
  auto w = open_results_h5(file, prov, false);
  for (int i = 0; i < n; ++i) {
    const CellResult c = small_cell(i);
    const auto c0 = clock::now();
    w->write_cell(c);
    row.slowest = std::max(row.slowest, std::chrono::duration<double>(clock::now() - c0).count());
  }
  w->finish(utc_now());
  w.reset();
  row.seconds = std::chrono::duration<double>(clock::now() - t0).count();
  row.bytes = fs::file_size(file);
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {1, 100, 2000};
  const fs::path dir = fs::temp_directory_path() / ("ep_bench_results_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::printf("%8s %12s %14s %14s %12s\n", "cells", "total s", "ms per cell", "slowest ms", "file MB");
  for (int n : sizes) {
    const Row r = write_cells(dir, n);
    std::printf("%8d %12.3f %14.3f %14.3f %12.2f\n", r.cells, r.seconds, 1e3 * r.seconds / r.cells, 1e3 * r.slowest,
                static_cast<double>(r.bytes) / 1e6);
    std::fflush(stdout);
  }
  fs::remove_all(dir);
  return 0;
}
