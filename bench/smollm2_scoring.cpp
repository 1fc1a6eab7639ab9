// eprunner's side of the SmolLM2-135M CPU benchmark against Hugging Face transformers
// (bench/smollm2_bench.sh runs both; bench/smollm2_transformers.py is the other side).
//
//   smollm2_scoring --mode score [--model data/SmolLM2-135M-Instruct.Q4_1.gguf] [--threads 2]
//                   [--batch 16] [--batches 8] [--passes 3] [--seed 1] [--ids-out FILE]
//                   [--only score|plain] [--profile PREFIX]
//   smollm2_scoring --mode load  [--model ...] [--threads 2]
//
// score: loads the GGUF model (fp32), tokenizes INT-SUM examples ("{i} + {j} =" -> " {i+j}",
//   i, j drawn from 0..99 with --seed; the GGUF tokenizer, no BOS; answers of 2-4 tokens), makes
//   --batches batches of --batch with ep::teacher_forced_batch (left padded, pad = EOS), and
//   writes them to --ids-out (JSON: input_ids, attention_mask, position_ids, targets per batch)
//   for the Python side. Decomposes the key matrices per head (timed, not part of the
//   throughput), then times, best of --passes interleaved passes over all batches after one
//   warm-up batch:
//     score: ep::Scorer::score_batch (forward with taps at k + autograd::grad of the summed
//            answer cross-entropy to the probes + the scorer's projections, pairwise ΔL,
//            running max and per-position sums);
//     plain: the same forward + grad to the probes without the scorer's accumulation (the
//            work transformers' side does);
//     math:  Scorer::accumulate alone, on taps and gradients recorded once per batch (what
//            the scorer adds; score - plain is that plus noise).
//   --only times one of the two (e.g. under perf record; the other's figures are then meaningless).
//   --profile writes LibTorch's op-level traces (chrome trace JSON) of one plain and one scored
//   batch, after the timed passes: PREFIX.plain.json, PREFIX.score.json.
//   The loss and the probe gradients' norm of each batch are printed for the Python side to
//   compare against. One JSON line.
// load: in a fresh process, RSS once LibTorch is initialised, then ep::load_causal_lm (fp32):
//   wall seconds, RSS after, peak RSS (VmHWM). One JSON line. Run it under /usr/bin/time -v
//   for the process's maximum RSS.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/prune/batching.h"
#include "core/prune/decompose.h"
#include "core/prune/score.h"
#include "core/tokenizer/bpe_tokenizer.h"

