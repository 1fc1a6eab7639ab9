// Eigenpruning step 5: measure a (pruned) model on a task.
//
// Two accuracies from the last position's logits:
//   accuracy:        argmax over the whole vocabulary == answer (the paper's metric);
//   choice_accuracy: argmax over the task's candidate answer tokens == answer
//                    (what evaluation harnesses do; never an out-of-set token).
// and the cross-entropy of the answer over the whole vocabulary.
#pragma once

#include <cstdint>
#include <vector>

#include "core/model/causal_lm.h"

namespace ep {

struct EvalSet {
  std::vector<std::vector<int64_t>> prompts;  // token ids, no padding
  std::vector<int64_t> answers;               // answer token per prompt
  std::vector<int64_t> choices;               // the task's candidate answer tokens
};

struct EvalOptions {
  int64_t batch_size = 8;
  int64_t pad_id = 0;  // any id: pads are masked
};

struct EvalResult {
  int64_t n = 0;
  double accuracy = 0;         // fraction of predicted == answer
  double choice_accuracy = 0;  // fraction of choice_predicted == answer
  double mean_loss = 0;        // mean over examples of −log p(answer)
  std::vector<int64_t> predicted;         // argmax over the vocabulary, per example
  std::vector<int64_t> choice_predicted;  // argmax over choices (a token id), per example
  std::vector<double> loss;               // per example
};

// Evaluates examples `rows` of the set (all of them when rows is empty), in
// batches of left-padded prompts, in the given order, without gradients.
EvalResult evaluate(CausalLM& model, const EvalSet& set, const EvalOptions& opts,
                    const std::vector<int64_t>& rows = {});

// Recomputes n and the three means from the per-example vectors (e.g. after
// concatenating shards); answers are those of the examples, in the same order.
void summarize(EvalResult& r, const std::vector<int64_t>& answers);

}  // namespace ep
