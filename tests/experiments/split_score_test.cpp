// Sharded evaluation and split scoring (experiments/split_score.h, split_evaluation.h):
// shards evaluated apart and merged give exactly the unsharded evaluation, for every
// metric, and the recorded numbers are those read off the outcomes by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/util/error.h"
#include "experiments/load_task.h"
#include "experiments/split_evaluation.h"
#include "experiments/task_metrics.h"
#include "tests/experiments/tiny_model.h"

namespace ep {
namespace {

const std::string& kData = test::kSuperglueData;

const BpeTokenizer& gpt2() { return test::gpt2_tokenizer(); }

TokenizedTask cb(const std::string& prompt_set) {
  return tokenize_task(load_task(TaskSpec("cb", prompt_set, kData + "CB")).train, gpt2());
}

ExampleOutcomes sharded(CausalLM& model, const TokenizedTask& task, int size) {
  const EvalSet set = to_eval_set(task);
  const auto n = static_cast<int64_t>(task.examples.size());
  std::vector<ExampleOutcomes> shards;
  for (int rank = size - 1; rank >= 0; --rank)  // any order of arrival
    shards.push_back(evaluate_examples(model, task, set, EvalOptions{2, 0}, shard_rows(n, rank, size)));
  return merge_outcomes(shards, n);
}

TEST(SplitScore, ShardsMergeToTheUnshardedEvaluation) {
  auto model = test::tiny_gpt2(5);
  for (const char* prompt_set : {"paper", "lm-eval"}) {
    const TokenizedTask task = cb(prompt_set);
    const ExampleOutcomes whole = sharded(*model, task, 1);
    for (int size : {2, 3, 7}) {  // 7 > n: some shards are empty
      const ExampleOutcomes parts = sharded(*model, task, size);
      EXPECT_EQ(parts.rows, whole.rows);
      EXPECT_EQ(parts.correct, whole.correct) << prompt_set << " " << size;
      EXPECT_EQ(parts.choice_predicted, whole.choice_predicted);
      EXPECT_EQ(parts.predicted, whole.predicted);
      EXPECT_EQ(parts.loglik_choice, whole.loglik_choice);
      ASSERT_EQ(parts.loss.size(), whole.loss.size());
      for (size_t i = 0; i < whole.loss.size(); ++i) EXPECT_NEAR(parts.loss[i], whole.loss[i], 1e-5);
    }
    // lm-eval tasks carry the log-likelihood choice, the paper's prompts do not.
    EXPECT_EQ(whole.loglik_choice.empty(), std::string(prompt_set) == "paper");
  }
}

TEST(SplitScore, MergeRefusesMissingOrRepeatedExamples) {
  ExampleOutcomes a;
  a.rows = {0, 1};
  a.correct = a.choice_correct = {1, 0};
  a.predicted = a.choice_predicted = {3, 4};
  a.loss = {0.5, 0.25};
  EXPECT_THROW(merge_outcomes({a}, 3), Error);     // example 2 missing
  EXPECT_THROW(merge_outcomes({a, a}, 2), Error);  // examples in two shards
  ExampleOutcomes short_one = a;
  short_one.loss.pop_back();
  EXPECT_THROW(merge_outcomes({short_one}, 2), Error);
  EXPECT_EQ(merge_outcomes({a}, 2).loss, (std::vector<double>{0.5, 0.25}));
}

// Outcomes written by hand for CB's first examples; the expected numbers are read
// off them by hand (not through the code under test).
TEST(SplitScore, MetricsFromOutcomesByHand) {
  TokenizedTask task = cb("paper");
  task.examples.resize(4);
  for (size_t i = 0; i < 4; ++i) task.examples[i].answer = std::vector<int64_t>{0, 1, 2, 0}[i];
  for (auto& ex : task.examples) ex.answer_id = task.choice_ids[ex.answer];
  ExampleOutcomes o;
  o.rows = {0, 1, 2, 3};
  // Vocab argmax: right, wrong but a label (class 0), not a label at all, right.
  o.predicted = {task.choice_ids[0], task.choice_ids[0], 99999, task.choice_ids[0]};
  o.correct = {1, 0, 0, 1};
  o.choice_predicted = {0, 1, 1, 2};  // restricted argmax: right, right, wrong (1 for 2), wrong (2 for 0)
  o.choice_correct = {1, 1, 0, 0};
  o.loss = {1.0, 2.0, 3.0, 6.0};

  const SplitScore full = score_split(o, task, Metric::FullVocab);
  EXPECT_EQ(full.metric, Metric::FullVocab);
  EXPECT_DOUBLE_EQ(full.accuracy, 0.5);
  EXPECT_DOUBLE_EQ(full.loss, 3.0);
  EXPECT_EQ(full.predicted, o.predicted);
  EXPECT_EQ(full.targets, (std::vector<int64_t>{task.choice_ids[0], task.choice_ids[1], task.choice_ids[2],
                                                task.choice_ids[0]}));
  // Classes predicted 0, 0, none, 0 for answers 0, 1, 2, 0: F1 = 2*2/(4+1+0) = 0.8 for
  // class 0, 0 for classes 1 and 2 -> macro 0.8 / 3.
  EXPECT_NEAR(full.macro_f1, 0.8 / 3, 1e-12);

  const SplitScore choices = score_split(o, task, Metric::Choices);
  EXPECT_DOUBLE_EQ(choices.accuracy, 0.5);
  EXPECT_EQ(choices.predicted, o.choice_predicted);
  EXPECT_EQ(choices.targets, (std::vector<int64_t>{0, 1, 2, 0}));
  // Predicted 0, 1, 1, 2 for 0, 1, 2, 0: class 0 F1 = 2/(2+0+1) = 2/3, class 1 = 2/(2+1+0) = 2/3,
  // class 2 = 0 -> macro 4/9.
  EXPECT_NEAR(choices.macro_f1, 4.0 / 9, 1e-12);
}

TEST(SplitScore, WholeAnswersHaveNoMacroF1AndLmEvalScoresByLoglik) {
  const TokenizedTask sum = tokenize_task(load_task(TaskSpec("int-sum")).test, gpt2());
  ASSERT_TRUE(sum.whole_answers);
  ExampleOutcomes o;
  const auto n = static_cast<int64_t>(sum.examples.size());
  for (int64_t i = 0; i < n; ++i) {
    o.rows.push_back(i);
    o.correct.push_back(i % 2);
    o.choice_correct.push_back(i % 2);
    o.predicted.push_back(0);
    o.choice_predicted.push_back(0);
    o.loss.push_back(1.0);
  }
  const SplitScore s = score_split(o, sum, Metric::FullVocab);
  EXPECT_TRUE(std::isnan(s.macro_f1));
  EXPECT_NEAR(s.accuracy, static_cast<double>(n / 2) / static_cast<double>(n), 1e-12);

  const TokenizedTask lm = cb("lm-eval");
  ExampleOutcomes l;
  for (size_t i = 0; i < lm.examples.size(); ++i) {
    l.rows.push_back(static_cast<int64_t>(i));
    l.correct.push_back(0);
    l.choice_correct.push_back(0);
    l.predicted.push_back(0);
    l.choice_predicted.push_back(0);
    l.loglik_choice.push_back(lm.examples[i].answer);  // every log-likelihood choice right
    l.loss.push_back(0.0);
  }
  const SplitScore ls = score_split(l, lm, Metric::FullVocab);
  EXPECT_EQ(ls.metric, Metric::ChoiceLoglik);
  EXPECT_DOUBLE_EQ(ls.accuracy, 1.0);
  // Every prediction right: F1 = 1 for each class that occurs, 0 for one that never does.
  std::set<int64_t> present;
  for (const auto& ex : lm.examples) present.insert(ex.answer);
  EXPECT_NEAR(ls.macro_f1, static_cast<double>(present.size()) / 3.0, 1e-12);
}

}  // namespace
}  // namespace ep
