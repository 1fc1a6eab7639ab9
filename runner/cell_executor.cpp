// One grid cell end to end on the ranks of one group (see cell_executor.h).
//
// Determinism: everything a result depends on comes from the grid's seeds (task
// splits, fine-tuning batch order, scoring batches and their partners); ranks only
// decide who computes which batch or example. Scoring state is merged with exact
// max and float64 sums, evaluation results are gathered by example index, so the
// result does not depend on the number of ranks.
#ifdef EPRUNNER_WITH_MODELS

#include "runner/cell_executor.h"

#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "core/model/causal_lm.h"
#include "core/prune/decompose.h"
#include "core/prune/batching.h"
#include "core/prune/evaluate.h"
#include "core/prune/freeze.h"
#include "core/prune/score.h"
#include "core/prune/scoring_batches.h"
#include "core/prune/select.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/util/error.h"
#include "distributed/agreement.h"
#include "distributed/communicator.h"
#include "distributed/device.h"
#include "experiments/finetune.h"
#include "experiments/load_task.h"
#include "experiments/task_metrics.h"
#include "experiments/tokenized_task.h"
#include "runner/progress.h"

namespace ep::runner {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

uint64_t or_grid_seed(uint64_t seed, const grid::Grid& g) { return seed != 0 ? seed : g.seed; }

torch::ScalarType dtype_from_name(const std::string& name) {
  if (name == "fp32") return torch::kFloat32;
  if (name == "bf16") return torch::kBFloat16;
  if (name == "fp16") return torch::kHalf;
  EP_FAIL("unknown dtype \"{}\" (expected fp32, bf16 or fp16)", name);
}

// A test-only hook (tests/cli/grid_failures.sh): EPRUNNER_TEST_FAIL="CELL:RANK:STAGE[,...]"
// makes group rank RANK throw at STAGE (load, score, evaluate) of cell CELL, so the
// tests can show that one rank's failure ends the cell on every rank and no rank hangs.
void inject_test_failure(const Cell& cell, int group_rank, std::string_view stage) {
  const char* env = std::getenv("EPRUNNER_TEST_FAIL");
  if (!env) return;
  const std::string here = fmt::format("{}:{}:{}", cell.name, group_rank, stage), specs = std::string(",") + env + ",";
  if (specs.find("," + here + ",") == std::string::npos) return;
  EP_FAIL("injected failure (EPRUNNER_TEST_FAIL) at {} of cell {} on group rank {}", stage, cell.name, group_rank);
}

// ---- the model a group holds ---------------------------------------------------------

ModelConfig init_config(const grid::InitShape& s, const BpeTokenizer& tok) {
  ModelConfig c;
  c.arch = s.arch == "phi" ? Arch::Phi : s.arch == "llama" ? Arch::Llama : Arch::GPT2;
  c.model_type = s.arch;
  c.vocab_size = s.vocab > 0 ? s.vocab : tok.vocab_size();
  c.max_positions = s.max_positions;
  c.hidden = s.hidden;
  c.n_layers = s.layers;
  c.n_heads = s.heads;
  EP_CHECK(s.heads > 0 && s.hidden % s.heads == 0, "models.init: hidden = {} is not a multiple of heads = {}",
           s.hidden, s.heads);
  c.head_dim = s.hidden / s.heads;
  c.intermediate = s.intermediate > 0 ? s.intermediate : 4 * s.hidden;
  // ref: GPT-2 ties lm_head to wte, Phi-2 does not, small Llamas (SmolLM2) do.
  c.tie_word_embeddings = c.arch != Arch::Phi;
  if (c.arch == Arch::Phi) {
    c.partial_rotary_factor = s.partial_rotary_factor;
    c.rotary_dim = static_cast<int64_t>(static_cast<double>(c.head_dim) * s.partial_rotary_factor);
  }
  if (c.arch == Arch::Llama) {  // ref: LlamaConfig defaults: silu, rms_norm_eps 1e-6, rope_theta 10000
    c.n_kv_heads = s.kv_heads > 0 ? s.kv_heads : s.heads;
    c.activation = "silu";
    c.layer_norm_eps = 1e-6;
    c.rotary_dim = c.head_dim;
  }
  c.bos_token_id = tok.bos_id();
  c.eos_token_id = tok.eos_id();
  return c;
}

struct HeldModel {
  int index = -1;  // grid model index
  std::unique_ptr<BpeTokenizer> tokenizer;
  std::unique_ptr<CausalLM> model;
  std::vector<torch::Tensor> pristine;  // parameters before fine-tuning (only when the model fine-tunes)
};

void load_model(HeldModel& held, const grid::Grid& g, int index, torch::Device device) {
  const grid::ModelSpec& spec = g.models[index];
  held = HeldModel{};
  held.tokenizer = std::make_unique<BpeTokenizer>(BpeTokenizer::load(spec.tokenizer));
  LoadOptions lo;
  lo.dtype = dtype_from_name(g.eigenprune.dtype);
  lo.device = device;
  if (spec.checkpoint) {
    held.model = load_causal_lm(*spec.checkpoint, lo);
  } else {
    EP_CHECK(spec.init.has_value(), "model \"{}\" has neither a checkpoint nor an init shape", spec.name);
    held.model = init_causal_lm(init_config(*spec.init, *held.tokenizer), or_grid_seed(spec.init->seed, g), lo);
  }
  if (spec.finetune) {
    torch::NoGradGuard no_grad;
    for (auto& [name, p] : held.model->named_parameters()) held.pristine.push_back(p.detach().clone());
  }
  held.index = index;
}

// Fine-tuning changes the weights; the next cell of the same model starts from the
// loaded ones again.
void restore_pristine(HeldModel& held) {
  if (held.pristine.empty()) return;
  torch::NoGradGuard no_grad;
  auto params = held.model->named_parameters();
  for (size_t i = 0; i < params.size(); ++i) params[i].second.copy_(held.pristine[i]);
}

// ---- the task ------------------------------------------------------------------------

struct CellTask {
  TokenizedTask train, validation, test;
  EvalSet train_eval, validation_eval, test_eval;
  bool lm_eval = false;  // scored by choice log-likelihood
};

// Unset `bos`: the paper's code prepends BOS (GPT-2 folders); a GGUF file says itself.
bool prepends_bos(const grid::TaskSpec& task, const grid::ModelSpec& model, const BpeTokenizer& tok) {
  if (task.bos) return *task.bos;
  return model.tokenizer.extension() == ".gguf" ? tok.add_bos() : true;
}

CellTask build_cell_task(const grid::Grid& g, const grid::TaskSpec& spec, bool prepend_bos, const BpeTokenizer& tok) {
  TaskSpec ts(spec.kind, spec.prompt_set, spec.data_dir.value_or(std::filesystem::path{}));
  ts.split.test_fraction = spec.split.test_fraction;
  ts.split.validation_fraction = spec.split.validation_fraction;
  ts.split.max_train = spec.split.max_train;
  ts.split.max_validation = spec.split.max_validation;
  ts.split.max_test = spec.split.max_test;
  ts.split.seed = or_grid_seed(spec.split.seed, g);
  const TaskSplits splits = load_task(ts);
  TokenizeOptions to;
  to.prepend_bos = prepend_bos;
  CellTask t;
  t.train = tokenize_task(splits.train, tok, to);
  t.validation = tokenize_task(splits.validation, tok, to);
  t.test = tokenize_task(splits.test, tok, to);
  EP_CHECK(t.train.examples.size() >= 2, "task \"{}\": {} training examples; scoring pairs examples, so it needs at least 2",
           spec.name, t.train.examples.size());
  t.train_eval = to_eval_set(t.train);
  t.validation_eval = to_eval_set(t.validation);
  t.test_eval = to_eval_set(t.test);
  t.lm_eval = t.test.scoring == Scoring::ChoiceLogLikelihood;
  return t;
}


// ---- sharded evaluation ----------------------------------------------------------------

template <class T>
void put(dist::Bytes& b, const std::vector<T>& v) {
  const uint64_t n = v.size();
  const auto* pn = reinterpret_cast<const uint8_t*>(&n);
  b.insert(b.end(), pn, pn + sizeof(n));
  const auto* pv = reinterpret_cast<const uint8_t*>(v.data());
  b.insert(b.end(), pv, pv + n * sizeof(T));
}

template <class T>
std::vector<T> take(const dist::Bytes& b, size_t& at) {
  uint64_t n = 0;
  EP_CHECK(at + sizeof(n) <= b.size(), "internal: truncated evaluation buffer from a group member");
  std::memcpy(&n, b.data() + at, sizeof(n));
  at += sizeof(n);
  EP_CHECK(at + n * sizeof(T) <= b.size(), "internal: truncated evaluation buffer from a group member");
  std::vector<T> v(n);
  if (n) std::memcpy(v.data(), b.data() + at, n * sizeof(T));
  at += n * sizeof(T);
  return v;
}

// What one example's evaluation gives, whatever the metric.
struct ExampleOutcomes {
  std::vector<uint8_t> correct, choice_correct;  // see EvalResult
  std::vector<int64_t> predicted;         // token id (vocab argmax)
  std::vector<int64_t> choice_predicted;  // index into the candidate answers (restricted argmax)
  std::vector<int64_t> loglik_choice;     // choice index (lm-eval), else empty
  std::vector<double> loss;
};

// This rank evaluates examples i with i % size == rank; everyone gets all outcomes
// in example order.
ExampleOutcomes evaluate_sharded(CausalLM& model, const TokenizedTask& task, const EvalSet& set, bool lm_eval,
                                 int64_t batch_size, int64_t pad_id, dist::Communicator& comm) {
  const int64_t n = static_cast<int64_t>(set.prompts.size());
  std::vector<int64_t> rows;
  for (int64_t i = comm.rank(); i < n; i += comm.size()) rows.push_back(i);
  dist::Bytes mine;
  put(mine, rows);
  if (!rows.empty()) {
    const EvalResult r = evaluate(model, set, EvalOptions{batch_size, pad_id}, rows);
    put(mine, r.correct);
    put(mine, r.choice_correct);
    put(mine, r.predicted);
    put(mine, r.choice_predicted);
    put(mine, r.loss);
    std::vector<int64_t> lc;
    if (lm_eval) lc = evaluate_choices(model, task, ChoiceEvalOptions{batch_size, pad_id}, rows).predicted;
    put(mine, lc);
  } else {
    put(mine, std::vector<uint8_t>{});
    put(mine, std::vector<uint8_t>{});
    put(mine, std::vector<int64_t>{});
    put(mine, std::vector<int64_t>{});
    put(mine, std::vector<double>{});
    put(mine, std::vector<int64_t>{});
  }
  ExampleOutcomes all;
  all.correct.assign(n, 0);
  all.choice_correct.assign(n, 0);
  all.predicted.assign(n, -1);
  all.choice_predicted.assign(n, -1);
  all.loss.assign(n, 0.0);
  if (lm_eval) all.loglik_choice.assign(n, -1);
  for (const dist::Bytes& b : comm.all_gather_bytes(mine)) {
    size_t at = 0;
    const auto r = take<int64_t>(b, at);
    const auto ok = take<uint8_t>(b, at);
    const auto cok = take<uint8_t>(b, at);
    const auto pred = take<int64_t>(b, at);
    const auto cpred = take<int64_t>(b, at);
    const auto loss = take<double>(b, at);
    const auto lc = take<int64_t>(b, at);
    for (size_t k = 0; k < r.size(); ++k) {
      all.correct[r[k]] = ok[k];
      all.choice_correct[r[k]] = cok[k];
      all.predicted[r[k]] = pred[k];
      all.choice_predicted[r[k]] = cpred[k];
      all.loss[r[k]] = loss[k];
      if (lm_eval) all.loglik_choice[r[k]] = lc[k];
    }
  }
  return all;
}

// The metric the grid asks for, as the results file keeps it. `predicted` holds a
// token id for full-vocab (see EvalResult::predicted), a choice index for choices
// and lm-eval (-1: a multi-token prefix that is no choice).
SplitResult to_split_result(const ExampleOutcomes& o, const TokenizedTask& task, const std::string& metric,
                            bool lm_eval) {
  SplitResult s;
  s.n = static_cast<int64_t>(o.loss.size());
  s.metric = lm_eval ? "choice-loglik" : metric;
  double loss_sum = 0, right = 0;
  for (int64_t i = 0; i < s.n; ++i) {
    const TokenizedExample& ex = task.examples[i];
    int64_t pred = 0;
    bool ok = false;
    if (lm_eval) {
      pred = o.loglik_choice[i];
      ok = pred == ex.answer;
    } else if (metric == "choices") {
      pred = o.choice_predicted[i];
      ok = o.choice_correct[i] != 0;
    } else {
      pred = o.predicted[i];
      ok = o.correct[i] != 0;
    }
    s.predicted.push_back(pred);
    s.correct.push_back(ok ? 1 : 0);
    right += ok ? 1 : 0;
    loss_sum += o.loss[i];
  }
  s.accuracy = s.n ? right / static_cast<double>(s.n) : std::numeric_limits<double>::quiet_NaN();
  s.loss = s.n ? loss_sum / static_cast<double>(s.n) : std::numeric_limits<double>::quiet_NaN();
  return s;
}

std::vector<int64_t> targets_of(const TokenizedTask& task, const std::string& metric, bool lm_eval) {
  std::vector<int64_t> t;
  for (const auto& ex : task.examples) t.push_back(lm_eval || metric == "choices" ? ex.answer : ex.answer_id);
  return t;
}

// ---- scores and masks as [L, B, R] arrays per matrix kind --------------------------------

template <class T>
Array<T> per_kind(const std::vector<Decomposition>& decs, MatrixKind kind, const torch::Tensor& flat /* [N] */) {
  Array<T> a;
  std::vector<torch::Tensor> rows;
  int64_t nb = 0, r = 0;
  for (const auto& d : decs) {
    if (d.matrix.kind != kind) continue;
    nb = d.n_blocks();
    r = d.rank();
    rows.push_back(flat.slice(0, d.offset, d.offset + d.size()));
  }
  const torch::Tensor t = torch::stack(rows).reshape({static_cast<int64_t>(rows.size()), nb, r}).contiguous();
  a.shape = {t.size(0), nb, r};
  a.data.assign(t.data_ptr<T>(), t.data_ptr<T>() + t.numel());
  return a;
}

MatrixScores matrix_scores(const std::vector<Decomposition>& decs, MatrixKind kind, const ScoreState& state) {
  MatrixScores m;
  m.delta_loss = per_kind<float>(decs, kind, state.max_delta().to(torch::kCPU, torch::kFloat32));
  std::vector<torch::Tensor> means;
  torch::Tensor s_flat = torch::zeros({total_components(decs)}, torch::kFloat32);  // [N] by global index
  for (size_t i = 0; i < decs.size(); ++i) {
    const Decomposition& d = decs[i];
    s_flat.slice(0, d.offset, d.offset + d.size()).copy_(d.s.reshape({-1}).to(torch::kCPU, torch::kFloat32));
    if (d.matrix.kind == kind) means.push_back(state.x_mean(i).to(torch::kCPU, torch::kFloat32));
  }
  m.singular_values = per_kind<float>(decs, kind, s_flat);
  const torch::Tensor mean = torch::stack(means).contiguous();  // [L, P, I]
  m.activation_mean.shape = {mean.size(0), mean.size(1), mean.size(2)};
  m.activation_mean.data.assign(mean.data_ptr<float>(), mean.data_ptr<float>() + mean.numel());
  const torch::Tensor counts = state.counts().to(torch::kCPU, torch::kInt64).contiguous();
  m.position_count.shape = {counts.size(0)};
  m.position_count.data.assign(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + counts.numel());
  return m;
}

// ---- the executor --------------------------------------------------------------------------

class Executor {
 public:
  explicit Executor(ExecutorOptions opts) : opts_(opts) {}

