// `eprunner export` (see export_model.h): find the cell and p, rebuild the pruned
// model from the results file, write the HF folder (export_folder.cpp).
//
// Dimensions: L layers, B blocks (heads) per matrix, R components per block, P
// positions (aligned to the end), I a matrix's input features, N all components.
#ifdef EPRUNNER_WITH_MODELS

#include "runner/export_model.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <thread>

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include "core/model/causal_lm.h"
#include "core/model/hf_export.h"
#include "core/model/model_shape.h"
#include "core/prune/batching.h"
#include "core/prune/decompose.h"
#include "core/prune/freeze.h"
#include "core/prune/methods.h"
#include "core/prune/score.h"
#include "core/prune/select.h"
#include "core/tokenizer/bpe_tokenizer.h"
#include "core/util/error.h"
#include "experiments/load_task.h"
#include "experiments/task_metrics.h"
#include "experiments/tokenized_task.h"
#include "runner/cell_memory.h"
#include "runner/export_folder.h"
#include "runner/prune_options.h"
#include "runner/results_guard.h"
#include "runner/schedule.h"

namespace ep::runner {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ", ") + i;
  return s.empty() ? "(none)" : s;
}

std::string matrices_text(const std::vector<MatrixKind>& kinds) {  // "k,mlp_out"
  std::string s;
  for (MatrixKind k : kinds) s += (s.empty() ? "" : ",") + std::string(name_of(k));
  return s;
}

// ---- the cell and p -------------------------------------------------------------------

std::string requested_cell(const ExportRequest& r) {
  if (!r.cell.empty()) {
    EP_CHECK(r.model.empty() && r.task.empty(), "give either --cell or --model and --task, not both");
    return r.cell;
  }
  EP_CHECK(!r.model.empty() && !r.task.empty(), "name the cell to export: --cell NAME, or --model M --task T");
  return cell_name(r.model, r.task);
}

// The listing of cells for messages: "a__b (model a, task b, done)".
std::string list_cells(const ResultsSnapshot& s) {
  std::vector<std::string> items;
  for (const CellSummary& c : s.listed)
    items.push_back(fmt::format("{} (model \"{}\", task \"{}\", {})", c.name, c.model, c.task, name_of(c.status)));
  return join(items);
}

CellSummary find_cell(const ResultsSnapshot& s, const std::string& name, const ExportRequest& r) {
  for (const DamagedCell& d : s.damaged)
    EP_CHECK(d.name != name, "cell '{}' of results file '{}' is damaged: {}", name, r.results.string(), d.why);
  for (const CellSummary& c : s.listed)
    if (c.name == name) return c;
  EP_FAIL("results file '{}' has no cell '{}'{}; its cells: {}", r.results.string(), name,
          r.cell.empty() ? fmt::format(" (model \"{}\", task \"{}\")", r.model, r.task) : "", list_cells(s));
}

bool same_fraction(double a, double b) { return std::abs(a - b) <= 1e-9 * std::max(1.0, std::abs(b)); }

// The exported intervention, in the shape the rebuild reads: p (LASER: rho), the count
// removed, the evaluation and (not LASER) the masks per matrix kind.
struct Intervention {
  std::string method, label;
  PrunedResult as_pruned;
  MatrixKind laser_matrix = MatrixKind::K;  // laser only
  std::vector<int64_t> laser_layers;
};

Intervention eigenpruning_at(const CellResult& cell, const ExportRequest& r) {
  EP_CHECK(r.p.has_value(), "give --p, the prune fraction to export (cell '{}')", cell.name);
  EP_CHECK(!r.seed && !r.rho && r.matrix.empty() && r.layers.empty(),
           "--seed, --matrix, --layers and --rho belong to --method random or laser, not eigenpruning");
  std::vector<std::string> ps;
  for (const PrunedResult& pr : cell.pruned) {
    if (same_fraction(pr.p, *r.p)) {
      Intervention i;
      i.method = "eigenpruning";
      i.label = fmt::format("eigenpruning p={}", pr.p);
      i.as_pruned = pr;
      return i;
    }
    ps.push_back(fmt::format("{:g}", pr.p));
  }
  EP_FAIL("cell '{}' of results file '{}' has no p = {:g}; its p: {}", cell.name, r.results.string(), *r.p, join(ps));
}

