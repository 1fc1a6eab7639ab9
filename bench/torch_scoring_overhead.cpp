// What scoring costs on top of the forward and backward passes it needs.
//
//   torch_scoring_overhead [--device cpu|cuda] [--threads 2] [--batches 6] [--batch 8]
//                          [--len 32] [--kinds k] [--granularity head] [--layers 12] [--passes 4]
//
// A GPT-2-small-sized model with seeded random weights; prompts of random tokens,
// lengths len-7..len (left padded). Per batch:
//   plain:  forward with taps at the chosen matrices + autograd::grad of the loss to
//           the probes (the least any scorer must do);
//   score:  Scorer::score_batch (the same, plus projections, pairwise ΔL, running
//           max and per-position sums);
//   math:   Scorer::accumulate alone on taps and gradients recorded once (the
//           added work itself; the steadiest figure on a busy machine);
//   train:  forward + loss.backward() into every parameter (a fine-tuning step),
//           for scale.
// Overhead = score / plain - 1 and math / plain (goal: under 10%), in wall and
// in process CPU time.
// Best of --passes interleaved passes over the batches (train: best of two).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/prune/batching.h"
#include "core/prune/decompose.h"
#include "core/prune/score.h"

namespace {

struct Args {
  std::string device = "cpu";
  int threads = 2;
  int64_t batches = 6, batch = 8, len = 32, layers = 12;
  int passes = 4;
  std::string kinds = "k";
  std::string granularity = "head";
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--device") a.device = v;
    else if (k == "--threads") a.threads = std::stoi(v);
    else if (k == "--batches") a.batches = std::stoll(v);
    else if (k == "--batch") a.batch = std::stoll(v);
    else if (k == "--len") a.len = std::stoll(v);
    else if (k == "--layers") a.layers = std::stoll(v);
    else if (k == "--passes") a.passes = std::stoi(v);
    else if (k == "--kinds") a.kinds = v;
    else if (k == "--granularity") a.granularity = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

std::vector<ep::MatrixKind> parse_kinds(const std::string& list) {
  std::vector<ep::MatrixKind> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(ep::parse_name<ep::MatrixKind>(item, "matrix"));
  return out;
}

ep::ModelConfig gpt2_small(int64_t layers) {
  ep::ModelConfig c;
  c.arch = ep::Arch::GPT2;
  c.model_type = "gpt2";
  c.vocab_size = 50257;
  c.max_positions = 1024;
  c.hidden = 768;
  c.n_layers = layers;
  c.n_heads = 12;
  c.head_dim = 64;
  c.intermediate = 3072;
  return c;
}

void sync(const at::Device& dev) {
  if (dev.is_cuda()) at::zeros({1}, at::TensorOptions().device(dev)).cpu();
}

// Wall time and process CPU time (all threads) of one call. On a shared machine
// the CPU time is the steadier of the two: it does not count time spent waiting
// for a core that another process holds.
struct Times {
  double wall = 1e300, cpu = 1e300;
  void keep_best(const Times& t) {
    wall = std::min(wall, t.wall);
    cpu = std::min(cpu, t.cpu);
  }
};

template <class F>
Times time_pass(const at::Device& dev, F&& f) {
  sync(dev);
  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();
  f();
  sync(dev);
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
          static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC};
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  at::set_num_threads(args.threads);
  const at::Device dev(args.device);
  ep::LoadOptions lopts;
  lopts.device = dev;
  auto model = ep::init_causal_lm(gpt2_small(args.layers), 1, lopts);

  // Prompts and batches.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  const int64_t n = args.batches * args.batch;
  std::vector<std::vector<int64_t>> prompts;
  std::vector<int64_t> answers;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t len = args.len - (i % 8);
    auto ids = at::randint(0, 50257, {std::max<int64_t>(len, 1)}, gen, at::kLong);
    prompts.emplace_back(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
    answers.push_back(at::randint(0, 50257, {1}, gen, at::kLong).item<int64_t>());
  }
  std::vector<ep::Batch> batches;
  std::vector<at::Tensor> targets;
  for (int64_t b = 0; b < args.batches; ++b) {
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < args.batch; ++i) rows.push_back(b * args.batch + i);
    batches.push_back(ep::left_padded_batch(prompts, rows, 0, dev));
    targets.push_back(ep::gather_targets(answers, rows, dev));
  }