  // Every rank of the group runs this; a failure on any rank ends the cell on all of
  // them with the same error (distributed/agreement.h), and the group goes on.
  CellResult operator()(const grid::Grid& g, const Cell& cell, const GroupContext& ctx) {
    // The group's communicator lives as long as the executor: creating one (an NCCL
    // init) costs seconds at scale, and a group keeps its ranks and device.
    if (!comm_ || comm_group_ != ctx.group_index) {
      comm_ = std::make_unique<dist::AgreeingCommunicator>(ctx.group);
      comm_group_ = ctx.group_index;
    }
    dist::AgreeingCommunicator& comm = *comm_;
    CellResult res;
    dist::agree_on_failure(comm, [&] {
      const torch::Device device = dist::rank_device(g.eigenprune.uses_cuda(), ctx.world, g.layout.gpus_per_node);
      if (!comm.connected()) comm.connect([&] { return dist::make_communicator(ctx.group, device); });
      res = run(g, cell, ctx, device, comm);
    });
    comm.checkpoint();  // a failure after the last collective still reaches every rank
    return res;
  }

 private:
  CellResult run(const grid::Grid& g, const Cell& cell, const GroupContext& ctx, const torch::Device& device,
                 dist::AgreeingCommunicator& comm) {
    const auto t_total = Clock::now();
    if (opts_.threads > 0) at::set_num_threads(opts_.threads);
    const grid::EigenpruneSpec& ep = g.eigenprune;
    const grid::TaskSpec& task_spec = g.tasks[cell.task];
    const grid::ModelSpec& model_spec = g.models[cell.model];

    CellResult res;
    res.index = cell.index;
    res.name = cell.name;
    res.model = model_spec.name;
    res.task = task_spec.name;
    res.fingerprint = cell.fingerprint;
    res.ran_on = fmt::format("group {}: world ranks {}-{}, {} ({})", ctx.group_index, ctx.world_rank - ctx.group_rank,
                             ctx.world_rank - ctx.group_rank + ctx.group_size - 1, device.str(), comm.backend());

    // 1. The model, once per group and model.
    auto t = Clock::now();
    inject_test_failure(cell, comm.rank(), "load");
    if (held_.index != cell.model) {
      spdlog::info("cell {}: loading model {}", cell.name, model_spec.name);
      load_model(held_, g, cell.model, device);
    }
    CausalLM& model = *held_.model;
    const BpeTokenizer& tok = *held_.tokenizer;
    const int64_t pad_id = tok.eos_id().value_or(0);
    res.timings["load"] = seconds_since(t);

    // 2. The task: prompts, answer tokens, splits.
    t = Clock::now();
    const CellTask task = build_cell_task(g, task_spec, prepends_bos(task_spec, model_spec, tok), tok);
    res.timings["task"] = seconds_since(t);

    // 3. Fine-tuning (data parallel: each rank its shard of every batch, gradients summed).
    t = Clock::now();
    struct Restore {
      HeldModel& h;
      ~Restore() { restore_pristine(h); }
    } restore{held_};
    if (model_spec.finetune) res.finetune_loss = finetune_model(g, cell, *model_spec.finetune, task, pad_id, comm);
    res.timings["finetune"] = seconds_since(t);

    // 4. Decompose the chosen matrices.
    t = Clock::now();
    std::vector<MatrixKind> kinds;
    for (const auto& m : ep.matrices) kinds.push_back(matrix_kind_from_name(m));
    DecomposeOptions dopts;
    dopts.granularity = granularity_from_name(ep.granularity);
    dopts.route = svd_route_from_name(ep.svd);
    const std::vector<Decomposition> decs = decompose(model, kinds, dopts);
    res.timings["decompose"] = seconds_since(t);

    // 5. Score this rank's batches, then merge across the group (max exact, sums float64).
    t = Clock::now();
    ScoreOptions sopts;
    sopts.reduce = position_reduce_from_name(ep.position_reduction);
    sopts.pairs = ep.pairs;
    sopts.positions = longest_teacher_forced_input(task.train_eval.prompts, task.train_eval.answers);
    const Scorer scorer(decs, sopts);
    ScoreState state = scorer.make_state(device);
    const auto batches = make_scoring_batches(static_cast<int64_t>(task.train_eval.prompts.size()), ep.batch_size, g.seed);
    const auto mine = batches_for_rank(batches, comm.rank(), comm.size());
    inject_test_failure(cell, comm.rank(), "score");
    score_examples(model, scorer, task.train_eval.prompts, task.train_eval.answers, mine, pad_id, state);
    // A max all-reduce may drop a NaN (it depends on the library and the order): check
    // on each rank before reducing; a failure here is agreed on by the next collective.
    EP_CHECK(!torch::isnan(state.max_delta()).any().item<bool>(),
             "cell {}: a ΔL score is NaN on this rank (the model's loss or gradients overflowed; try dtype = \"fp32\")",
             cell.name);
    comm.all_reduce(state.max_delta(), dist::ReduceOp::Max);
    comm.all_reduce(state.sums(), dist::ReduceOp::Sum);
    const torch::Tensor scores = state.max_delta();
    EP_CHECK(!torch::isnan(scores).any().item<bool>(),
             "cell {}: a ΔL score is NaN (the model's loss or gradients overflowed; try dtype = \"fp32\")", cell.name);
    res.examples += static_cast<int64_t>(task.train_eval.prompts.size());
    if (ctx.progress) ctx.progress->add_examples(static_cast<int64_t>(task.train_eval.prompts.size()));
    res.timings["score"] = seconds_since(t);

    // 6. Evaluate the base model and every p from the same scoring pass.
    t = Clock::now();
    const int64_t eval_bs = ep.eval_batch_size > 0 ? ep.eval_batch_size : ep.batch_size;
    auto evaluate_all = [&]() {
      Evaluation e;
      e.test = to_split_result(evaluate_sharded(model, task.test, task.test_eval, task.lm_eval, eval_bs, pad_id, comm),
                               task.test, task_spec.metric, task.lm_eval);
      if (!task.validation.examples.empty())
        e.validation = to_split_result(
            evaluate_sharded(model, task.validation, task.validation_eval, task.lm_eval, eval_bs, pad_id, comm),
            task.validation, task_spec.metric, task.lm_eval);
      const int64_t n = e.test.n + e.validation.n;
      res.examples += n;
      if (ctx.progress) ctx.progress->add_examples(n);
      return e;
    };
    inject_test_failure(cell, comm.rank(), "evaluate");
    res.base = evaluate_all();
    const std::vector<int64_t> ranking = rank_components(scores);
    FreezeOptions fopts;
    fopts.bias = bias_mode_from_name(ep.bias);
    for (double p : ep.p) {
      PrunedResult pr;
      pr.p = p;
      const std::vector<int64_t> frozen = select_lowest(ranking, p);
      pr.n_frozen = static_cast<int64_t>(frozen.size());
      {
        ScopedFreeze freeze(model, decs, state, frozen, fopts);
        pr.eval = evaluate_all();
      }
      const torch::Tensor mask = frozen_mask(total_components(decs), frozen).to(torch::kUInt8);
      for (MatrixKind k : kinds) pr.masks[std::string(matrix_kind_name(k))] = per_kind<uint8_t>(decs, k, mask);
      res.pruned.push_back(std::move(pr));
    }
    res.timings["evaluate"] = seconds_since(t);

    for (MatrixKind k : kinds) res.scores[std::string(matrix_kind_name(k))] = matrix_scores(decs, k, state);
    res.test_targets = targets_of(task.test, task_spec.metric, task.lm_eval);
    res.validation_targets = targets_of(task.validation, task_spec.metric, task.lm_eval);
    for (size_t i = 0; i < task.test.examples.size(); ++i) res.test_ids.push_back(static_cast<int64_t>(i));
    for (size_t i = 0; i < task.validation.examples.size(); ++i) res.validation_ids.push_back(static_cast<int64_t>(i));
    res.timings["total"] = seconds_since(t_total);
    spdlog::info("cell {}: base test accuracy {:.4f}; done in {:.1f} s", cell.name, res.base.test.accuracy,
                 res.timings["total"]);
    return res;
  }

