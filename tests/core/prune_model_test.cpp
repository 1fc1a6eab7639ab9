// Eigenpruning on the tiny HF fixture models (tests/data/fixtures): the ΔL
// estimate against finite differences of the real loss in float64, freezing as
// a removable delta, sharded scoring, and evaluation against unpadded forwards.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "core/model/memory_estimate.h"
#include "core/model/model_shape.h"
#include "core/prune/batching.h"
#include "core/prune/decompose.h"
#include "core/prune/evaluate.h"
#include "core/prune/freeze.h"
#include "core/prune/score.h"
#include "core/prune/scoring_batches.h"
#include "core/prune/select.h"
#include "tests/core/model_test_util.h"
#include "tests/core/prune_test_util.h"

namespace ep {
namespace {

using model_test::random_llama;

std::unique_ptr<CausalLM> load(const std::string& name, torch::ScalarType dtype = torch::kFloat32) {
  LoadOptions opts;
  opts.dtype = dtype;
  return load_causal_lm(std::filesystem::path(EP_TEST_DATA_DIR) / "fixtures" / name, opts);
}

// n prompts of lengths 3..(3 + n % 5) with seeded token ids < 512, and answers of
// answer_len tokens.
struct Examples {
  std::vector<std::vector<int64_t>> prompts;
  std::vector<std::vector<int64_t>> answers;
};
Examples make_examples(int64_t n, uint64_t seed, int64_t min_len = 3, int64_t spread = 5, int64_t answer_len = 1) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  Examples e;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t len = min_len + (i * 7 + static_cast<int64_t>(seed)) % spread;
    auto ids = at::randint(0, 512, {len}, gen, at::kLong);
    e.prompts.emplace_back(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + len);
    auto answer = at::randint(0, 512, {answer_len}, gen, at::kLong);
    e.answers.emplace_back(answer.data_ptr<int64_t>(), answer.data_ptr<int64_t>() + answer_len);
  }
  return e;
}

// The teacher-forced answer loss of a batch, summed over its examples.
at::Tensor answer_loss(CausalLM& model, const AnswerBatch& b, Taps* taps = nullptr) {
  return answer_token_nll(model.forward(b.batch, LogitsScope::last_positions(b.K), taps), b.targets).sum();
}

std::map<std::string, at::Tensor> snapshot(CausalLM& model) {
  std::map<std::string, at::Tensor> out;
  for (auto& [name, t] : model.named_parameters()) out[name] = t.detach().clone();
  return out;
}

