// Fine-tuning throughput (results and machines: bench/README.md, "Fine-tuning").
//
//   torch_finetune [--threads 2] [--layers 2] [--hidden 64] [--heads 4] [--batch 2]
//                  [--steps 50] [--warmup 5] [--tokenizer examples/gpt2-tokenizer]
//     examples/s of experiments' finetune() (Adam over all parameters, last-position
//     cross-entropy, the paper's lr 0.01) on INT-SUM prompts with a random GPT-2-
//     architecture model of the given size and GPT-2's vocabulary (50257). Also
//     reports the time of one Adam step alone, to show where a step's time goes.
// Prints one JSON line.
#include "experiments/finetune.h"

#include <torch/torch.h>

#include "core/util/error.h"

#include <ATen/Parallel.h>
#include <torch/version.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int threads = 2, layers = 2, hidden = 64, heads = 4, batch = 2, steps = 50, warmup = 5;
  std::string tokenizer = "examples/gpt2-tokenizer";
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    EP_CHECK(i + 1 < argc, "option {} needs a value", k);
    std::string v = argv[++i];
    if (k == "--threads") a.threads = std::stoi(v);
    else if (k == "--layers") a.layers = std::stoi(v);
    else if (k == "--hidden") a.hidden = std::stoi(v);
    else if (k == "--heads") a.heads = std::stoi(v);
    else if (k == "--batch") a.batch = std::stoi(v);
    else if (k == "--steps") a.steps = std::stoi(v);
    else if (k == "--warmup") a.warmup = std::stoi(v);
    else if (k == "--tokenizer") a.tokenizer = v;
    else EP_FAIL("unknown option {}", k);
  }
  return a;
}

// INT-SUM prompts "{i} + {j} =" with BOS, answer " {i+j}" (as experiments builds them).
ep::TokenizedTask int_sum(const ep::BpeTokenizer& tok, int64_t n) {
  ep::TokenizedTask task;
  task.name = "int-sum";
  for (int64_t k = 0; k < n; ++k) {
    int64_t i = k / 100, j = k % 100;
    ep::TokenizedExample ex;
    ex.prompt_ids = tok.encode(std::to_string(i) + " + " + std::to_string(j) + " =");
    ex.prompt_ids.insert(ex.prompt_ids.begin(), *tok.bos_id());
    ex.answer_id = tok.encode(" " + std::to_string(i + j)).at(0);
    task.examples.push_back(std::move(ex));
  }
  return task;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Process CPU time (all threads): on a shared machine, wall time also counts other
// processes' load; CPU seconds per step say what the work costs.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// One Adam step over the model's parameters with random gradients, averaged.
double adam_step_seconds(ep::CausalLM& model, int iters) {
  std::vector<torch::Tensor> params;
  for (auto& [name, t] : model.named_parameters()) params.push_back(t.detach().clone().requires_grad_(true));
  torch::optim::Adam adam(params, torch::optim::AdamOptions(0.01));
  for (auto& p : params) p.mutable_grad() = torch::randn_like(p);
  adam.step();
  auto t0 = Clock::now();
  for (int i = 0; i < iters; ++i) adam.step();
  return seconds_since(t0) / iters;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Args a = parse(argc, argv);
    at::set_num_threads(a.threads);
    auto tok = ep::BpeTokenizer::load(a.tokenizer);
    ep::ModelConfig cfg;
    cfg.arch = ep::Arch::GPT2;
    cfg.model_type = "gpt2";
    cfg.vocab_size = 50257;
    cfg.max_positions = 64;
    cfg.hidden = a.hidden;
    cfg.n_layers = a.layers;
    cfg.n_heads = a.heads;
    cfg.head_dim = a.hidden / a.heads;
    cfg.intermediate = 4 * a.hidden;
    auto model = ep::init_causal_lm(cfg, 1, ep::LoadOptions{});
    int64_t n_params = 0;
    for (auto& [name, t] : model->named_parameters()) n_params += t.numel();

    const int64_t n = static_cast<int64_t>(a.batch) * (a.warmup + a.steps);
    ep::TokenizedTask task = int_sum(tok, n);
    std::vector<double> step_end, step_cpu;
    ep::FinetuneOptions opts;
    opts.batch_size = a.batch;
    auto t0 = Clock::now();
    opts.on_step = [&](const ep::FinetuneStep&) {
      step_end.push_back(seconds_since(t0));
      step_cpu.push_back(cpu_seconds());
    };
    auto result = ep::finetune(*model, task, opts);
    const auto w = static_cast<size_t>(a.warmup) - 1;
    const double timed = step_end.back() - step_end[w];
    const double cpu = step_cpu.back() - step_cpu[w];
    const double examples_per_s = static_cast<double>(a.batch) * a.steps / timed;
    const double adam_s = adam_step_seconds(*model, 10);

    std::printf(
        "{\"bench\": \"torch_finetune\", \"libtorch\": \"%s\", \"threads\": %d, \"layers\": %d, \"hidden\": %d, "
        "\"heads\": %d, \"vocab\": 50257, \"params\": %lld, \"batch\": %d, \"steps\": %d, \"seconds\": %.3f, "
        "\"examples_per_s\": %.1f, \"ms_per_step\": %.2f, \"cpu_ms_per_step\": %.2f, \"adam_step_ms\": %.2f, \"first_loss\": %.3f, "
        "\"last_loss\": %.3f}\n",
        TORCH_VERSION, a.threads, a.layers, a.hidden, a.heads, static_cast<long long>(n_params), a.batch, a.steps,
        timed, examples_per_s, 1000 * timed / a.steps, 1000 * cpu / a.steps, 1000 * adam_s, result.losses.front(), result.losses.back());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "torch_finetune: %s\n", e.what());
    return 1;
  }
}
