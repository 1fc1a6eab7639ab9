// Scoring one split of a task from its examples' outcomes, shard by shard: which
// examples a rank evaluates, putting the shards back in order, and the grid's
// metric over the whole split. Torch-free (the evaluation itself is
// split_evaluation.h); nothing here knows ranks or communicators.
//
//   shard_rows ─> evaluate_examples (each rank) ─> [gather] ─> merge_outcomes ─> score_split
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "experiments/metric.h"
#include "experiments/tokenized_task.h"

namespace ep {

// What evaluating some examples of a split gives, whatever the metric will be.
struct ExampleOutcomes {
  std::vector<int64_t> rows;                     // the examples (positions in the split), in this order
  std::vector<uint8_t> correct, choice_correct;  // EvalResult's
  std::vector<int64_t> predicted;                // vocabulary argmax (EvalResult::predicted)
  std::vector<int64_t> choice_predicted;         // index into the choices, or -1 (EvalResult::choice_predicted)
  std::vector<int64_t> loglik_choice;            // lm-eval: the choice with the largest log-likelihood; else empty
  std::vector<double> loss;                      // the answer's summed cross-entropy
};

// The examples rank `rank` of `size` evaluates: i with i % size == rank.
std::vector<int64_t> shard_rows(int64_t n, int rank, int size);

// The shards' outcomes in example order 0..n-1; every example must appear once.
ExampleOutcomes merge_outcomes(const std::vector<ExampleOutcomes>& shards, int64_t n);

// A split as the results file keeps it.
struct SplitScore {
  Metric metric = Metric::FullVocab;
  int64_t n = 0;
  double accuracy = std::numeric_limits<double>::quiet_NaN();  // fraction in [0, 1]
  double loss = std::numeric_limits<double>::quiet_NaN();      // mean over examples
  // Classification tasks (label words or lm-eval choices; not whole answers such as
  // INT-SUM's numbers): lm-evaluation-harness's macro F1 over the classes. NaN otherwise.
  double macro_f1 = std::numeric_limits<double>::quiet_NaN();
  std::vector<int64_t> predicted;  // FullVocab: token id; Choices, ChoiceLoglik: choice index (-1: none)
  std::vector<uint8_t> correct;    // 1 = right
  std::vector<int64_t> targets;    // the answer in `predicted`'s terms (token id or choice index)
};

// Scores a whole split (outcomes of every example, in order). `metric` is the
// grid's (FullVocab or Choices); lm-eval tasks are scored by ChoiceLoglik whatever it says.
SplitScore score_split(const ExampleOutcomes& all, const TokenizedTask& task, Metric metric);

}  // namespace ep