at::Tensor last_logits(CausalLM& model, const Examples& e) {
  at::NoGradGuard no_grad;
  std::vector<int64_t> rows(e.prompts.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int64_t>(i);
  return model.forward(left_padded_batch(e.prompts, rows, 0, model.device()), LogitsScope::Last);
}

ScoreState score_all(CausalLM& model, const std::vector<Decomposition>& decs, const Scorer& scorer,
                     const Examples& e, const std::vector<std::vector<int64_t>>& batches) {
  auto state = scorer.make_state(model.device());
  score_examples(model, scorer, e.prompts, e.answers, batches, 0, state);
  return state;
}

// ---- decomposition of a model's matrices ---------------------------------------------

TEST(Eigenprune, DecomposesModelMatricesWithKindMajorGlobalIndices) {
  auto model = load("tiny-gpt2");
  auto decs = decompose(*model, {MatrixKind::K, MatrixKind::O}, {});
  ASSERT_EQ(decs.size(), 4u);  // k.0, k.1, o.0, o.1
  EXPECT_EQ(decs[1].matrix.name(), "k.1");
  EXPECT_EQ(decs[2].matrix.name(), "o.0");
  EXPECT_EQ(decs[2].offset, 2 * 4 * 16);  // 2 layers x 4 heads x 16 components
  EXPECT_EQ(total_components(decs), 4 * 4 * 16);
  auto id = locate_component(decs, decs[3].offset + 2 * 16 + 5);
  EXPECT_EQ(id.kind, MatrixKind::O);
  EXPECT_EQ(id.layer, 1);
  EXPECT_EQ(id.block, 2);
  EXPECT_EQ(id.index, 5);
  for (const auto& d : decs) {
    auto a = model->weight(d.matrix).to(at::kDouble);
    auto usv = at::matmul(d.u.to(at::kDouble) * d.s.to(at::kDouble).unsqueeze(-2),
                          d.v.to(at::kDouble).transpose(-2, -1));
    EXPECT_CLOSE(join_blocks(usv, d.layout), a, 1e-6);  // U, S, V stored in float32
  }
}

// ---- the estimate is right to first order ----------------------------------------

// L(x) for example 0 when only component (d, block, i) sees x' = x + ε (x1 − x0):
// the matrix's output gets E_i (x' − x) = ε s u (v·(x1_t − x0_t)) at each position t,
// which is a per-position bias for a batch of this one example.
double loss_with_swap(CausalLM& model, const AnswerBatch& one, const Decomposition& d, const ComponentVectors& c,
                      const at::Tensor& dx, double eps) {
  at::NoGradGuard no_grad;
  auto table = eps * c.s * at::matmul(dx, c.v).unsqueeze(1) * c.u.unsqueeze(0);  // [T, out]
  model.set_position_bias(d.matrix, table, at::zeros({d.matrix.out_features}, at::kDouble));
  const double l = answer_loss(model, one).item<double>();
  model.set_position_bias(d.matrix, {}, {});
  return l;
}


void check_first_order(std::unique_ptr<CausalLM> model, const std::string& fixture, MatrixKind kind,
                       Granularity gran, int64_t answer_len = 1) {
  DecomposeOptions dopts;
  dopts.granularity = gran;
  dopts.dtype = torch::kFloat64;
  auto decs = decompose(*model, {kind}, dopts);
  ScoreOptions sopts;
  sopts.positions = 6 + answer_len - 1;
  Scorer scorer(decs, sopts);

  // Two examples of the same length (no pads): example 0 and its partner 1; an answer
  // of several tokens is read under teacher forcing and its cross-entropies summed.
  auto ex = make_examples(2, 91, 6, 1, answer_len);
  auto pair = teacher_forced_batch(ex.prompts, ex.answers, {0, 1}, 0, model->device());
  const auto& batch = pair.batch;
  Taps taps;
  taps.at.clear();
  for (const auto& d : decs) taps.at.push_back(d.matrix);
  taps.want_grad = true;
  auto loss = answer_loss(*model, pair, &taps);
  auto grads = torch::autograd::grad({loss}, taps.probes);

  auto one = teacher_forced_batch(ex.prompts, ex.answers, {0}, 0, model->device());
  const double base = [&] {
    at::NoGradGuard no_grad;
    return answer_loss(*model, one).item<double>();
  }();

  // The components with the largest |ΔL| of each matrix (others are ~0 in a
  // random model and their finite differences are rounding noise).
  const double eps[2] = {0.05, 0.025};
  int checked = 0;
  for (size_t m = 0; m < decs.size(); ++m) {
    auto deltas = scorer.pair_deltas(m, taps.inputs[m], grads[m], batch.attention_mask, 1);  // [2, nb, r]
    auto est0 = deltas.select(0, 0).reshape({-1});  // example 0 with partner 1
    const int64_t top = est0.abs().argmax().item<int64_t>();
    const int64_t blk = top / decs[m].rank(), i = top % decs[m].rank();
    const double est = est0[top].item<double>();
    auto c = component_vectors(decs[m], blk, i);
    auto dx = taps.inputs[m][1] - taps.inputs[m][0];  // [T, in]
    double err[2], actual[2];
    for (int k = 0; k < 2; ++k) {
      actual[k] = loss_with_swap(*model, one, decs[m], c, dx, eps[k]) - base;
      err[k] = std::abs(actual[k] - eps[k] * est);
    }
    std::printf("[ measure  ] %s %s (%s, %lld-token answers) block %lld component %lld: eps %.2f: est %.4e actual "
                "%.4e |err| %.3e; eps %.3f: est %.4e actual %.4e |err| %.3e; ratio %.3f\n",
                fixture.c_str(), decs[m].matrix.name().c_str(), std::string(name_of(gran)).c_str(),
                static_cast<long long>(answer_len), static_cast<long long>(blk),
                static_cast<long long>(i), eps[0], eps[0] * est, actual[0], err[0], eps[1],
                eps[1] * est, actual[1], err[1], err[0] / err[1]);
    EXPECT_LT(err[0], 0.2 * std::abs(eps[0] * est)) << decs[m].matrix.name();
    EXPECT_NEAR(err[0] / err[1], 4.0, 0.6) << decs[m].matrix.name();
    ++checked;
  }
  EXPECT_EQ(checked, model->config().n_layers);
}

TEST(Eigenprune, EstimateTracksFiniteDifferencesToSecondOrderGpt2Keys) {
  check_first_order(load("tiny-gpt2", torch::kFloat64), "tiny-gpt2", MatrixKind::K, Granularity::Head);
}

TEST(Eigenprune, EstimateTracksFiniteDifferencesToSecondOrderPhiOutputMatrix) {
  check_first_order(load("tiny-phi", torch::kFloat64), "tiny-phi", MatrixKind::O, Granularity::Matrix);
}

// Grouped-query keys, per key/value head, and SwiGLU's up_proj (mlp_in), whose output is
// multiplied by the gate: the first-order estimate must hold through both.
TEST(Eigenprune, EstimateTracksFiniteDifferencesToSecondOrderLlamaGqaKeysAndUpProj) {
  check_first_order(random_llama(torch::kFloat64), "random-llama", MatrixKind::K, Granularity::Head);
  check_first_order(random_llama(torch::kFloat64), "random-llama", MatrixKind::MlpIn, Granularity::Matrix);
}

// Answers of three tokens (SmolLM2 spells " 46" as "Ġ", "4", "6"): the summed
// teacher-forced cross-entropy's first-order estimate holds the same way.
TEST(Eigenprune, EstimateTracksFiniteDifferencesToSecondOrderWithMultiTokenAnswers) {
  check_first_order(random_llama(torch::kFloat64), "random-llama", MatrixKind::K, Granularity::Head, 3);
  check_first_order(load("tiny-gpt2", torch::kFloat64), "tiny-gpt2", MatrixKind::K, Granularity::Head, 3);
}

TEST(Eigenprune, GroupedQueryKeysDecomposePerKeyValueHead) {
  auto model = random_llama(torch::kFloat32);
  auto decs = decompose(*model, {MatrixKind::Q, MatrixKind::K, MatrixKind::V}, {});
  ASSERT_EQ(decs.size(), 6u);  // q.0, q.1, k.0, k.1, v.0, v.1
  EXPECT_EQ(decs[0].matrix.out_features, 64);  // 4 query heads x 16
  EXPECT_EQ(decs[2].matrix.out_features, 32);  // 2 key/value heads x 16
  EXPECT_EQ(decs[2].matrix.n_heads, 2);
  EXPECT_EQ(decs[2].offset, 2 * 4 * 16);       // after q: 2 layers x 4 heads x 16 components
  EXPECT_EQ(total_components(decs), 2 * 4 * 16 + 2 * (2 * 2 * 16));
  for (const auto& d : decs) {
    auto a = model->weight(d.matrix).to(at::kDouble);
    auto usv = at::matmul(d.u.to(at::kDouble) * d.s.to(at::kDouble).unsqueeze(-2),
                          d.v.to(at::kDouble).transpose(-2, -1));
    EXPECT_CLOSE(join_blocks(usv, d.layout), a, 1e-6);
  }
}

// ---- freezing ---------------------------------------------------------------------

struct Scored {
  std::vector<Decomposition> decs;
  ScoreState state;
};

Scored score_fixture(CausalLM& model, const std::vector<MatrixKind>& kinds, const Examples& train,
                     Granularity gran = Granularity::Head) {
  DecomposeOptions dopts;
  dopts.granularity = gran;
  Scored s;
  s.decs = decompose(model, kinds, dopts);
  ScoreOptions sopts;
  sopts.positions = 8;
  Scorer scorer(s.decs, sopts);
  s.state = score_all(model, s.decs, scorer, train,
                      make_scoring_batches(static_cast<int64_t>(train.prompts.size()), 4, 5));
  return s;
}

TEST(Eigenprune, ZeroFractionLeavesLogitsBitIdentical) {
  for (const char* name : {"tiny-gpt2", "tiny-phi"}) {
    auto model = load(name);
    auto train = make_examples(12, 101), test = make_examples(6, 102);
    auto s = score_fixture(*model, {MatrixKind::K, MatrixKind::MlpIn}, train);
    auto before = last_logits(*model, test);
    auto frozen = select_lowest(s.state.max_delta(), 0.0);
    EXPECT_TRUE(frozen.empty());
    ScopedFreeze freeze(*model, s.decs, s.state, frozen);
    EXPECT_EQ(freeze.n_matrices(), 0u);
    EXPECT_TRUE(at::equal(last_logits(*model, test), before)) << name;
  }
}

TEST(Eigenprune, RemovingTheFreezeRestoresWeightsExactly) {
  for (const char* name : {"tiny-gpt2", "tiny-phi"}) {
    auto model = load(name);
    auto train = make_examples(12, 111), test = make_examples(6, 112);
    auto s = score_fixture(*model, {MatrixKind::K, MatrixKind::O, MatrixKind::MlpOut}, train);
    auto params = snapshot(*model);
    auto before = last_logits(*model, test);
    auto frozen = select_lowest(s.state.max_delta(), 0.3);
    {
      ScopedFreeze freeze(*model, s.decs, s.state, frozen);
      EXPECT_GE(freeze.n_matrices(), 1u);
      EXPECT_FALSE(at::equal(last_logits(*model, test), before)) << name;
      freeze.remove();
      EXPECT_TRUE(at::equal(last_logits(*model, test), before)) << name;
      ScopedFreeze again(*model, s.decs, s.state, frozen);  // and by the destructor
    }
    for (auto& [pname, t] : model->named_parameters())
      EXPECT_TRUE(at::equal(t, params.at(pname))) << name << " " << pname;
    EXPECT_TRUE(at::equal(last_logits(*model, test), before)) << name;
  }
}

// Freezing every component of k.0 leaves k.0's output = b + A x̄[t] for any input:
// the same logits as a copy of the model with A := 0 and that bias table, built
// here from x̄ measured independently (the tapped inputs of the training prompts).
TEST(Eigenprune, FreezingEveryComponentMakesTheOutputTheMeanInputResponse) {
  for (const char* name : {"tiny-gpt2", "tiny-phi"}) {
    auto model = load(name);
    auto reference = load(name);
    auto train = make_examples(10, 121);
    auto s = score_fixture(*model, {MatrixKind::K}, train);
    const auto& d = s.decs[0];
    const MatrixRef m = d.matrix;
    const int64_t P = s.state.positions();

    // x̄[t] by hand: one forward per training prompt, inputs aligned to the end.
    auto xsum = at::zeros({P, m.in_features}, at::kDouble);
    auto count = at::zeros({P}, at::kDouble);
    for (size_t i = 0; i < train.prompts.size(); ++i) {
      at::NoGradGuard no_grad;
      Taps taps;
      taps.at = {m};
      auto one = left_padded_batch(train.prompts, {static_cast<int64_t>(i)}, 0, model->device());
      model->forward(one, LogitsScope::Last, &taps);
      const int64_t T = one.input_ids.size(1);
      xsum.narrow(0, P - T, T) += taps.inputs[0][0].to(at::kDouble);
      count.narrow(0, P - T, T) += 1;
    }
    auto a = model->weight(m).to(at::kDouble);
    auto xall = xsum.sum(0) / count.sum();
    auto xbar = at::where(count.unsqueeze(1) > 0, xsum / count.clamp_min(1).unsqueeze(1), xall);
    reference->set_weight(m, at::zeros_like(a));
    reference->set_position_bias(m, at::matmul(xbar, a.t()).to(at::kFloat),
                                 at::matmul(a, xall).to(at::kFloat));

    std::vector<int64_t> all(static_cast<size_t>(d.size()));
    for (int64_t i = 0; i < d.size(); ++i) all[static_cast<size_t>(i)] = d.offset + i;
    ScopedFreeze freeze(*model, s.decs, s.state, all);
    EXPECT_LE(model->weight(m).abs().max().item<double>(), 1e-6 * a.abs().max().item<double>());
    // Inputs of other lengths, including longer than any training prompt (fallback rows).
    auto test = make_examples(8, 122, 2, 12);
    EXPECT_CLOSE(last_logits(*model, test), last_logits(*reference, test), 1e-5);
  }
}

// ---- sharded scoring ------------------------------------------------------------------

TEST(Eigenprune, ShardedScoringMergesToTheSinglePassState) {
  auto model = load("tiny-gpt2");
  auto train = make_examples(22, 131);
  DecomposeOptions dopts;
  auto decs = decompose(*model, {MatrixKind::K, MatrixKind::V}, dopts);
  ScoreOptions sopts;
  sopts.positions = 8;
  sopts.pairs = 2;
  sopts.reduce = PositionReduce::Max;
  Scorer scorer(decs, sopts);
  const auto batches = make_scoring_batches(22, 4, 9);
  auto whole = score_all(*model, decs, scorer, train, batches);
  auto r0 = score_all(*model, decs, scorer, train, batches_for_rank(batches, 0, 3));
  for (int r = 1; r < 3; ++r) r0.merge(score_all(*model, decs, scorer, train, batches_for_rank(batches, r, 3)));
  EXPECT_TRUE(at::equal(r0.max_delta(), whole.max_delta()));
  EXPECT_TRUE(whole.max_delta().isfinite().all().item<bool>());
  EXPECT_CLOSE(r0.sums(), whole.sums(), 1e-12);
  EXPECT_EQ(whole.counts().sum().item<double>(), [&] {
    double n = 0;
    for (const auto& p : train.prompts) n += static_cast<double>(p.size());
    return n;
  }());
}

// ---- CUDA against CPU (runs where a GPU is present) ---------------------------------

TEST(Eigenprune, CudaMatchesCpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  auto train = make_examples(12, 151), test = make_examples(6, 152);
  std::vector<ScoreState> states;
  std::vector<at::Tensor> pruned;
  std::vector<std::vector<int64_t>> chosen;
  for (auto dev : {torch::Device(torch::kCPU), torch::Device(torch::kCUDA)}) {
    LoadOptions opts;
    opts.device = dev;
    auto model = load_causal_lm(std::filesystem::path(EP_TEST_DATA_DIR) / "fixtures" / "tiny-phi", opts);
    auto s = score_fixture(*model, {MatrixKind::K, MatrixKind::MlpIn}, train);
    chosen.push_back(select_lowest(s.state.max_delta(), 0.1));
    // Both devices freeze the CPU's choice (near-ties may order differently), each
    // with its own decomposition and state.
    ScopedFreeze freeze(*model, s.decs, s.state, chosen.front());
    pruned.push_back(last_logits(*model, test).cpu());
    states.push_back(std::move(s.state));
  }
  EXPECT_CLOSE(states[1].max_delta(), states[0].max_delta(), 1e-3);
  EXPECT_CLOSE(states[1].sums(), states[0].sums(), 1e-5);
  EXPECT_CLOSE(pruned[1], pruned[0], 1e-3);
  std::set<int64_t> cpu(chosen[0].begin(), chosen[0].end());
  size_t same = 0;
  for (int64_t i : chosen[1]) same += cpu.count(i);
  EXPECT_GE(same, chosen[0].size() * 9 / 10) << "CPU and CUDA chose different components";
}

// ---- evaluation ----------------------------------------------------------------------

TEST(Evaluate, PaddedBatchesMatchUnpaddedSingleForwards) {
  auto model = load("tiny-phi");
  auto ex = make_examples(9, 141);
  EvalSet set{ex.prompts, ex.answers, {{5}, {17}, ex.answers[0], {300}}};
  // Make some answers predictable: the model's own top token for a few examples.
  at::Tensor singles;
  {
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> rows;
    for (const auto& p : ex.prompts) {
      auto ids = at::tensor(p, at::kLong).unsqueeze(0);
      rows.push_back(model->forward({ids, {}, {}}, LogitsScope::Last).to(at::kDouble));
    }
    singles = at::cat(rows);  // [n, V]
  }
  for (int64_t i : {1, 4}) set.answers[static_cast<size_t>(i)] = {singles[i].argmax().item<int64_t>()};
  for (int64_t i : {1, 4}) set.choices.push_back(set.answers[static_cast<size_t>(i)]);
  for (size_t i = 0; i < set.answers.size(); ++i)
    if (std::find(set.choices.begin(), set.choices.end(), set.answers[i]) == set.choices.end())
      set.choices.push_back(set.answers[i]);
  EvalOptions opts;
  opts.batch_size = 4;
  auto r = evaluate(*model, set, opts);
  ASSERT_EQ(r.n, 9);
  std::vector<int64_t> choices;
  for (const auto& c : set.choices) choices.push_back(c[0]);
  auto choice_t = at::tensor(choices, at::kLong);
  int64_t hits = 0, choice_hits = 0;
  double loss = 0;
  for (int64_t i = 0; i < 9; ++i) {
    const auto answer = set.answers[static_cast<size_t>(i)][0];
    EXPECT_EQ(r.predicted[static_cast<size_t>(i)], singles[i].argmax().item<int64_t>()) << i;
    const auto best = singles[i].index_select(0, choice_t).argmax().item<int64_t>();  // index into choices
    EXPECT_EQ(r.choice_predicted[static_cast<size_t>(i)], best) << i;
    const double li = -singles[i].log_softmax(0)[answer].item<double>();
    EXPECT_NEAR(r.loss[static_cast<size_t>(i)], li, 1e-4 * li) << i;
    hits += singles[i].argmax().item<int64_t>() == answer;
    choice_hits += choices[static_cast<size_t>(best)] == answer;
    loss += li;
  }
  EXPECT_GE(hits, 2);
  EXPECT_DOUBLE_EQ(r.accuracy, hits / 9.0);
  EXPECT_DOUBLE_EQ(r.choice_accuracy, choice_hits / 9.0);
  EXPECT_NEAR(r.mean_loss, loss / 9, 1e-4 * loss / 9);
  // A subset, in the order given.
  auto sub = evaluate(*model, set, opts, {4, 1});
  EXPECT_EQ(sub.predicted, (std::vector<int64_t>{r.predicted[4], r.predicted[1]}));
  EXPECT_DOUBLE_EQ(sub.accuracy, 1.0);
}

// Answers of several tokens against an independent computation: one unpadded forward
// of prompt + whole answer per example, every position's logits, read by hand.
TEST(Evaluate, MultiTokenAnswersMatchTeacherForcedSingleForwards) {
  auto model = random_llama(torch::kFloat32);
  auto ex = make_examples(7, 161, 3, 5, 1);
  // Answers of 1..3 tokens; for examples 2 and 5 the model's own greedy continuation,
  // so some are right; candidates: every answer plus a sibling of each prefix.
  std::vector<std::vector<int64_t>> answers;
  for (size_t i = 0; i < ex.prompts.size(); ++i) {
    const size_t len = 1 + i % 3;
    std::vector<int64_t> a;
    std::vector<int64_t> seq = ex.prompts[i];
    for (size_t j = 0; j < len; ++j) {
      at::NoGradGuard no_grad;
      auto logits = model->forward({at::tensor(seq, at::kLong).unsqueeze(0), {}, {}}, LogitsScope::Last)[0];
      const int64_t greedy = logits.argmax().item<int64_t>();
      const int64_t t = (i == 2 || i == 5 || j == 0) ? greedy : (greedy + 1 + static_cast<int64_t>(i)) % 512;
      a.push_back(t);
      seq.push_back(t);
    }
    answers.push_back(a);
  }
  EvalSet set{ex.prompts, answers, {}};
  for (const auto& a : answers) {
    set.choices.push_back(a);
    auto sibling = a;
    sibling.back() = (sibling.back() + 7) % 512;
    set.choices.push_back(sibling);
  }
  EvalOptions opts;
  opts.batch_size = 3;  // batches mix answer lengths
  auto r = evaluate(*model, set, opts);
  ASSERT_EQ(r.n, 7);
  int64_t hits = 0, choice_hits = 0;
  for (size_t i = 0; i < answers.size(); ++i) {
    const auto& a = answers[i];
    std::vector<int64_t> seq = ex.prompts[i];
    seq.insert(seq.end(), a.begin(), a.end());
    at::NoGradGuard no_grad;
    auto logits = model->forward({at::tensor(seq, at::kLong).unsqueeze(0), {}, {}}, LogitsScope::All)[0].to(at::kDouble);
    const int64_t P = static_cast<int64_t>(ex.prompts[i].size());
    double nll = 0;
    bool all_argmax = true, all_restricted = true;
    int64_t first_wrong_argmax = -1;
    for (size_t j = 0; j < a.size(); ++j) {
      auto row = logits[P - 1 + static_cast<int64_t>(j)];  // predicts answer token j
      nll -= row.log_softmax(0)[a[j]].item<double>();
      const int64_t am = row.argmax().item<int64_t>();
      if (am != a[j] && all_argmax) first_wrong_argmax = am;
      all_argmax = all_argmax && am == a[j];
      // Allowed after a[:j]: the j-th token of every candidate sharing that prefix.
      std::vector<int64_t> allowed;
      for (const auto& c : set.choices)
        if (c.size() > j && std::equal(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(j), c.begin()) &&
            std::find(allowed.begin(), allowed.end(), c[j]) == allowed.end())
          allowed.push_back(c[j]);
      const int64_t best = allowed[row.index_select(0, at::tensor(allowed, at::kLong)).argmax().item<int64_t>()];
      if (all_restricted && best != a[j]) all_restricted = false;
      if (!all_restricted) break;
    }
    EXPECT_NEAR(r.loss[i], nll, 1e-4 * nll) << i;
    EXPECT_EQ(r.correct[i] != 0, all_argmax) << i;
    EXPECT_EQ(r.choice_correct[i] != 0, all_restricted) << i;
    EXPECT_EQ(r.predicted[i], all_argmax ? a.back() : first_wrong_argmax) << i;
    if (all_restricted) EXPECT_EQ(r.choice_predicted[i], static_cast<int64_t>(2 * i)) << i;
    hits += all_argmax;
    choice_hits += all_restricted;
  }
  EXPECT_GE(hits, 2);  // examples 2 and 5 at least
  EXPECT_DOUBLE_EQ(r.accuracy, hits / 7.0);
  EXPECT_DOUBLE_EQ(r.choice_accuracy, choice_hits / 7.0);
}

TEST(Evaluate, AnAnswerOutsideTheCandidatesIsAnError) {
  auto model = random_llama(torch::kFloat32);
  auto ex = make_examples(2, 171, 3, 5, 2);
  EvalSet set{ex.prompts, ex.answers, {ex.answers[0]}};
  EXPECT_EP_ERROR(evaluate(*model, set, EvalOptions{}), "example 1", "not one of the task's 1 candidate answers");
}

TEST(Batching, TeacherForcedBatchRightAlignsAnswersAndReadsAllButTheirLastToken) {
  std::vector<std::vector<int64_t>> prompts{{7, 8, 9}, {5}, {1, 2}};
  std::vector<std::vector<int64_t>> answers{{40}, {41, 42, 43}, {44, 45}};
  auto b = teacher_forced_batch(prompts, answers, {0, 1, 2}, 99, torch::kCPU);
  EXPECT_EQ(b.K, 3);
  EXPECT_TRUE(b.batch.input_ids.equal(at::tensor({7, 8, 9, 5, 41, 42, 1, 2, 44}, at::kLong).view({3, 3})));
  EXPECT_TRUE(b.targets.equal(at::tensor({-1, -1, 40, 41, 42, 43, -1, 44, 45}, at::kLong).view({3, 3})));
  EXPECT_EQ(longest_teacher_forced_input(prompts, answers), 3);
  EXPECT_EQ(longest_teacher_forced_input({{1, 2, 3, 4}, {5}}, {{6}, {7, 8, 9, 10, 11}}), 5);
  // One-token answers: exactly the prompts' batch.
  auto one = teacher_forced_batch(prompts, {{40}, {41}, {44}}, {2, 0}, 99, torch::kCPU);
  EXPECT_TRUE(one.batch.input_ids.equal(left_padded_batch(prompts, {2, 0}, 99, torch::kCPU).input_ids));
  EXPECT_TRUE(one.targets.equal(at::tensor({44, 40}, at::kLong).view({2, 1})));
}

TEST(Batching, LeftPadsWithMaskAndPositionsFromTheFirstRealToken) {
  std::vector<std::vector<int64_t>> prompts{{7, 8, 9}, {5}, {1, 2}};
  auto b = left_padded_batch(prompts, {1, 0, 2}, 99, torch::kCPU);
  EXPECT_TRUE(at::equal(b.input_ids, at::tensor({99, 99, 5, 7, 8, 9, 99, 1, 2}, at::kLong).view({3, 3})));
  EXPECT_TRUE(at::equal(b.attention_mask, at::tensor({0, 0, 1, 1, 1, 1, 0, 1, 1}, at::kLong).view({3, 3})));
  EXPECT_TRUE(at::equal(b.position_ids, at::tensor({0, 0, 0, 0, 1, 2, 0, 0, 1}, at::kLong).view({3, 3})));
  EXPECT_TRUE(at::equal(gather_targets({10, 11, 12}, {2, 0}, torch::kCPU), at::tensor({12, 10}, at::kLong)));
  EXPECT_ANY_THROW(left_padded_batch({{}}, {0}, 0, torch::kCPU));
}


// ---- micro-batches ------------------------------------------------------------------

// Scoring a batch as micro-batches of 1 and 3 rows gives the unsplit batch's scores,
// sums and frozen sets: partners still come from the whole batch, and a row's
// gradient does not depend on the other rows. Prompts of different lengths (padding)
// and 2-token answers; q and mlp_in (per head and whole); pairs 2, sum and max.
TEST(Eigenprune, MicroBatchesScoreLikeTheWholeBatch) {
  for (const char* fixture : {"tiny-gpt2", "tiny-phi"}) {
    auto model = load(fixture);
    const auto decs = decompose(*model, {MatrixKind::Q, MatrixKind::MlpIn}, {});
    const Examples e = make_examples(11, 5, 3, 6, 2);
    const auto batches = make_scoring_batches(11, 5, 3);  // batches of 5 and 6 rows
    for (PositionReduce reduce : {PositionReduce::Sum, PositionReduce::Max}) {
      ScoreOptions opts;
      opts.reduce = reduce;
      opts.pairs = 2;
      opts.positions = longest_teacher_forced_input(e.prompts, e.answers);
      const ScoreState whole = score_all(*model, decs, Scorer(decs, opts), e, batches);
      for (int64_t micro : {1, 3}) {
        SCOPED_TRACE(fmt::format("{} reduce={} micro_batch={}", fixture, name_of(reduce), micro));
        opts.micro_batch = micro;
        const ScoreState split = score_all(*model, decs, Scorer(decs, opts), e, batches);
        // Equal up to float32 rounding: a forward over fewer rows may take other BLAS
        // blocking paths (measured here: scores <= 8e-7, sums <= 1.5e-7 relative).
        EXPECT_CLOSE(split.max_delta(), whole.max_delta(), 1e-5);
        EXPECT_CLOSE(split.sums(), whole.sums(), 1e-6);
        const auto a = rank_components(whole.max_delta()), b = rank_components(split.max_delta());
        for (double p : {0.05, 0.3}) EXPECT_EQ(select_lowest(a, p), select_lowest(b, p)) << "p = " << p;
      }
      opts.micro_batch = 0;
    }
  }
}

TEST(Eigenprune, MicroBatchRowsFromRowAndTokenLimits) {
  ScoreOptions o;
  EXPECT_EQ(micro_batch_rows(o, 8, 100), 8);  // no limit: the batch
  o.micro_batch_tokens = 350;
  EXPECT_EQ(micro_batch_rows(o, 8, 100), 3);  // 3 rows of 100 padded tokens fit 350
  EXPECT_EQ(micro_batch_rows(o, 8, 500), 1);  // never fewer than one row
  o.micro_batch = 2;
  EXPECT_EQ(micro_batch_rows(o, 8, 100), 2);  // the tighter limit wins
  o.micro_batch_tokens = 0;
  EXPECT_EQ(micro_batch_rows(o, 1, 100), 1);
}


// The memory estimate's parameter count against the models themselves (biases and
// norms are left out of the estimate: within 2% at these widths).
TEST(MemoryEstimate, ParameterCountMatchesTheModels) {
  for (Arch arch : {Arch::GPT2, Arch::Phi, Arch::Llama}) {
    ModelShape shape;
    shape.arch = arch;
    shape.layers = 3;
    shape.hidden = 128;
    shape.heads = 4;
    shape.kv_heads = arch == Arch::Llama ? 2 : 0;
    shape.intermediate = 256;
    shape.max_positions = 64;
    const ModelConfig c = shape_config(shape, 1000, 0, 0);
    auto model = init_causal_lm(c, 1, LoadOptions{});
    int64_t counted = 0;
    for (const auto& [name, t] : model->named_parameters()) counted += t.numel();
    EXPECT_NEAR(static_cast<double>(parameter_count(c)) / static_cast<double>(counted), 1.0, 0.02) << name_of(arch);
  }
}

TEST(MemoryEstimate, MicroBatchBudgetFromFreeMemory) {
  ModelShape shape;
  shape.layers = 4;
  shape.hidden = 64;
  shape.heads = 4;
  shape.max_positions = 128;
  const ModelConfig c = shape_config(shape, 1000, 0, 0);
  const int64_t per_token = activation_bytes_per_token(c, 100, 4);
  // 4 layers x (18*64 + 4*256 + 5*4*100) x 4/2 bytes
  EXPECT_EQ(per_token, 4 * (18 * 64 + 4 * 256 + 5 * 4 * 100) * 2);
  const std::vector<MatrixKind> k{MatrixKind::K};
  EXPECT_EQ(micro_batch_tokens_for(c, k, 8, 100, 4, 8 * 100 * per_token * 2), 0);  // the batch fits
  const int64_t free = 4 * 100 * per_token;  // 3/4 of it: room for ~3 rows after the projections
  const int64_t tokens = micro_batch_tokens_for(c, k, 8, 100, 4, free);
  EXPECT_GE(tokens, 100);
  EXPECT_LT(tokens, 300);
  ScoreOptions o;
  o.micro_batch_tokens = tokens;
  EXPECT_EQ(micro_batch_rows(o, 8, 100), tokens / 100);
  try {
    micro_batch_tokens_for(c, k, 8, 100, 4, per_token * 50);
    FAIL() << "half a row's memory was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scoring does not fit: one row of 100 tokens"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ep
