#include "experiments/split_evaluation.h"

#include "experiments/task_metrics.h"

namespace ep {

ExampleOutcomes evaluate_examples(CausalLM& model, const TokenizedTask& task, const EvalSet& set,
                                  const EvalOptions& opts, const std::vector<int64_t>& rows) {
  ExampleOutcomes o;
  o.rows = rows;
  if (rows.empty()) return o;
  EvalResult r = evaluate(model, set, opts, rows);
  o.correct = std::move(r.correct);
  o.choice_correct = std::move(r.choice_correct);
  o.predicted = std::move(r.predicted);
  o.choice_predicted = std::move(r.choice_predicted);
  o.loss = std::move(r.loss);
  if (task.scoring == Scoring::ChoiceLogLikelihood)
    o.loglik_choice = evaluate_choices(model, task, ChoiceEvalOptions{opts.batch_size, opts.pad_id}, rows).predicted;
  return o;
}

}  // namespace ep