bool asked_for(const MethodResult& m, const ExportRequest& r) {
  if (m.method != r.method) return false;
  if (m.method == "laser")
    return m.matrix == r.matrix && m.layers == r.layers && same_fraction(m.fraction, *r.rho);
  return same_fraction(m.fraction, *r.p) && (m.method != "random" || m.seed == *r.seed);
}

Intervention comparison_at(const CellResult& cell, const ExportRequest& r) {
  const bool laser = r.method == "laser", random = r.method == "random";
  EP_CHECK(r.method == "highest" || random || laser,
           "--method must be eigenpruning, highest, random or laser, got '{}'", r.method);
  if (laser) {
    EP_CHECK(!r.matrix.empty() && !r.layers.empty() && r.rho.has_value() && !r.p && !r.seed,
             "--method laser takes --matrix, --layers and --rho (not --p or --seed)");
  } else {
    EP_CHECK(r.p.has_value() && !r.rho && r.matrix.empty() && r.layers.empty() && (random == r.seed.has_value()),
             "--method {} takes --p{} (not --matrix, --layers or --rho{})", r.method, random ? " and --seed" : "",
             random ? "" : " or --seed");
  }
  std::vector<std::string> have;
  for (const MethodResult& m : cell.methods) {
    if (asked_for(m, r)) {
      Intervention i;
      i.method = m.method;
      i.label = m.label();
      i.as_pruned = PrunedResult{m.fraction, m.n_removed, m.eval, m.masks};
      if (laser) {
        i.laser_matrix = parse_name<MatrixKind>(m.matrix, "the stored LASER matrix");
        i.laser_layers = m.layers;
      }
      return i;
    }
    if (m.method == r.method) have.push_back(m.label());
  }
  EP_FAIL("cell '{}' of results file '{}' has no {} that matches; {}", cell.name, r.results.string(), r.method,
          have.empty() ? fmt::format("its grid ran no {} ([controls], [laser]; docs/methods.md)", r.method)
                       : "it has: " + join(have));
}

Intervention requested_intervention(const CellResult& cell, const ExportRequest& r) {
  return r.method == "eigenpruning" ? eigenpruning_at(cell, r) : comparison_at(cell, r);
}

// ---- the grid and the model ---------------------------------------------------------------

struct RunSetup {
  grid::Grid grid;
  int model = -1, task = -1;
  Provenance run;
};

RunSetup grid_of_cell(const ResultsSnapshot& s, const CellSummary& summary, const CellResult& cell,
                      const ExportRequest& r, std::ostream& log) {
  RunSetup setup;
  setup.run = s.run_provenance(summary.run);
  EP_CHECK(!setup.run.grid_text.empty(), "results file '{}' holds no grid text for the run of cell '{}'",
           r.results.string(), cell.name);
  try {
    setup.grid = grid::parse(setup.run.grid_text, setup.run.grid_path);
  } catch (const Error& e) {
    EP_FAIL("the grid stored in results file '{}' (from {}) no longer parses: {}", r.results.string(),
            setup.run.grid_path, e.what());
  }
  const grid::Grid& g = setup.grid;
  for (size_t i = 0; i < g.models.size(); ++i)
    if (g.models[i].name == cell.model) setup.model = static_cast<int>(i);
  for (size_t i = 0; i < g.tasks.size(); ++i)
    if (g.tasks[i].name == cell.task) setup.task = static_cast<int>(i);
  EP_CHECK(setup.model >= 0 && setup.task >= 0, "cell '{}': its grid (stored in '{}') has no model \"{}\" or task \"{}\"",
           cell.name, r.results.string(), cell.model, cell.task);
  if (cell_fingerprint(g, setup.model, setup.task) != cell.fingerprint)
    log << fmt::format("eprunner: export: note: cell '{}' has fingerprint {}, its stored grid gives {} (written by "
                       "another eprunner version?); the singular values are checked below\n",
                       cell.name, cell.fingerprint, cell_fingerprint(g, setup.model, setup.task));
  const grid::ModelSpec& m = g.models[setup.model];
  EP_CHECK(!m.finetune, "cell '{}': model \"{}\" is fine-tuned on the task before pruning ([models.finetune] in the "
           "grid); the results file does not hold the fine-tuned weights, so its pruned model cannot be rebuilt",
           cell.name, m.name);
  try {
    require_model_files(m, setup.run.grid_path);
  } catch (const Error& e) {
    EP_FAIL("cannot rebuild cell '{}' of '{}': {}", cell.name, r.results.string(), e.what());
  }
  return setup;
}

