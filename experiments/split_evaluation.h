// Evaluating some examples of a split with a model, for split_score.h.
#pragma once

#include <vector>

#include "core/model/causal_lm.h"
#include "core/prune/evaluate.h"
#include "experiments/split_score.h"

namespace ep {

// Evaluates examples `rows` of `task` (`set` = to_eval_set(task)) without gradients;
// lm-eval tasks also by choice log-likelihood.
ExampleOutcomes evaluate_examples(CausalLM& model, const TokenizedTask& task, const EvalSet& set,
                                  const EvalOptions& opts, const std::vector<int64_t>& rows);

}  // namespace ep