  ep::DecomposeOptions dopts;
  dopts.granularity = ep::parse_name<ep::Granularity>(args.granularity, "granularity");
  auto decs = ep::decompose(*model, parse_kinds(args.kinds), dopts);
  ep::ScoreOptions sopts;
  sopts.positions = args.len;
  ep::Scorer scorer(decs, sopts);
  std::vector<ep::MatrixRef> refs;
  for (const auto& d : decs) refs.push_back(d.matrix);

  auto plain = [&] {
    for (size_t b = 0; b < batches.size(); ++b) {
      ep::Taps taps;
      taps.at = refs;
      taps.want_grad = true;
      auto loss = ep::last_token_loss_sum(model->forward(batches[b], ep::LogitsScope::Last, &taps), targets[b]);
      auto g = torch::autograd::grad({loss}, taps.probes);
    }
  };
  auto state = scorer.make_state(dev);
  auto score = [&] {
    for (size_t b = 0; b < batches.size(); ++b) scorer.score_batch(*model, batches[b], targets[b], state);
  };
  auto train = [&] {
    for (size_t b = 0; b < batches.size(); ++b) {
      auto loss = ep::last_token_loss_sum(model->forward(batches[b], ep::LogitsScope::Last), targets[b]);
      loss.backward();
    }
  };

  // The scoring math alone, on taps and gradients recorded once per batch.
  std::vector<ep::Taps> recorded(batches.size());
  std::vector<std::vector<at::Tensor>> grads(batches.size());
  for (size_t b = 0; b < batches.size(); ++b) {
    recorded[b].at = refs;
    recorded[b].want_grad = true;
    auto loss = ep::last_token_loss_sum(model->forward(batches[b], ep::LogitsScope::Last, &recorded[b]), targets[b]);
    grads[b] = torch::autograd::grad({loss}, recorded[b].probes);
  }
  auto math_state = scorer.make_state(dev);
  auto math = [&] {
    at::NoGradGuard no_grad;
    for (size_t b = 0; b < batches.size(); ++b) {
      scorer.accumulate_counts(batches[b].attention_mask, math_state);
      for (size_t i = 0; i < refs.size(); ++i)
        scorer.accumulate(i, recorded[b].inputs[i], grads[b][i], batches[b].attention_mask, math_state);
    }
  };

  plain();  // warm-up (allocator, thread pool)
  score();
  math();
  Times t_plain, t_score, t_math, t_train;
  for (int pass = 0; pass < args.passes; ++pass) {  // interleaved: load changes hit all alike
    t_plain.keep_best(time_pass(dev, plain));
    t_score.keep_best(time_pass(dev, score));
    t_math.keep_best(time_pass(dev, math));
  }
  for (auto& [name, p] : model->named_parameters()) p.requires_grad_(true);
  for (int pass = 0; pass < 2; ++pass) t_train.keep_best(time_pass(dev, train));

  const bool finite = state.max_delta().isfinite().all().item<bool>();
  std::printf("# scoring overhead, GPT-2-small-sized random model (%lld layers), device %s, %d threads\n",
              static_cast<long long>(args.layers), args.device.c_str(), at::get_num_threads());
  std::printf("# kinds %s, granularity %s, %lld components; %lld batches x %lld prompts, T <= %lld\n",
              args.kinds.c_str(), args.granularity.c_str(), static_cast<long long>(ep::total_components(decs)),
              static_cast<long long>(args.batches), static_cast<long long>(args.batch),
              static_cast<long long>(args.len));
  std::printf("# %-8s %12s %12s %12s %12s\n", "pass", "wall/batch", "vs plain", "cpu/batch", "vs plain");
  std::printf("# %-8s %12s %12s %12s %12s\n", "", "(ms)", "(wall)", "(ms)", "(cpu)");
  const double nb = static_cast<double>(args.batches);
  for (const auto& [name, t] : {std::pair<const char*, Times>{"plain", t_plain}, {"score", t_score},
                                {"math", t_math}, {"train", t_train}})
    std::printf("  %-8s %12.1f %12.3f %12.1f %12.3f\n", name, 1e3 * t.wall / nb, t.wall / t_plain.wall,
                1e3 * t.cpu / nb, t.cpu / t_plain.cpu);
  std::printf("# overhead score/plain - 1: %.1f%% wall, %.1f%% cpu; math/plain: %.1f%% wall, %.1f%% cpu "
              "(goal < 10%%); scores finite: %s\n",
              100.0 * (t_score.wall / t_plain.wall - 1.0), 100.0 * (t_score.cpu / t_plain.cpu - 1.0),
              100.0 * t_math.wall / t_plain.wall, 100.0 * t_math.cpu / t_plain.cpu, finite ? "yes" : "NO");
  return finite ? 0 : 1;
}