std::unique_ptr<CausalLM> load_model(const RunSetup& setup, const BpeTokenizer& tok, const ExportRequest& r) {
  const grid::Grid& g = setup.grid;
  const grid::ModelSpec& m = g.models[setup.model];
  LoadOptions lo;
  lo.dtype = scalar_type(g.eigenprune.dtype);
  lo.device = torch::Device(device_type(parse_name<DeviceKind>(r.device, "--device")));
  if (m.checkpoint) return load_causal_lm(*m.checkpoint, lo);
  EP_CHECK(m.init.has_value(), "model \"{}\" has neither a checkpoint nor an init shape", m.name);
  // As the cell executor: the init seed, else the grid's.
  return init_causal_lm(shape_config(*m.init, tok.vocab_size(), tok.bos_id(), tok.eos_id()),
                        m.init->seed != 0 ? m.init->seed : g.seed, lo);
}

// ---- the scoring state and the frozen set from the file ----------------------------------

// decs' matrices of one kind, in layer order (decompose() is kind-major, then layer).
std::vector<size_t> of_kind(const std::vector<Decomposition>& decs, MatrixKind k) {
  std::vector<size_t> out;
  for (size_t i = 0; i < decs.size(); ++i)
    if (decs[i].matrix.kind == k) out.push_back(i);
  return out;
}

template <class T>
torch::Tensor as_tensor(const Array<T>& a, torch::ScalarType type) {
  return torch::from_blob(const_cast<T*>(a.data.data()), a.shape, torch::TensorOptions().dtype(type)).clone();
}

void check_shape(const std::vector<int64_t>& got, const std::vector<int64_t>& want, const std::string& what,
                 const std::string& cell) {
  EP_CHECK(got == want, "cell '{}': stored {} has shape [{}], the rebuilt model needs [{}] (the checkpoint or the "
           "grid changed since the run)",
           cell, what, fmt::join(got, ", "), fmt::join(want, ", "));
}

// The recomputed singular values against the stored ones: a changed checkpoint is an error.
void check_singular_values(const std::vector<Decomposition>& decs, const std::vector<size_t>& mine,
                           const MatrixScores& stored, const std::string& kind, const std::string& cell,
                           const std::string& source) {
  const Decomposition& d0 = decs[mine.front()];
  check_shape(stored.singular_values.shape, {static_cast<int64_t>(mine.size()), d0.n_blocks(), d0.rank()},
              "singular_values of " + kind, cell);
  const torch::Tensor s_file = as_tensor(stored.singular_values, torch::kFloat32).to(torch::kFloat64);  // [L, B, R]
  std::vector<torch::Tensor> rows;
  for (size_t i : mine) rows.push_back(decs[i].s.to(torch::kCPU, torch::kFloat64));
  const torch::Tensor s_now = torch::stack(rows);                       // [L, B, R]
  const double scale = std::max(s_file.abs().max().item<double>(), 1e-30);
  const double diff = (s_now - s_file).abs().max().item<double>() / scale;
  // ref: float32 storage of a float64 SVD that is accurate to ~1e-15 (docs/eigenpruning.md):
  // the same weights give ~1e-7; a changed checkpoint gives O(1).
  EP_CHECK(diff <= 1e-4,
           "cell '{}': the singular values of matrix {} of {} differ from the ones stored in the results file by "
           "{:.3g} (relative to the largest); the checkpoint changed since the run, so the stored masks do not "
           "describe it",
           cell, kind, source, diff);
}

