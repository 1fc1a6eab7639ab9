// lm-eval's choice log-likelihood, batched with left padding, against an
// independent computation: one unpadded forward per (example, choice) and a
// log-softmax written out by hand in double precision.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>

#include "core/util/error.h"
#include "experiments/load_task.h"
#include "experiments/task_metrics.h"
#include "tests/experiments/tiny_model.h"

namespace ep {
namespace {

const std::string& kData = test::kSuperglueData;

const BpeTokenizer& gpt2() { return test::gpt2_tokenizer(); }

TokenizedTask tokenized(const std::string& kind, const std::string& folder, const std::string& prompt_set) {
  return tokenize_task(load_task(TaskSpec(kind, prompt_set, kData + folder)).train, gpt2());
}

// log p(cont | prompt) from one forward pass over prompt + cont with no padding.
double reference_loglik(CausalLM& model, const std::vector<TokenId>& prompt, const std::vector<TokenId>& cont) {
  std::vector<int64_t> seq(prompt.begin(), prompt.end());
  seq.insert(seq.end(), cont.begin(), cont.end());
  Batch batch;
  batch.input_ids = at::tensor(seq, at::kLong).unsqueeze(0);  // [1, T]
  at::NoGradGuard no_grad;
  auto logits = model.forward(batch, LogitsScope::All)[0].to(at::kDouble);  // [T, V]
  double sum = 0;
  for (size_t k = 0; k < cont.size(); ++k) {
    auto row = logits[static_cast<int64_t>(prompt.size() + k) - 1];  // predicts cont[k]
    const double max = row.max().item<double>();
    const double log_z = max + std::log((row - max).exp().sum().item<double>());
    sum += row[cont[k]].item<double>() - log_z;
  }
  return sum;
}

void expect_matches_reference(const std::string& kind, const std::string& folder) {
  auto model = test::tiny_gpt2(11);
  TokenizedTask task = tokenized(kind, folder, "lm-eval");
  ChoiceEvalOptions opts;
  opts.batch_size = 3;  // rows of different lengths share batches: padding is exercised
  ChoiceEvalResult r = evaluate_choices(*model, task, opts);
  ASSERT_EQ(r.n, static_cast<int64_t>(task.examples.size()));
  int64_t correct = 0;
  for (size_t i = 0; i < task.examples.size(); ++i) {
    const auto& ex = task.examples[i];
    ASSERT_EQ(r.loglik[i].size(), ex.continuation_ids.size());
    size_t best = 0;
    for (size_t c = 0; c < ex.continuation_ids.size(); ++c) {
      double expected = reference_loglik(*model, ex.prompt_ids, ex.continuation_ids[c]);
      EXPECT_NEAR(r.loglik[i][c], expected, 1e-4 * std::abs(expected) + 1e-4) << kind << " example " << i << " choice " << c;
      EXPECT_LT(r.loglik[i][c], 0.0);
      if (r.loglik[i][c] > r.loglik[i][best]) best = c;
    }
    EXPECT_EQ(r.predicted[i], static_cast<int64_t>(best));
    correct += r.predicted[i] == ex.answer;
  }
  EXPECT_DOUBLE_EQ(r.accuracy, static_cast<double>(correct) / static_cast<double>(r.n));
}

TEST(ChoiceLoglik, CopaMultiTokenContinuationsMatchUnbatchedReference) {
  expect_matches_reference("copa", "COPA");
}

TEST(ChoiceLoglik, CbMatchesUnbatchedReference) {
  expect_matches_reference("cb", "CB");
}

TEST(ChoiceLoglik, SameResultForAnyBatchSize) {
  auto model = test::tiny_gpt2(5);
  TokenizedTask task = tokenized("copa", "COPA", "lm-eval");
  ChoiceEvalOptions one, many;
  one.batch_size = 1;
  many.batch_size = 12;
  auto a = evaluate_choices(*model, task, one), b = evaluate_choices(*model, task, many);
  for (size_t i = 0; i < a.loglik.size(); ++i)
    for (size_t c = 0; c < a.loglik[i].size(); ++c) EXPECT_NEAR(a.loglik[i][c], b.loglik[i][c], 1e-4);
}

TEST(ChoiceLoglik, RowsSelectExamples) {
  auto model = test::tiny_gpt2(5);
  TokenizedTask task = tokenized("cb", "CB", "lm-eval");
  auto all = evaluate_choices(*model, task, {});
  auto some = evaluate_choices(*model, task, {}, {4, 1});
  ASSERT_EQ(some.n, 2);
  EXPECT_NEAR(some.loglik[0][2], all.loglik[4][2], 1e-6);
  EXPECT_NEAR(some.loglik[1][0], all.loglik[1][0], 1e-6);
}

TEST(ChoiceLoglik, FirstTokenTaskIsRefused) {
  auto model = test::tiny_gpt2(5);
  EXPECT_THROW(evaluate_choices(*model, tokenized("cb", "CB", "paper"), {}), Error);
}

TEST(ChoiceLoglik, EmptyPromptIsAnError) {
  auto model = test::tiny_gpt2(5);
  EXPECT_THROW(continuation_logliks(*model, {{}}, {{5}}, {}), Error);
  EXPECT_THROW(continuation_logliks(*model, {{5}}, {{}}, {}), Error);
}

TEST(EvalSetFromTask, PaperUsesLabelTokensLmEvalUsesContinuationFirstTokens) {
  EvalSet paper = to_eval_set(tokenized("cb", "CB", "paper"));
  using Seqs = std::vector<std::vector<int64_t>>;
  EXPECT_EQ(paper.choices, (Seqs{{35445}, {40081}, {318}}));  // label words' first tokens (not whole answers)
  EXPECT_EQ(paper.prompts.size(), 6u);
  EXPECT_EQ(paper.answers[0], (std::vector<int64_t>{35445}));
  EvalSet lm = to_eval_set(tokenized("cb", "CB", "lm-eval"));
  EXPECT_EQ(lm.choices, (Seqs{{6407}, {10352}, {16126}}));  // " True", " False", " Neither"
  EXPECT_EQ(lm.answers[1], (std::vector<int64_t>{16126}));  // neutral -> " Neither"
}

TEST(EvalSetFromTask, CoreEvaluateRunsOnAnArithmeticTask) {
  auto model = test::tiny_gpt2(3);
  TaskSplits s = load_task(TaskSpec("int-mult"));
  EvalResult r = evaluate(*model, to_eval_set(tokenize_task(s.test, gpt2())), EvalOptions{});
  EXPECT_EQ(r.n, 80);
  EXPECT_GT(r.mean_loss, 5.0);  // random weights: about log(50257) = 10.8
}

}  // namespace
}  // namespace ep
