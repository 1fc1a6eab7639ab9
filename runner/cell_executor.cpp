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
#include <filesystem>
#include <fstream>
#include <memory>

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "core/model/causal_lm.h"
#include "core/model/memory_estimate.h"
#include "core/prune/batching.h"
#include "core/prune/decompose.h"
#include "core/prune/evaluate.h"
#include "core/prune/freeze.h"
#include "core/prune/methods.h"
#include "core/prune/official_recipe.h"
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
#include "experiments/split_evaluation.h"
#include "experiments/task_metrics.h"
#include "experiments/tokenized_task.h"
#include "runner/cell_codec.h"
#include "runner/cell_memory.h"
#include "runner/progress.h"
#include "runner/prune_options.h"
#include "runner/score_arrays.h"

namespace ep::runner {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

uint64_t or_grid_seed(uint64_t seed, const grid::Grid& g) { return seed != 0 ? seed : g.seed; }

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

struct HeldModel {
  int index = -1;  // grid model index
  std::unique_ptr<BpeTokenizer> tokenizer;
  std::unique_ptr<CausalLM> model;
  std::vector<torch::Tensor> pristine;  // parameters before fine-tuning (only when the model fine-tunes)
};

// The tokenizer first (the task and the memory check need it), the weights once the
// cell is known to fit.
void load_tokenizer(HeldModel& held, const grid::Grid& g, int index) {
  held = HeldModel{};
  require_model_files(g.models[index], g.source);
  held.tokenizer = std::make_unique<BpeTokenizer>(BpeTokenizer::load(g.models[index].tokenizer));
  held.index = index;
}

void load_weights(HeldModel& held, const grid::Grid& g, torch::Device device) {
  const grid::ModelSpec& spec = g.models[held.index];
  LoadOptions lo;
  lo.dtype = scalar_type(g.eigenprune.dtype);
  lo.device = device;
  if (spec.checkpoint) {
    held.model = load_causal_lm(*spec.checkpoint, lo);
  } else {
    EP_CHECK(spec.init.has_value(), "model \"{}\" has neither a checkpoint nor an init shape", spec.name);
    const BpeTokenizer& tok = *held.tokenizer;
    held.model = init_causal_lm(shape_config(*spec.init, tok.vocab_size(), tok.bos_id(), tok.eos_id()),
                                or_grid_seed(spec.init->seed, g), lo);
  }
  if (spec.finetune) {
    torch::NoGradGuard no_grad;
    for (auto& [name, p] : held.model->named_parameters()) held.pristine.push_back(p.detach().clone());
  }
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
};

CellTask build_cell_task(const grid::Grid& g, const grid::TaskSpec& spec, bool prepend_bos, const BpeTokenizer& tok) {
  TaskSpec ts(spec.kind, spec.prompt_set, spec.data_dir.value_or(std::filesystem::path{}));
  ts.split = spec.split;
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
  return t;
}


// LASER's interventions: the grid's layer sets, or every layer on its own (its search).
std::vector<std::vector<int64_t>> laser_layer_sets(const grid::LaserSpec& laser, int64_t n_layers) {
  if (!laser.layers.empty()) return laser.layers;
  std::vector<std::vector<int64_t>> each;
  for (int64_t l = 0; l < n_layers; ++l) each.push_back({l});
  return each;
}

// Checked as soon as the model's depth is known: a typo in [laser] layers should not
// cost a scoring pass first.
void check_laser_layers(const grid::Grid& g, int64_t n_layers, const Cell& cell) {
  if (!g.laser) return;
  for (const auto& set : g.laser->layers)
    for (int64_t l : set)
      EP_CHECK(l < n_layers, "cell {}: [laser] layers names layer {}, but model \"{}\" has {} layers (0..{})",
               cell.name, l, g.models[cell.model].name, n_layers, n_layers - 1);
}

// ---- the official recipe ---------------------------------------------------------------

// The paper's code scores the first token of the label: answers of several tokens
// (SmolLM2 spells " 46" as "Ġ", "4", "6") have no official counterpart.
void require_one_token_answers(const CellTask& task, const grid::TaskSpec& spec, const grid::ModelSpec& model,
                               const BpeTokenizer& tok) {
  for (const EvalSet* split : {&task.train_eval, &task.validation_eval, &task.test_eval})
    for (size_t i = 0; i < split->answers.size(); ++i) {
      const std::vector<int64_t>& a = split->answers[i];
      EP_CHECK(a.size() <= 1,
               "task \"{}\" with model \"{}\": the answer to \"{}\" is {} tokens ([{}] = \"{}\"); recipe = "
               "\"official\" is the paper's code, which scores one-token answers only (the label's first token); use "
               "recipe = \"eprunner\" (answers of several tokens, teacher-forced) or a tokenizer that spells each "
               "answer as one token",
               spec.name, model.name, tok.decode(split->prompts[i]), a.size(), fmt::join(a, ", "), tok.decode(a));
    }
}

// A test-only hook (tests/cli/official_recipe.sh): EPRUNNER_TEST_SCORING_DUMP=DIR makes
// rank 0 write DIR/<cell>.json with the scoring batches and the token ids scored and
// evaluated, so that a reference implementation can run the same computation.
void dump_scoring_inputs(const Cell& cell, const CellTask& task, const std::vector<std::vector<int64_t>>& batches,
                         int64_t pad_id, int rank) {
  const char* dir = std::getenv("EPRUNNER_TEST_SCORING_DUMP");
  if (!dir || rank != 0) return;
  nlohmann::json j;
  j["batches"] = batches;
  j["pad_id"] = pad_id;
  j["train_prompts"] = task.train_eval.prompts;
  j["train_answers"] = task.train_eval.answers;
  j["test_prompts"] = task.test_eval.prompts;
  j["test_answers"] = task.test_eval.answers;
  std::ofstream(std::filesystem::path(dir) / (cell.name + ".json")) << j.dump();
}

// ---- sharded evaluation ----------------------------------------------------------------

// Each rank evaluates its shard of the split (experiments/split_score.h), the
// shards are all-gathered, and every rank scores the whole split.
SplitScore evaluate_split(CausalLM& model, const TokenizedTask& task, const EvalSet& set, Metric metric,
                          const EvalOptions& opts, dist::Communicator& comm) {
  const auto n = static_cast<int64_t>(task.examples.size());
  const ExampleOutcomes mine = evaluate_examples(model, task, set, opts, shard_rows(n, comm.rank(), comm.size()));
  std::vector<ExampleOutcomes> shards;
  for (const dist::Bytes& bytes : comm.all_gather_bytes(encode_outcomes(mine))) shards.push_back(decode_outcomes(bytes));
  return score_split(merge_outcomes(shards, n), task, metric);
}

SplitResult to_split_result(const SplitScore& s) {
  SplitResult r;
  r.metric = std::string(name_of(s.metric));
  r.accuracy = s.accuracy;
  r.loss = s.loss;
  r.macro_f1 = s.macro_f1;
  r.n = s.n;
  r.predicted = s.predicted;
  r.correct = s.correct;
  return r;
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
      dist::make_current(device);  // before any CUDA work, the communicator's included
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
    CellResult res;  // the cell's identity and group are the cell loop's to fill
    res.ran_on = fmt::format("{} ({})", device.str(), comm.backend());

    // 1. The tokenizer (a model of another cell is let go: its memory is this cell's),
    // then the task: prompts, answer tokens, splits.
    auto t = Clock::now();
    if (held_.index != cell.model) load_tokenizer(held_, g, cell.model);
    const BpeTokenizer& tok = *held_.tokenizer;
    const int64_t pad_id = tok.eos_id().value_or(0);
    const CellTask task = build_cell_task(g, task_spec, grid::prepends_bos(task_spec, model_spec, tok.add_bos()), tok);
    const int64_t positions = longest_teacher_forced_input(task.train_eval.prompts, task.train_eval.answers);
    res.timings["task"] = seconds_since(t);

    // 2. Will it fit? Refused before the weights load. Then the weights, once per group and model.
    t = Clock::now();
    refuse_if_it_cannot_fit(cell_needs(g, cell, tok, positions), cell, device, held_.model != nullptr);
    inject_test_failure(cell, comm.rank(), "load");
    if (!held_.model) {
      spdlog::info("cell {}: loading model {}", cell.name, model_spec.name);
      load_weights(held_, g, device);
    }
    CausalLM& model = *held_.model;
    check_laser_layers(g, model.config().n_layers, cell);
    res.timings["load"] = seconds_since(t);

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
    const std::vector<Decomposition> decs = decompose(model, ep.matrices, decompose_options(ep));
    res.timings["decompose"] = seconds_since(t);

    // 5. Score this rank's batches, then merge across the group (max exact, sums float64).
    t = Clock::now();
    ScoreOptions sopts = score_options(ep, positions);
    sopts.micro_batch_tokens = scoring_token_budget(ep, model, sopts.positions, device, cell);
    const Scorer scorer(decs, sopts);
    ScoreState state = scorer.make_state(device);
    const auto batches = make_scoring_batches(static_cast<int64_t>(task.train_eval.prompts.size()), ep.batch_size, g.seed);
    const auto mine = batches_for_rank(batches, comm.rank(), comm.size());
    if (ep.recipe == Recipe::Official) require_one_token_answers(task, g.tasks[cell.task], model_spec, tok);
    dump_scoring_inputs(cell, task, batches, pad_id, comm.rank());
    inject_test_failure(cell, comm.rank(), "score");
    score_examples(model, scorer, task.train_eval.prompts, task.train_eval.answers, mine, pad_id, state);
    // Official: x̄ is the last batch's (its rank keeps its sums; SUM below hands them to all).
    if (ep.recipe == Recipe::Official && comm.rank() != rank_of_last_batch(batches.size(), comm.size()))
      state.sums().zero_();
    // A max all-reduce may drop a NaN (it depends on the library and the order): check
    // on each rank before reducing; a failure here is agreed on by the next collective.
    EP_CHECK(!torch::isnan(state.max_delta()).any().item<bool>(),
             "cell {}: a ΔL score is NaN on this rank (the model's loss or gradients overflowed; try dtype = \"fp32\")",
             cell.name);
    comm.all_reduce(state.max_delta(), dist::ReduceOp::Max);
    comm.all_reduce(state.sums(), dist::ReduceOp::Sum);
    const torch::Tensor scores = state.max_delta();
    count_examples(res, ctx, static_cast<int64_t>(task.train_eval.prompts.size()));
    res.timings["score"] = seconds_since(t);

    // 6. Evaluate the base model and every p from the same scoring pass.
    t = Clock::now();
    const EvalOptions eval_opts{ep.eval_batch_size > 0 ? ep.eval_batch_size : ep.batch_size, pad_id};
    auto evaluate_all = [&](std::vector<int64_t>* test_targets, std::vector<int64_t>* validation_targets) {
      Evaluation e;
      const SplitScore test = evaluate_split(model, task.test, task.test_eval, task_spec.metric, eval_opts, comm);
      e.test = to_split_result(test);
      if (test_targets) *test_targets = test.targets;
      if (!task.validation.examples.empty()) {
        const SplitScore val =
            evaluate_split(model, task.validation, task.validation_eval, task_spec.metric, eval_opts, comm);
        e.validation = to_split_result(val);
        if (validation_targets) *validation_targets = val.targets;
      }
      count_examples(res, ctx, e.test.n + e.validation.n);
      return e;
    };
    inject_test_failure(cell, comm.rank(), "evaluate");
    res.base = evaluate_all(&res.test_targets, &res.validation_targets);
    const std::vector<int64_t> ranking = rank_components(scores);
    const FreezeOptions fopts = freeze_options(ep);
    for (double p : ep.p) {
      PrunedResult pr;
      pr.p = p;
      const std::vector<int64_t> frozen = select_lowest(ranking, p);
      pr.n_frozen = static_cast<int64_t>(frozen.size());
      {
        ScopedFreeze freeze(model, decs, state, frozen, fopts);
        pr.eval = evaluate_all(nullptr, nullptr);
      }
      for (MatrixKind k : ep.matrices) pr.masks[std::string(name_of(k))] = frozen_mask_array(decs, k, frozen);
      res.pruned.push_back(std::move(pr));
    }
    res.timings["evaluate"] = seconds_since(t);

    // 7. What eigenpruning is compared with (core/prune/methods.h): the controls from the
    // same decompositions, scores and freeze; LASER from whole-matrix decompositions.
    t = Clock::now();
    auto evaluate_method = [&](MethodResult m, const std::vector<Decomposition>& on, const ScoreState& st,
                               const std::vector<int64_t>& removed, const FreezeOptions& how) {
      m.n_removed = static_cast<int64_t>(removed.size());
      {
        ScopedFreeze freeze(model, on, st, removed, how);
        m.eval = evaluate_all(nullptr, nullptr);
      }
      res.methods.push_back(std::move(m));
    };
    if (g.controls.any()) {
      std::vector<std::pair<MethodResult, std::vector<int64_t>>> controls;  // (what, its ranking)
      if (g.controls.highest) controls.push_back({MethodResult{"highest"}, rank_highest_first(scores)});
      for (uint64_t seed : g.controls.random_seeds) {
        MethodResult m{"random"};
        m.seed = static_cast<int64_t>(seed);
        controls.push_back({m, random_ranking(static_cast<int64_t>(ranking.size()), seed)});
      }
      for (auto& [what, order] : controls)
        for (double p : ep.p) {
          MethodResult m = what;
          m.fraction = p;
          const std::vector<int64_t> frozen = select_lowest(order, p);  // the first int(N·p) of this order
          for (MatrixKind k : ep.matrices) m.masks[std::string(name_of(k))] = frozen_mask_array(decs, k, frozen);
          evaluate_method(std::move(m), decs, state, frozen, fopts);
        }
    }
    if (g.laser) {
      std::vector<int64_t> reduced;  // the layers some set reduces (none named: all)
      for (const auto& set : g.laser->layers) reduced.insert(reduced.end(), set.begin(), set.end());
      const DecomposeOptions whole = laser_decompose_options(ep, reduced);
      const FreezeOptions no_bias = laser_freeze_options();
      const auto sets = laser_layer_sets(*g.laser, model.config().n_layers);
      for (MatrixKind kind : g.laser->matrices) {
        const std::vector<Decomposition> kdecs = decompose(model, {kind}, whole);  // only the layers reduced
        for (const std::vector<int64_t>& layers : sets)
          for (double rho : g.laser->rho) {
            MethodResult m{"laser"};
            m.fraction = rho;
            m.matrix = std::string(name_of(kind));
            m.layers = layers;
            evaluate_method(std::move(m), kdecs, ScoreState{}, laser_components(kdecs, layers, rho), no_bias);
          }
      }
    }
    if (!res.methods.empty()) res.timings["methods"] = seconds_since(t);

    for (MatrixKind k : ep.matrices) res.scores[std::string(name_of(k))] = matrix_scores(decs, k, state);
    for (size_t i = 0; i < task.test.examples.size(); ++i) res.test_ids.push_back(static_cast<int64_t>(i));
    for (size_t i = 0; i < task.validation.examples.size(); ++i) res.validation_ids.push_back(static_cast<int64_t>(i));
    res.timings["total"] = seconds_since(t_total);
    spdlog::info("cell {}: base test accuracy {:.4f}; done in {:.1f} s", cell.name, res.base.test.accuracy,
                 res.timings["total"]);
    return res;
  }

