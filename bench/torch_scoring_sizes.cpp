// Scoring at real model sizes with random weights, for the GPU check beside
// ../shared/reference/hf_scoring_baseline.py (same shapes, same kind of inputs):
// examples/s of the scoring pass over the key matrices, per head; the decomposition
// of every key matrix against torch's default SVD; peak device memory. One JSON line
// per run, the baseline's fields where they mean the same.
//
//   torch_scoring_sizes [--model gpt2-xl|phi-2|tiny] [--dtype fp32|bf16] [--device cuda|cpu]
//                       [--n 2048] [--bs 64] [--T 8] [--micro-tokens 0] [--threads 2]
//
// Prompts of exactly T random tokens, one-token answers (as the baseline); the pass is
// timed after one warm-up batch, device synchronized. --micro-tokens 0 with CUDA picks
// the budget from free memory as a run would (core/model/memory_estimate.h).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/core/Device.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/model/causal_lm.h"
#include "core/model/memory_estimate.h"
#include "core/model/model_shape.h"
#include "core/prune/batching.h"
#include "core/prune/decompose.h"
#include "core/prune/score.h"
#include "distributed/device.h"

namespace {

struct Args {
  std::string model = "gpt2-xl", dtype = "fp32", device = "cuda";
  int64_t n = 2048, bs = 64, T = 8, micro_tokens = 0;
  int threads = 2;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") a.model = v;
    else if (k == "--dtype") a.dtype = v;
    else if (k == "--device") a.device = v;
    else if (k == "--n") a.n = std::stoll(v);
    else if (k == "--bs") a.bs = std::stoll(v);
    else if (k == "--T") a.T = std::stoll(v);
    else if (k == "--micro-tokens") a.micro_tokens = std::stoll(v);
    else if (k == "--threads") a.threads = std::stoi(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

// The baseline's configs (hf_scoring_baseline.py build()).
ep::ModelConfig config_of(const std::string& name) {
  ep::ModelShape s;
  int64_t vocab = 50257;
  if (name == "gpt2-xl") {
    s.layers = 48, s.hidden = 1600, s.heads = 25, s.max_positions = 1024;
  } else if (name == "phi-2") {
    s.arch = ep::Arch::Phi, s.layers = 32, s.hidden = 2560, s.heads = 32, s.intermediate = 10240;
    s.max_positions = 2048, s.partial_rotary_factor = 0.4, vocab = 51200;
  } else if (name == "tiny") {
    s.layers = 2, s.hidden = 64, s.heads = 4, s.max_positions = 512;
  } else {
    std::fprintf(stderr, "unknown model %s\n", name.c_str());
    std::exit(2);
  }
  return ep::shape_config(s, vocab, std::nullopt, std::nullopt);
}

void sync(const c10::Device& dev) {
  if (dev.is_cuda()) at::zeros({1}, at::TensorOptions().device(dev)).cpu();
}

double seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  at::set_num_threads(a.threads);
  const c10::Device dev(a.device);
  const ep::ModelConfig cfg = config_of(a.model);
  ep::LoadOptions lo;
  lo.device = dev;
  lo.dtype = a.dtype == "bf16" ? at::kBFloat16 : at::kFloat;
  auto model = ep::init_causal_lm(cfg, 1, lo);

  // Every key matrix: eprunner's decomposition (per head, float64, checked) against
  // torch's default SVD of each full matrix, as the baseline times it.
  sync(dev);
  auto t0 = std::chrono::steady_clock::now();
  const auto decs = ep::decompose(*model, {ep::MatrixKind::K}, {});
  sync(dev);
  const double svd_s = seconds(t0);
  double recon = 0;
  for (const auto& d : decs) {
    const auto w = model->weight(d.matrix).to(at::kDouble);
    const auto usv = at::matmul(d.u.to(at::kDouble) * d.s.to(at::kDouble).unsqueeze(-2),
                                d.v.to(at::kDouble).transpose(-2, -1));  // [nb, bo, bi]
    const auto blocks = d.layout.split_rows ? w.view({d.layout.n_blocks, d.layout.rows, d.layout.cols}) : w.unsqueeze(0);
    recon = std::max(recon, ((usv - blocks).abs().max() / w.abs().max()).item<double>());
  }
  sync(dev);
  t0 = std::chrono::steady_clock::now();
  for (const auto& d : decs) (void)at::linalg_svd(model->weight(d.matrix).to(at::kFloat));
  sync(dev);
  const double torch_svd_s = seconds(t0);

  // Prompts of T random tokens, batches of bs.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  std::vector<std::vector<int64_t>> prompts, answers;
  for (int64_t i = 0; i < a.n; ++i) {
    auto ids = at::randint(0, cfg.vocab_size, {a.T}, gen, at::kLong);
    prompts.emplace_back(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + a.T);
    answers.push_back({at::randint(0, cfg.vocab_size, {1}, gen, at::kLong).item<int64_t>()});
  }
  std::vector<std::vector<int64_t>> batches;
  for (int64_t s = 0; s < a.n; s += a.bs) {
    batches.emplace_back();
    for (int64_t i = s; i < std::min(a.n, s + a.bs); ++i) batches.back().push_back(i);
  }
  ep::ScoreOptions so;
  so.positions = a.T;
  so.micro_batch_tokens = a.micro_tokens;
  if (a.micro_tokens == 0 && dev.is_cuda())
    so.micro_batch_tokens = ep::micro_batch_tokens_for(cfg, {ep::MatrixKind::K}, a.bs, a.T, a.dtype == "bf16" ? 2 : 4,
                                                       ep::dist::free_memory_bytes(dev));
  const ep::Scorer scorer(decs, so);
  auto state = scorer.make_state(dev);
  ep::score_examples(*model, scorer, prompts, answers, {batches.front()}, 0, state);  // warm-up
  ep::dist::reset_peak_memory(dev);
  state = scorer.make_state(dev);
  sync(dev);
  t0 = std::chrono::steady_clock::now();
  ep::score_examples(*model, scorer, prompts, answers, batches, 0, state);
  sync(dev);
  const double score_s = seconds(t0);
  std::printf("{\"impl\": \"eprunner\", \"model\": \"%s\", \"dtype\": \"%s\", \"n\": %lld, \"bs\": %lld, \"T\": %lld, "
              "\"micro_tokens\": %lld, \"ex_per_s\": %.1f, \"svd_s\": %.3f, \"torch_svd_s\": %.3f, "
              "\"svd_recon_err\": %.3g, \"peak_gib\": %.2f}\n",
              a.model.c_str(), a.dtype.c_str(), static_cast<long long>(a.n), static_cast<long long>(a.bs),
              static_cast<long long>(a.T), static_cast<long long>(so.micro_batch_tokens),
              static_cast<double>(a.n) / score_s, svd_s, torch_svd_s, recon,
              ep::dist::peak_memory_bytes(dev) < 0 ? -1.0  // not measured on the CPU
                                                   : static_cast<double>(ep::dist::peak_memory_bytes(dev)) / (1 << 30));
  return 0;
}