namespace {

struct Args {
  std::string mode = "score";
  std::string model = "data/SmolLM2-135M-Instruct.Q4_1.gguf";
  std::string ids_out;
  std::string only;  // "score" or "plain": time that one alone (for perf record)
  std::string profile;  // chrome trace of one plain and one scored batch (LibTorch's op profiler)
  int threads = 2;
  int64_t batch = 16, batches = 8;
  int passes = 3;
  uint64_t seed = 1;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--mode") a.mode = v;
    else if (k == "--model") a.model = v;
    else if (k == "--ids-out") a.ids_out = v;
    else if (k == "--only") a.only = v;
    else if (k == "--profile") a.profile = v;
    else if (k == "--threads") a.threads = std::stoi(v);
    else if (k == "--batch") a.batch = std::stoll(v);
    else if (k == "--batches") a.batches = std::stoll(v);
    else if (k == "--passes") a.passes = std::stoi(v);
    else if (k == "--seed") a.seed = std::stoull(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  if ((argc - 1) % 2 != 0) {
    std::fprintf(stderr, "options come in pairs: --name value\n");
    std::exit(2);
  }
  if (a.mode != "score" && a.mode != "load") {
    std::fprintf(stderr, "--mode is score or load\n");
    std::exit(2);
  }
  return a;
}

// kB of a /proc/self/status field (VmRSS, VmHWM).
double status_mb(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(key.size())) / 1024.0;
  return -1;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double cpu_s() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

struct Times {
  double wall = 1e300, cpu = 1e300;
};

template <class F>
void keep_best(Times& best, F&& f) {
  const double w0 = now_s(), c0 = cpu_s();
  f();
  best.wall = std::min(best.wall, now_s() - w0);
  best.cpu = std::min(best.cpu, cpu_s() - c0);
}

nlohmann::json tensor_rows(const at::Tensor& t) {  // [R, C] int64 -> [[...], ...]
  auto c = t.contiguous();
  auto a = c.accessor<int64_t, 2>();
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t r = 0; r < c.size(0); ++r) {
    std::vector<int64_t> row(c.size(1));
    for (int64_t j = 0; j < c.size(1); ++j) row[j] = a[r][j];
    rows.push_back(row);
  }
  return rows;
}

int run_load(const Args& args) {
  at::zeros({1}).add_(1);  // LibTorch initialised: the baseline the load adds to
  const double rss_before = status_mb("VmRSS");
  const double t0 = now_s();
  auto model = ep::load_causal_lm(args.model, ep::LoadOptions{});
  const double load_s = now_s() - t0;
  nlohmann::json out = {{"impl", "eprunner"},
                        {"mode", "load"},
                        {"threads", at::get_num_threads()},
                        {"load_s", load_s},
                        {"rss_before_mb", rss_before},
                        {"rss_after_mb", status_mb("VmRSS")},
                        {"peak_rss_mb", status_mb("VmHWM")},
                        {"params", [&] {
                           int64_t n = 0;
                           for (auto& [name, p] : model->named_parameters()) n += p.numel();
                           return n;
                         }()}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

int run_score(const Args& args) {
  const double t0 = now_s();
  auto model = ep::load_causal_lm(args.model, ep::LoadOptions{});
  const double load_s = now_s() - t0;
  const auto tok = ep::BpeTokenizer::load(args.model);
  const int64_t pad_id = tok.eos_id().value_or(0);

  // INT-SUM examples: the prompt and answer text of experiments/arithmetic_tasks.cpp.
  std::mt19937_64 rng(args.seed);
  std::uniform_int_distribution<int> digit(0, 99);
  const int64_t n = args.batches * args.batch;
  std::vector<std::vector<int64_t>> prompts, answers;
  for (int64_t e = 0; e < n; ++e) {
    const int i = digit(rng), j = digit(rng);
    prompts.push_back(tok.encode(std::to_string(i) + " + " + std::to_string(j) + " ="));
    answers.push_back(tok.encode(" " + std::to_string(i + j)));
  }
  std::vector<ep::AnswerBatch> batches;
  int64_t tokens = 0, max_T = 0, max_K = 0;
  nlohmann::json ids = {{"pad_id", pad_id}, {"seed", args.seed}, {"batches", nlohmann::json::array()}};
  for (int64_t b = 0; b < args.batches; ++b) {
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < args.batch; ++i) rows.push_back(b * args.batch + i);
    batches.push_back(ep::teacher_forced_batch(prompts, answers, rows, pad_id, at::kCPU));
    const auto& ab = batches.back();
    tokens += ab.batch.attention_mask.sum().item<int64_t>();
    max_T = std::max(max_T, ab.batch.input_ids.size(1));
    max_K = std::max(max_K, ab.K);
    ids["batches"].push_back({{"input_ids", tensor_rows(ab.batch.input_ids)},
                              {"attention_mask", tensor_rows(ab.batch.attention_mask)},
                              {"position_ids", tensor_rows(ab.batch.position_ids)},
                              {"targets", tensor_rows(ab.targets)}});
  }
  if (!args.ids_out.empty()) std::ofstream(args.ids_out) << ids.dump() << "\n";

  const double d0 = now_s();
  ep::DecomposeOptions dopts;
  dopts.granularity = ep::Granularity::Head;
  auto decs = ep::decompose(*model, {ep::MatrixKind::K}, dopts);
  const double decompose_s = now_s() - d0;
  ep::ScoreOptions sopts;
  sopts.positions = ep::longest_teacher_forced_input(prompts, answers);
  const ep::Scorer scorer(decs, sopts);
  std::vector<ep::MatrixRef> refs;
  for (const auto& d : decs) refs.push_back(d.matrix);

  // plain: what the scorer's forward and backward are, without its accumulation.
  auto plain_batch = [&](const ep::AnswerBatch& ab, double* loss_out, double* gnorm_out) {
    ep::Taps taps;
    taps.at = refs;
    taps.want_grad = true;
    auto logits = model->forward(ab.batch, ep::LogitsScope::last_positions(ab.K), &taps);
    auto loss = ep::answer_token_nll(logits, ab.targets).sum();
    auto g = torch::autograd::grad({loss}, taps.probes);
    if (loss_out) *loss_out = loss.item<double>();
    if (gnorm_out) {
      double s = 0;
      for (const auto& t : g) s += t.to(at::kDouble).pow(2).sum().item<double>();
      *gnorm_out = std::sqrt(s);
    }
  };
  auto plain = [&] {
    for (const auto& ab : batches) plain_batch(ab, nullptr, nullptr);
  };
  auto state = scorer.make_state(at::kCPU);
  auto score = [&] {
    for (const auto& ab : batches) scorer.score_batch(*model, ab.batch, ab.targets, state);
  };

  // The numbers the Python side checks it computed the same thing with (not timed).
  std::vector<double> losses(batches.size()), gnorms(batches.size());
  for (size_t b = 0; b < batches.size(); ++b) plain_batch(batches[b], &losses[b], &gnorms[b]);

  // math: the scorer's accumulation alone, on taps and gradients recorded once per batch.
  std::vector<ep::Taps> recorded(batches.size());
  std::vector<std::vector<at::Tensor>> grads(batches.size());
  for (size_t b = 0; b < batches.size(); ++b) {
    recorded[b].at = refs;
    recorded[b].want_grad = true;
    auto logits = model->forward(batches[b].batch, ep::LogitsScope::last_positions(batches[b].K), &recorded[b]);
    grads[b] = torch::autograd::grad({ep::answer_token_nll(logits, batches[b].targets).sum()}, recorded[b].probes);
  }
  auto math_state = scorer.make_state(at::kCPU);
  auto math = [&] {
    at::NoGradGuard no_grad;
    for (size_t b = 0; b < batches.size(); ++b) {
      const auto& mask = batches[b].batch.attention_mask;
      scorer.accumulate_counts(mask, math_state);
      for (size_t i = 0; i < refs.size(); ++i) scorer.accumulate(i, recorded[b].inputs[i], grads[b][i], mask, math_state);
    }
  };

  plain_batch(batches[0], nullptr, nullptr);  // warm-up: one batch each
  scorer.score_batch(*model, batches[0].batch, batches[0].targets, state);
  math();
  Times t_plain, t_score, t_math;
  for (int pass = 0; pass < args.passes; ++pass) {  // interleaved: load changes hit both alike
    if (args.only != "plain") keep_best(t_score, score);
    if (args.only != "score") keep_best(t_plain, plain);
    if (args.only.empty()) keep_best(t_math, math);
  }
  if (!args.profile.empty()) {
    {
      torch::autograd::profiler::RecordProfile guard(args.profile + ".plain.json");
      plain_batch(batches[0], nullptr, nullptr);
    }
    torch::autograd::profiler::RecordProfile guard(args.profile + ".score.json");
    scorer.score_batch(*model, batches[0].batch, batches[0].targets, state);
  }
  const bool finite = state.max_delta().isfinite().all().item<bool>();
  const double ex = static_cast<double>(n);
  nlohmann::json out = {{"impl", "eprunner"},
                        {"mode", "score"},
                        {"threads", at::get_num_threads()},
                        {"batch", args.batch},
                        {"batches", args.batches},
                        {"passes", args.passes},
                        {"examples", n},
                        {"real_tokens", tokens},
                        {"max_T", max_T},
                        {"max_K", max_K},
                        {"components", ep::total_components(decs)},
                        {"load_s", load_s},
                        {"decompose_s", decompose_s},
                        {"score_ex_per_s", ex / t_score.wall},
                        {"score_ms_per_batch", 1e3 * t_score.wall / args.batches},
                        {"score_cpu_ms_per_batch", 1e3 * t_score.cpu / args.batches},
                        {"plain_ex_per_s", ex / t_plain.wall},
                        {"plain_ms_per_batch", 1e3 * t_plain.wall / args.batches},
                        {"plain_cpu_ms_per_batch", 1e3 * t_plain.cpu / args.batches},
                        {"math_ms_per_batch", 1e3 * t_math.wall / args.batches},
                        {"math_cpu_ms_per_batch", 1e3 * t_math.cpu / args.batches},
                        {"scores_finite", finite},
                        {"loss", losses},
                        {"grad_norm", gnorms}};
  std::printf("%s\n", out.dump().c_str());
  return finite ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  at::set_num_threads(args.threads);
  return args.mode == "load" ? run_load(args) : run_score(args);
}
