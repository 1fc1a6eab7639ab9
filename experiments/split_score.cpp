#include "experiments/split_score.h"

#include "core/util/error.h"
#include "experiments/class_metrics.h"

namespace ep {

std::vector<int64_t> shard_rows(int64_t n, int rank, int size) {
  EP_CHECK(size >= 1 && rank >= 0 && rank < size, "internal: shard {} of {}", rank, size);
  std::vector<int64_t> rows;
  for (int64_t i = rank; i < n; i += size) rows.push_back(i);
  return rows;
}

ExampleOutcomes merge_outcomes(const std::vector<ExampleOutcomes>& shards, int64_t n) {
  ExampleOutcomes all;
  all.correct.assign(n, 0);
  all.choice_correct.assign(n, 0);
  all.predicted.assign(n, -1);
  all.choice_predicted.assign(n, -1);
  all.loss.assign(n, 0.0);
  std::vector<uint8_t> seen(n, 0);
  bool loglik = false;
  for (const ExampleOutcomes& s : shards) loglik = loglik || !s.loglik_choice.empty();
  if (loglik) all.loglik_choice.assign(n, -1);
  for (const ExampleOutcomes& s : shards) {
    const size_t k = s.rows.size();
    EP_CHECK(s.correct.size() == k && s.choice_correct.size() == k && s.predicted.size() == k &&
                 s.choice_predicted.size() == k && s.loss.size() == k &&
                 (s.loglik_choice.empty() ? !loglik || k == 0 : s.loglik_choice.size() == k),
             "internal: a shard's outcomes have unequal lengths ({} rows)", k);
    for (size_t j = 0; j < k; ++j) {
      const int64_t i = s.rows[j];
      EP_CHECK(i >= 0 && i < n && !seen[i], "internal: example {} of {} is in two shards or out of range", i, n);
      seen[i] = 1;
      all.correct[i] = s.correct[j];
      all.choice_correct[i] = s.choice_correct[j];
      all.predicted[i] = s.predicted[j];
      all.choice_predicted[i] = s.choice_predicted[j];
      all.loss[i] = s.loss[j];
      if (loglik) all.loglik_choice[i] = s.loglik_choice[j];
    }
  }
  for (int64_t i = 0; i < n; ++i) EP_CHECK(seen[i], "internal: no shard evaluated example {} of {}", i, n);
  all.rows.resize(n);
  for (int64_t i = 0; i < n; ++i) all.rows[i] = i;
  return all;
}

namespace {

// The class each example's prediction names (-1: none), for macro F1.
std::vector<int64_t> predicted_class(const SplitScore& s, const TokenizedTask& task) {
  if (s.metric == Metric::FullVocab) return predicted_classes(s.predicted, task.choice_ids);
  return s.predicted;  // already a choice index
}

}  // namespace

SplitScore score_split(const ExampleOutcomes& o, const TokenizedTask& task, Metric metric) {
  const bool lm_eval = task.scoring == Scoring::ChoiceLogLikelihood;
  SplitScore s;
  s.metric = lm_eval ? Metric::ChoiceLoglik : metric;
  EP_CHECK(s.metric != Metric::ChoiceLoglik || lm_eval, "internal: choice-loglik needs an lm-eval task");
  s.n = static_cast<int64_t>(task.examples.size());
  EP_CHECK(static_cast<int64_t>(o.loss.size()) == s.n, "internal: {} outcomes for {} examples", o.loss.size(), s.n);
  double loss_sum = 0, right = 0;
  std::vector<int64_t> classes;
  for (int64_t i = 0; i < s.n; ++i) {
    const TokenizedExample& ex = task.examples[i];
    int64_t pred = 0, target = 0;
    bool ok = false;
    switch (s.metric) {
      case Metric::ChoiceLoglik:
        pred = o.loglik_choice[i], target = ex.answer, ok = pred == ex.answer;
        break;
      case Metric::Choices:
        pred = o.choice_predicted[i], target = ex.answer, ok = o.choice_correct[i] != 0;
        break;
      case Metric::FullVocab:
        pred = o.predicted[i], target = ex.answer_id, ok = o.correct[i] != 0;
        break;
    }
    s.predicted.push_back(pred);
    s.targets.push_back(target);
    s.correct.push_back(ok ? 1 : 0);
    classes.push_back(ex.answer);
    right += ok ? 1 : 0;
    loss_sum += o.loss[i];
  }
  if (s.n > 0) {
    s.accuracy = right / static_cast<double>(s.n);
    s.loss = loss_sum / static_cast<double>(s.n);
    const int64_t n_classes =
        lm_eval ? static_cast<int64_t>(task.examples[0].continuation_ids.size()) : static_cast<int64_t>(task.choice_ids.size());
    if (!task.whole_answers && n_classes >= 1) s.macro_f1 = macro_f1(predicted_class(s, task), classes, n_classes);
  }
  return s;
}

}  // namespace ep
