// Metrics over a tokenized task.
//
//   paper   (Scoring::FirstToken): the argmax over the full vocabulary must be the
//           answer token (every answer token under teacher forcing, for whole
//           answers). Computed by core's evaluate() (core/prune/evaluate.h) on
//           to_eval_set(task).
//   lm-eval (Scoring::ChoiceLogLikelihood): for each choice, the sum over the
//           continuation's tokens of log-softmax at the preceding position; the
//           choice with the largest sum wins (ties: the first, as numpy's argmax).
//
// Shapes: B batch of (prompt, continuation) rows, T padded length, V vocab,
// L the longest continuation in the batch.
#pragma once

#include <cstdint>
#include <vector>

#include "core/model/causal_lm.h"
#include "core/prune/evaluate.h"
#include "experiments/tokenized_task.h"

namespace ep {

// The paper's metric input: prompts, answers (answer_ids), and candidate answers
// (choice_answers; for lm-eval tasks, the distinct first tokens of all
// continuations, so the restricted accuracy is defined there too).
EvalSet to_eval_set(const TokenizedTask& task);

struct ChoiceEvalOptions {
  int64_t batch_size = 8;  // (prompt, continuation) rows per forward pass
  int64_t pad_id = 0;      // any id: pads are masked
};

// log p(continuation | prompt) for each pair, summed over the continuation's tokens,
// in float64. Pairs are evaluated in batches, each left padded to its longest
// prompt + continuation. Every prompt needs >= 1 token (the position that predicts
// the continuation's first token) and every continuation >= 1 token.
std::vector<double> continuation_logliks(CausalLM& model, const std::vector<std::vector<TokenId>>& prompts,
                                         const std::vector<std::vector<TokenId>>& continuations,
                                         const ChoiceEvalOptions& opts);

struct ChoiceEvalResult {
  int64_t n = 0;
  double accuracy = 0;                       // fraction of predicted == answer
  std::vector<int64_t> predicted;            // choice index per example
  std::vector<std::vector<double>> loglik;   // [example][choice]
};

// lm-eval's multiple-choice accuracy over examples `rows` (all when empty), without
// gradients. The task must be tokenized with ChoiceLogLikelihood scoring.
ChoiceEvalResult evaluate_choices(CausalLM& model, const TokenizedTask& task, const ChoiceEvalOptions& opts,
                                  const std::vector<int64_t>& rows = {});

}  // namespace ep
