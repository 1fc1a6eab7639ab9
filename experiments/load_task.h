// One call from a task's name to its train / validation / test splits.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

#include "experiments/task.h"

namespace ep {

struct SplitOptions {
  // Only for tasks without a test file (INT-SUM, INT-MULT): the part of all examples
  // held out as the test set. ref: paper appendix A — 80/20 (8,000/2,000, 320/80).
  double test_fraction = 0.2;
  // The part of the training examples held out as validation (to choose p without
  // the test set). 0 keeps the paper's training set whole.
  double validation_fraction = 0.0;
  uint64_t seed = 42;  // ref: official code, seed 42
  // At most this many examples of each split (0: all of them): a seeded random
  // subsample taken after splitting, so the splits are the paper's and a smaller run
  // (the demo on a CPU) measures a random part of them, in source order.
  int64_t max_train = 0, max_validation = 0, max_test = 0;
};

struct TaskSpec {
  TaskSpec() = default;
  explicit TaskSpec(std::string kind_, std::string prompt_set_ = "paper", std::filesystem::path data_dir_ = {})
      : kind(std::move(kind_)), prompt_set(std::move(prompt_set_)), data_dir(std::move(data_dir_)) {}

  std::string kind;                    // "int-sum", "int-mult", "cb", "copa", "rte"
  std::string prompt_set = "paper";    // or "lm-eval" (SuperGLUE tasks)
  std::filesystem::path data_dir;      // the task's folder (SuperGLUE): train.jsonl, val.jsonl
  SplitOptions split;
};

// Loads the records, renders the prompt set, and splits. The test split depends on
// (seed, test_fraction) only; the validation split on (seed, validation_fraction)
// and the training pool, so changing one fraction never reshuffles the other split.
TaskSplits load_task(const TaskSpec& spec);

}  // namespace ep
