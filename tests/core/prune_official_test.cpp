// The official recipe's math (core/prune/official_recipe.h), on the tiny fixtures and a
// random Llama in float64, against the paper code's computation written out in
// TransformerLens' folded space: the frozen model's keys are LNPre(x)(A_f − D_f)ᵀ +
// b + Aβ + Σ_t D_f x̄[t]; scoring keeps the last batch's residual sums, pads included.
// (tests/cli/official_recipe.sh checks the same against TransformerLens itself.)
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/prune/batching.h"
#include "core/prune/decompose.h"
#include "core/prune/freeze.h"
#include "core/prune/official_recipe.h"
#include "core/prune/score.h"
#include "core/prune/select.h"
#include "tests/core/model_test_util.h"
#include "tests/core/prune_test_util.h"

namespace ep {
namespace {

using prune_test::randn64;

// Norm scales away from 1 and shifts away from 0, so that folding matters.
void perturb_norms(CausalLM& model) {
  at::NoGradGuard no_grad;
  uint64_t seed = 5;
  for (auto& [name, p] : model.named_parameters())
    if (name.find("ln") != std::string::npos && p.dim() == 1)
      p.copy_((name.find("weight") != std::string::npos ? 1.0 : 0.0) + 0.3 * randn64({p.size(0)}, ++seed).to(p.dtype()));
}

std::unique_ptr<CausalLM> fixture_model(const std::string& name) {
  LoadOptions opts;
  opts.dtype = torch::kFloat64;
  auto m = load_causal_lm(model_test::fixture(name), opts);
  perturb_norms(*m);
  return m;
}

std::unique_ptr<CausalLM> random_llama() {
  auto m = model_test::random_llama(torch::kFloat64);
  perturb_norms(*m);
  return m;
}

// Three batches of random prompts of different lengths (left padded) with one-token answers.
struct Data {
  std::vector<std::vector<int64_t>> prompts, answers, batches;
};
Data make_data() {
  Data d;
  auto ids = at::randint(1, 500, {12, 7}, at::make_generator<at::CPUGeneratorImpl>(3));
  for (int64_t i = 0; i < 12; ++i) {
    const int64_t len = 3 + i % 5;
    std::vector<int64_t> p;
    for (int64_t t = 0; t < len; ++t) p.push_back(ids[i][t].item<int64_t>());
    d.prompts.push_back(p);
    d.answers.push_back({ids[i][6].item<int64_t>()});
  }
  d.batches = {{0, 1, 2, 3}, {4, 5, 6, 7, 8}, {9, 10, 11}};
  return d;
}

// x [B, T, D] -> (x − mean) / sqrt(var + eps), or x / rms (RMSNorm): TransformerLens' LNPre.
at::Tensor ln_pre(const at::Tensor& x, const InputNorm& n) {
  if (n.rms) return x * at::rsqrt(x.pow(2).mean(-1, true) + n.eps);
  auto c = x - x.mean(-1, true);
  return c * at::rsqrt(c.pow(2).mean(-1, true) + n.eps);
}

// The recorded tap (norm input or matrix input) of matrix m for a batch.
at::Tensor tap(CausalLM& model, const MatrixRef& m, const Batch& b, bool norm_input) {
  Taps taps;
  taps.at = {m};
  taps.record_norm_input = norm_input;
  model.forward(b, LogitsScope::Last, &taps);
  return taps.inputs[0];
}

void check_keys_equal_folded_space(CausalLM& model, MatrixKind kind) {
  SCOPED_TRACE(std::string(name_of(kind)) + " of " + model.config().model_type);
  const Data data = make_data();
  DecomposeOptions dopts;
  dopts.fold_input_norm = true;
  dopts.dtype = torch::kFloat64;
  const auto decs = decompose(model, {kind}, dopts);
  ScoreOptions sopts;
  sopts.recipe = Recipe::Official;
  sopts.reduce = PositionReduce::Max;
  sopts.positions = 7;
  const Scorer scorer(decs, sopts);
  ScoreState state = scorer.make_state(model.device());
  score_examples(model, scorer, data.prompts, data.answers, data.batches, 0, state);
  const auto frozen = select_lowest(rank_components(state.max_delta()), 0.3);

  // x̄: the last batch (rows 9..11, padded to 7 positions) only, pads included.
  const AnswerBatch last = teacher_forced_batch(data.prompts, data.answers, data.batches.back(), 0, model.device());
  const int64_t T = last.batch.input_ids.size(1);
  EXPECT_TRUE(at::equal(state.counts().narrow(0, 7 - T, T), at::full({T}, 3.0, at::kDouble)));
  EXPECT_EQ(state.counts().narrow(0, 0, 7 - T).sum().item<double>(), 0.0);
  for (size_t i = 0; i < decs.size(); ++i)
    EXPECT_CLOSE(state.x_sum(i).narrow(0, 7 - T, T), tap(model, decs[i].matrix, last.batch, true).sum(0), 1e-12);

  // The frozen model's keys, as it computes them, against the folded-space formula.
  const AnswerBatch probe = teacher_forced_batch(data.prompts, data.answers, {0, 4, 7, 10}, 0, model.device());
  auto mask = frozen_mask(total_components(decs), frozen);
  std::vector<at::Tensor> expected_weights;
  for (size_t i = 0; i < decs.size(); ++i) {
    const Decomposition& d = decs[i];
    const InputNorm n = model.input_norm(d.matrix);
    const at::Tensor A = model.weight(d.matrix), b = model.bias(d.matrix);
    const at::Tensor x = tap(model, d.matrix, probe.batch, true);  // the residual [B, T, D]
    auto mine = mask.narrow(0, d.offset, d.size()).view({d.n_blocks(), d.rank()});
    const at::Tensor Df = frozen_sum(d, mine);
    auto seen = (state.counts() > 0).to(at::kDouble).unsqueeze(1);
    auto folded_bias = b + at::matmul(Df, (state.x_mean(i) * seen).sum(0));
    if (n.bias.defined()) folded_bias = folded_bias + at::matmul(A, n.bias);
    const at::Tensor expected = at::matmul(ln_pre(x, n), (fold_input_norm(d.matrix, A, n) - Df).t()) + folded_bias;

    const MatrixFreeze f = official_freeze_matrix(d, A, n, mine, state, i);
    expected_weights.push_back(f.n_frozen > 0 ? f.weight : at::Tensor());
    const at::Tensor got = at::matmul(tap(model, d.matrix, probe.batch, false), f.weight.t()) + b + f.fallback.to(at::kDouble);
    EXPECT_CLOSE(got, expected, 1e-6);  // the bias goes through float32 (set_position_bias)
    EXPECT_TRUE(at::equal(f.table.squeeze(0), f.fallback));  // one bias at every position
  }

  // ScopedFreeze under the official recipe installs that freeze, and lets go of it exactly.
  const at::Tensor before = model.forward(probe.batch, LogitsScope::Last);
  {
    FreezeOptions fo;
    fo.recipe = Recipe::Official;
    ScopedFreeze freeze(model, decs, state, frozen, fo);
    for (size_t i = 0; i < decs.size(); ++i)
      if (expected_weights[i].defined()) EXPECT_CLOSE(model.weight(decs[i].matrix), expected_weights[i], 1e-15);
    EXPECT_FALSE(at::equal(model.forward(probe.batch, LogitsScope::Last), before));
  }
  EXPECT_TRUE(at::equal(model.forward(probe.batch, LogitsScope::Last), before));
}

}  // namespace

TEST(OfficialRecipe, FrozenKeysEqualTheFoldedSpaceFormulaGpt2) {
  auto model = fixture_model("tiny-gpt2");
  check_keys_equal_folded_space(*model, MatrixKind::K);
  check_keys_equal_folded_space(*model, MatrixKind::MlpIn);  // resid_mid and ln_2
}

TEST(OfficialRecipe, FrozenKeysEqualTheFoldedSpaceFormulaPhi) {
  auto model = fixture_model("tiny-phi");
  check_keys_equal_folded_space(*model, MatrixKind::Q);
  check_keys_equal_folded_space(*model, MatrixKind::MlpIn);  // the parallel block: the block input and its one norm
}

TEST(OfficialRecipe, FrozenKeysEqualTheFoldedSpaceFormulaLlamaRmsNorm) {
  auto model = random_llama();
  check_keys_equal_folded_space(*model, MatrixKind::K);
  check_keys_equal_folded_space(*model, MatrixKind::V);
}

TEST(OfficialRecipe, FoldedMatrixIsTransformerLensFold) {
  auto model = fixture_model("tiny-gpt2");
  const MatrixRef m = model->matrices(MatrixKind::K)[1];
  const InputNorm n = model->input_norm(m);
  ASSERT_TRUE(n.defined());
  const at::Tensor A = model->weight(m);
  const at::Tensor af = fold_input_norm(m, A, n);
  // A_f·1 = 0 (centred), and A_f·LNPre(x) + b + Aβ = A·LN(x) + b for any x.
  EXPECT_LT(at::matmul(af, at::ones({m.in_features}, at::kDouble)).abs().max().item<double>(), 1e-12);
  const at::Tensor x = randn64({5, m.in_features}, 9);
  const at::Tensor ln = at::layer_norm(x, {m.in_features}, n.weight, n.bias, n.eps);
  EXPECT_CLOSE(at::matmul(ln_pre(x, n), af.t()) + at::matmul(A, n.bias), at::matmul(ln, A.t()), 1e-12);
  EXPECT_FALSE(model->input_norm(model->matrices(MatrixKind::O)[0]).defined());
  EXPECT_FALSE(model->input_norm(model->matrices(MatrixKind::MlpOut)[0]).defined());
  Taps taps;
  taps.at = {model->matrices(MatrixKind::O)[0]};
  taps.record_norm_input = true;
  Batch b;
  b.input_ids = at::ones({1, 3}, at::kLong);
  EXPECT_THROW(model->forward(b, LogitsScope::Last, &taps), Error);
}

}  // namespace ep