  // The least a cell needs (scoring one row at a time) against what the device has
  // free (plus the weights, when this group already holds the model).
  static void refuse_if_it_cannot_fit(const CellNeeds& n, const Cell& cell, const torch::Device& device,
                                      bool model_resident) {
    const CellMemory& m = n.memory;
    const int64_t free = dist::free_memory_bytes(device) + (model_resident ? m.weights : 0);
    EP_CHECK(m.least() <= free,
             "cell {} cannot fit on {}: it needs at least {} (weights {}, SVD {}, scoring one row of {} tokens "
             "{}, evaluation {}; estimates, see `eprunner plan`) and {} is free; use a larger device, dtype = "
             "\"bf16\", or a smaller batch_size",
             cell.name, device.str(), gib(m.least()), gib(m.weights), gib(m.decompositions), n.positions,
             gib(m.one_row), gib(m.evaluation), gib(free));
  }

  // The grid's micro_batch_tokens, or what the device's free memory holds (0: whole batches).
  static int64_t scoring_token_budget(const grid::EigenpruneSpec& ep, const CausalLM& model, int64_t T,
                                      const torch::Device& device, const Cell& cell) {
    if (ep.micro_batch_tokens > 0) return ep.micro_batch_tokens;
    const int64_t elem = static_cast<int64_t>(c10::elementSize(scalar_type(ep.dtype)));
    const int64_t tokens = micro_batch_tokens_for(model.config(), ep.matrices, ep.batch_size, T, elem,
                                                  dist::free_memory_bytes(device));
    if (tokens > 0)
      spdlog::info("cell {}: scoring in micro-batches of {} tokens (batch {} x {} positions does not fit {})",
                   cell.name, tokens, ep.batch_size, T, device.str());
    return tokens;
  }