  std::vector<float> finetune_model(const grid::Grid& g, const Cell& cell, const grid::FineTuneSpec& ft,
                                    const CellTask& task, int64_t pad_id, dist::AgreeingCommunicator& comm) {
    FinetuneOptions fo;
    fo.lr = ft.lr;
    fo.batch_size = ft.batch_size;
    fo.epochs = ft.epochs;
    fo.weight_decay = ft.weight_decay;
    fo.seed = or_grid_seed(ft.seed, g);
    fo.pad_id = pad_id;
    fo.shard_rank = comm.rank();
    fo.shard_count = comm.size();
    // One agreement per step, then the step's gradients (no work between them).
    fo.reduce_gradients = [&comm](std::vector<torch::Tensor>& grads) {
      comm.checkpoint();
      for (auto& gr : grads) comm.unchecked().all_reduce(gr, dist::ReduceOp::Sum);
    };
    // A requeued or killed run resumes fine-tuning where its checkpoint left off.
    const std::filesystem::path dir = g.output.string() + ".finetune";
    std::filesystem::create_directories(dir);
    fo.checkpoint = dir / (cell.name + "." + cell.fingerprint + ".ckpt");
    fo.checkpoint_every = 500;
    int64_t total = 0;
    fo.on_step = [&](const FinetuneStep& s) {
      total = s.total_steps;
      if (s.step % 200 == 0 || s.step == s.total_steps)
        spdlog::info("cell {}: fine-tuning step {}/{} loss {:.4f}", cell.name, s.step, s.total_steps, s.loss);
    };
    const FinetuneResult r = finetune(*held_.model, task.train, fo);
    std::error_code ec;
    std::filesystem::remove(fo.checkpoint, ec);  // the cell's result will be durable; the checkpoint is not needed
    std::vector<float> losses(r.losses.begin(), r.losses.end());
    return losses;
  }

  ExecutorOptions opts_;
  HeldModel held_;
  std::unique_ptr<dist::AgreeingCommunicator> comm_;
  int comm_group_ = -1;
};

}  // namespace

CellExecutor make_cell_executor(const ExecutorOptions& opts) {
  auto ex = std::make_shared<Executor>(opts);
  return [ex](const grid::Grid& g, const Cell& c, const GroupContext& ctx) { return (*ex)(g, c, ctx); };
}

}  // namespace ep::runner

#endif  // EPRUNNER_WITH_MODELS