struct Rebuilt {
  ScoreState state;
  std::vector<int64_t> frozen;  // global indices, ascending
};

Rebuilt rebuild_state(const std::vector<Decomposition>& decs, const CellResult& cell, const PrunedResult& pr,
                      const grid::Grid& g, const std::string& source, torch::Device device) {
  int64_t P = -1;
  torch::Tensor counts;  // [P] float64
  for (MatrixKind k : g.eigenprune.matrices) {
    const std::string kind(name_of(k));
    auto it = cell.scores.find(kind);
    EP_CHECK(it != cell.scores.end() && !it->second.position_count.empty(),
             "cell '{}': the results file holds no scores of matrix {} (x̄ is needed to freeze)", cell.name, kind);
    const torch::Tensor c = as_tensor(it->second.position_count, torch::kInt64).to(torch::kFloat64);
    if (P < 0) P = c.numel(), counts = c;
    EP_CHECK(c.numel() == P && at::equal(c, counts), "cell '{}': position_count of {} differs from the other matrices'",
             cell.name, kind);
  }
  std::vector<int64_t> in_features;
  for (const Decomposition& d : decs) in_features.push_back(d.matrix.in_features);
  Rebuilt r{ScoreState(total_components(decs), in_features, P, device), {}};
  torch::NoGradGuard no_grad;
  r.state.counts().copy_(counts.to(device));
  for (MatrixKind k : g.eigenprune.matrices) {
    const std::string kind(name_of(k));
    const MatrixScores& sc = cell.scores.at(kind);
    const std::vector<size_t> mine = of_kind(decs, k);
    check_singular_values(decs, mine, sc, kind, cell.name, source);
    const Decomposition& d0 = decs[mine.front()];
    const auto L = static_cast<int64_t>(mine.size());
    check_shape(sc.activation_mean.shape, {L, P, d0.matrix.in_features}, "activation_mean of " + kind, cell.name);
    check_shape(sc.delta_loss.shape, {L, d0.n_blocks(), d0.rank()}, "delta_loss of " + kind, cell.name);
    auto mask_it = pr.masks.find(kind);
    EP_CHECK(mask_it != pr.masks.end(), "cell '{}': p = {:g} has no mask of matrix {}", cell.name, pr.p, kind);
    check_shape(mask_it->second.shape, {L, d0.n_blocks(), d0.rank()}, "mask of " + kind, cell.name);
    const torch::Tensor mean = as_tensor(sc.activation_mean, torch::kFloat32).to(torch::kFloat64);  // [L, P, I]
    const torch::Tensor delta = as_tensor(sc.delta_loss, torch::kFloat32).to(torch::kFloat64);      // [L, B, R]
    const torch::Tensor mask = as_tensor(mask_it->second, torch::kUInt8);                            // [L, B, R]
    for (int64_t l = 0; l < L; ++l) {
      const Decomposition& d = decs[mine[l]];
      // Σx per position = x̄ · count: what the run's sums were (x̄ stored in float32).
      r.state.x_sum(mine[l]).copy_((mean[l] * counts.unsqueeze(1)).to(device));
      r.state.max_delta().narrow(0, d.offset, d.size()).copy_(delta[l].reshape({-1}).to(device));
      const torch::Tensor idx = torch::nonzero(mask[l].reshape({-1})).reshape({-1});  // block * R + i
      for (int64_t j = 0; j < idx.numel(); ++j) r.frozen.push_back(d.offset + idx[j].item<int64_t>());
    }
  }
  std::sort(r.frozen.begin(), r.frozen.end());
  EP_CHECK(static_cast<int64_t>(r.frozen.size()) == pr.n_frozen,
           "cell '{}': the masks of p = {:g} mark {} components frozen, the cell says n_frozen = {}", cell.name, pr.p,
           r.frozen.size(), pr.n_frozen);
  return r;
}

// ---- the test split, for --test-logits --------------------------------------------------