  static void count_examples(CellResult& res, const GroupContext& ctx, int64_t n) {
    res.examples += n;
    if (ctx.progress) ctx.progress->add_examples(n);
  }

  std::vector<float> finetune_model(const grid::Grid& g, const Cell& cell, const grid::FineTuneSpec& ft,
                                    const CellTask& task, int64_t pad_id, dist::AgreeingCommunicator& comm) {
    FinetuneOptions fo;
    static_cast<FinetuneSchedule&>(fo) = ft;
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
    fo.on_step = [&](const FinetuneStep& s) {
      if (s.step % 200 == 0 || s.step == s.total_steps)
        spdlog::info("cell {}: fine-tuning step {}/{} loss {:.4f}", cell.name, s.step, s.total_steps, s.loss);
    };
    const FinetuneResult r = finetune(*held_.model, task.train, fo);
    // The cell's result will be durable; the checkpoint is not needed. Only its writer
    // (shard 0) removes it: another rank may get here while shard 0 still writes.
    if (fo.shard_rank == 0) remove_checkpoint(fo.checkpoint);
    return std::vector<float>(r.losses.begin(), r.losses.end());
  }

  // The checkpoint and any temporary file a killed writer left next to it
  // (<checkpoint>.tmp-<pid>; only this cell's group writes them). Best effort.
  static void remove_checkpoint(const std::filesystem::path& checkpoint) {
    std::error_code ec;
    std::filesystem::remove(checkpoint, ec);
    const std::string stale = checkpoint.filename().string() + ".tmp";
    for (std::filesystem::directory_iterator it(checkpoint.parent_path(), ec), end; !ec && it != end; it.increment(ec))
      if (it->path().filename().string().rfind(stale, 0) == 0) std::filesystem::remove(it->path(), ec);
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