EvalSet test_set(const RunSetup& setup, const BpeTokenizer& tok) {
  const grid::Grid& g = setup.grid;
  const grid::TaskSpec& t = g.tasks[setup.task];
  TaskSpec ts(t.kind, t.prompt_set, t.data_dir.value_or(std::filesystem::path{}));
  ts.split = t.split;
  ts.split.seed = t.split.seed != 0 ? t.split.seed : g.seed;  // as the cell executor
  TokenizeOptions to;
  to.prepend_bos = grid::prepends_bos(t, g.models[setup.model], tok.add_bos());
  return to_eval_set(tokenize_task(load_task(ts).test, tok, to));
}

// Logits [n, K, V] at the answer positions of every test example, in chunks of `rows`.
torch::Tensor answer_logits(CausalLM& model, const AnswerBatch& all, int64_t rows) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  const int64_t n = all.batch.input_ids.size(0);
  for (int64_t s = 0; s < n; s += rows) {
    const int64_t b = std::min(rows, n - s);
    Batch chunk{all.batch.input_ids.narrow(0, s, b), all.batch.attention_mask.narrow(0, s, b),
                all.batch.position_ids.narrow(0, s, b)};
    out.push_back(model.forward(chunk, LogitsScope::last_positions(all.K)).to(torch::kCPU, torch::kFloat32));
  }
  return torch::cat(out);
}

// ---- the exported bias ---------------------------------------------------------------------

// The constant each frozen matrix adds to its output under `opts` (Mean: D x̄ over all
// positions; PaperSum: Σ_t D x̄[t]): freeze_matrix's fallback, which ScopedFreeze adds
// at every position for these modes. None (no bias) adds nothing.
std::vector<std::pair<MatrixRef, torch::Tensor>> constant_biases(CausalLM& model, const std::vector<Decomposition>& decs,
                                                                 const Rebuilt& r, const FreezeOptions& opts) {
  std::vector<std::pair<MatrixRef, torch::Tensor>> out;
  const torch::Tensor all = frozen_mask(total_components(decs), r.frozen);  // [N] bool
  for (size_t i = 0; i < decs.size(); ++i) {
    const Decomposition& d = decs[i];
    const torch::Tensor mine = all.narrow(0, d.offset, d.size()).view({d.n_blocks(), d.rank()});
    if (!mine.any().item<bool>()) continue;
    const MatrixFreeze f = freeze_model_matrix(model, d, model.weight(d.matrix), mine, r.state, i, opts);
    if (f.fallback.defined()) out.emplace_back(d.matrix, f.fallback);
  }
  return out;
}

}  // namespace

ExportSummary export_pruned_model(const ExportRequest& r, std::ostream& log) {
  at::set_num_threads(r.threads > 0 ? r.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  check_export_target(r.out, r.force);  // before anything expensive

  // 1. The cell and p, read guarded (a file this process did not write).
  const std::string name = requested_cell(r);
  GuardOptions guard;
  guard.only = {name};
  auto snapshot = read_results_guarded(r.results, ReadDepth::Everything, guard);
  const CellSummary summary = find_cell(*snapshot, name, r);
  const CellResult cell = snapshot->read_cell(name);
  EP_CHECK(cell.status == CellStatus::Done, "cell '{}' of '{}' failed in its run, so it has no pruned model: {}", name,
           r.results.string(), cell.error);
  const Intervention chosen = requested_intervention(cell, r);
  const PrunedResult& pr = chosen.as_pruned;

  // 2. The grid of the run that computed it, and the model as that run loaded it.
  const RunSetup setup = grid_of_cell(*snapshot, summary, cell, r, log);
  const grid::Grid& g = setup.grid;
  const grid::ModelSpec& mspec = g.models[setup.model];
  const std::string source = mspec.checkpoint ? mspec.checkpoint->string() : "the seeded random model";
  log << fmt::format("eprunner: export: rebuilding cell {} with {} from {}\n", name, chosen.label, source);
  const BpeTokenizer tok = BpeTokenizer::load(mspec.tokenizer);
  std::unique_ptr<CausalLM> model = load_model(setup, tok, r);

  // 3. Decompose as the run did; the state and frozen set from the file (LASER: its
  // whole matrices, the components past its rank, no state).
  const bool laser = chosen.method == "laser";
  const std::vector<Decomposition> decs =
      laser ? decompose(*model, {chosen.laser_matrix}, laser_decompose_options(g.eigenprune, chosen.laser_layers))
            : decompose(*model, g.eigenprune.matrices, decompose_options(g.eigenprune));
  const Rebuilt rebuilt = laser ? Rebuilt{ScoreState{}, laser_components(decs, chosen.laser_layers, pr.p)}
                                : rebuild_state(decs, cell, pr, g, source, model->device());
  EP_CHECK(static_cast<int64_t>(rebuilt.frozen.size()) == pr.n_frozen,
           "cell '{}': {} removes {} components of the rebuilt model, the results file says {} (the checkpoint "
           "changed since the run?)", name, chosen.label, rebuilt.frozen.size(), pr.n_frozen);

  ExportSummary sum;
  sum.cell = name;
  sum.method = chosen.method;
  sum.label = chosen.label;
  sum.matrices = laser ? std::string(name_of(chosen.laser_matrix)) : matrices_text(g.eigenprune.matrices);
  sum.granularity = std::string(name_of(laser ? Granularity::Matrix : g.eigenprune.granularity));
  sum.p = pr.p;
  sum.n_frozen = static_cast<int64_t>(rebuilt.frozen.size());
  sum.n_components = total_components(decs);
  sum.test_accuracy = pr.eval.test.accuracy;
  const FreezeOptions run_opts = laser ? laser_freeze_options() : freeze_options(g.eigenprune);
  FreezeOptions export_opts = run_opts;
  if (run_opts.bias == BiasMode::PerPosition) export_opts.bias = BiasMode::Mean, sum.approximate = true;
  sum.bias = std::string(name_of(run_opts.bias));
  sum.exported_bias = std::string(name_of(export_opts.bias));

  // 4. Optionally, the test split and eprunner's own logits, for checking the export elsewhere.
  if (!r.test_logits.empty()) {
    const EvalSet set = test_set(setup, tok);
    EP_CHECK(set.prompts.size() == cell.test_targets.size(),
             "cell '{}': the task's test split now has {} examples, the results file {}", name, set.prompts.size(),
             cell.test_targets.size());
    std::vector<int64_t> rows(set.prompts.size());
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int64_t>(i);
    const AnswerBatch all = teacher_forced_batch(set.prompts, set.answers, rows, tok.eos_id().value_or(0), model->device());
    const int64_t chunk = g.eigenprune.eval_batch_size > 0 ? g.eigenprune.eval_batch_size : g.eigenprune.batch_size;
    TestLogits tl{all.batch.input_ids, all.batch.attention_mask, all.batch.position_ids, all.targets, {}, {}, {}};
    tl.logits_base = answer_logits(*model, all, chunk);
    {
      ScopedFreeze freeze(*model, decs, rebuilt.state, rebuilt.frozen, run_opts);
      tl.logits = answer_logits(*model, all, chunk);
    }
    if (sum.approximate) {
      ScopedFreeze freeze(*model, decs, rebuilt.state, rebuilt.frozen, export_opts);
      tl.logits_exported = answer_logits(*model, all, chunk);
    }
    write_test_logits(r.test_logits, tl);
    log << fmt::format("eprunner: export: wrote the test split ({} examples) and eprunner's logits to {}\n", rows.size(),
                       r.test_logits.string());
  }

  // 5. The weights as the run had them at this p, the constant bias in each matrix's own.
  const auto added = constant_biases(*model, decs, rebuilt, export_opts);
  HfTensors hf;
  {
    ScopedFreeze freeze(*model, decs, rebuilt.state, rebuilt.frozen, export_opts);
    hf = hf_tensors(*model, added, model->dtype());  // copies, taken while the freeze is on
  }
  ExportFolder folder{r.out, r.force, setup.run, cell, pr, g, setup.model, r.results, sum, model->config(),
                      model->dtype(), hf};
  write_export_folder(folder, tok);
  return sum;
}

}  // namespace ep::runner

#endif  // EPRUNNER_WITH_MODELS
