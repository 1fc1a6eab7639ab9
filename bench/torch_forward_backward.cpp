// Benchmarks of the LibTorch models (results and machines: bench/README.md, "Models").
//
//   torch_forward_backward [--threads 2] [--batch 8] [--seq 64] [--iters 10] [--mode train|probe]
//     forward + backward tokens/s of a random GPT-2-small-sized model (12 layers, d 768,
//     12 heads, vocab 50257). Loss: mean next-token cross-entropy over all B x T positions
//     against random targets. train: every parameter gets a gradient (fine-tuning);
//     probe: weights frozen, d loss / d output of every key matrix through probes (scoring).
//     bench/forward_backward.py computes the same in eager PyTorch.
//   torch_forward_backward --write-checkpoint DIR
//     writes a random GPT-2-small checkpoint in HF's layout (config.json + model.safetensors).
//   torch_forward_backward --load DIR [--dtype fp32|bf16]
//     loads it and reports peak resident memory (VmHWM) against the file's size.
// Each prints one JSON line.
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/io/hf_config.h"
#include "core/io/safetensors.h"
#include "core/model/causal_lm.h"
#include "core/util/error.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int threads = 2, batch = 8, seq = 64, iters = 10;
  std::string mode = "train", write_dir, load_dir, dtype = "fp32";
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    EP_CHECK(i + 1 < argc, "option {} needs a value", k);
    std::string v = argv[++i];
    if (k == "--threads") a.threads = std::stoi(v);
    else if (k == "--batch") a.batch = std::stoi(v);
    else if (k == "--seq") a.seq = std::stoi(v);
    else if (k == "--iters") a.iters = std::stoi(v);
    else if (k == "--mode") a.mode = v;
    else if (k == "--write-checkpoint") a.write_dir = v;
    else if (k == "--load") a.load_dir = v;
    else if (k == "--dtype") a.dtype = v;
    else EP_FAIL("unknown option {}", k);
  }
  EP_CHECK(a.mode == "train" || a.mode == "probe", "--mode must be train or probe; got {}", a.mode);
  return a;
}

ep::ModelConfig gpt2_small() {
  ep::ModelConfig c;
  c.arch = ep::Arch::GPT2;
  c.model_type = "gpt2";
  c.vocab_size = 50257;
  c.max_positions = 1024;
  c.hidden = 768;
  c.n_layers = 12;
  c.n_heads = 12;
  c.head_dim = 64;
  c.intermediate = 3072;
  c.torch_dtype = "float32";
  return c;
}

// One value of /proc/self/status in MiB ("VmHWM", "VmRSS", "RssFile", "RssAnon").
double status_mib(const std::string& key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) / 1024.0;  // kB
  return -1;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU seconds of the whole process (all threads): robust to other load on the machine.
double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void forward_backward(const Args& a) {
  auto model = ep::init_causal_lm(gpt2_small(), 1234, {});
  const int64_t V = model->config().vocab_size;
  if (a.mode == "train")
    for (auto& [n, p] : model->named_parameters()) p.requires_grad_(true);
  auto ids = at::randint(V, {a.batch, a.seq}, at::kLong), targets = at::randint(V, {a.batch, a.seq}, at::kLong);
  std::vector<double> times, cpu;
  for (int it = 0; it < a.iters + 2; ++it) {  // 2 warm-up iterations
    auto t0 = Clock::now();
    const double c0 = cpu_seconds();
    ep::Taps taps;
    taps.at = model->matrices(ep::MatrixKind::K);
    taps.want_grad = true;
    auto logits = model->forward({ids, {}, {}}, ep::LogitsScope::All, a.mode == "probe" ? &taps : nullptr);
    auto loss = at::nll_loss(at::log_softmax(logits.view({-1, V}), -1), targets.view({-1}));  // mean CE
    if (a.mode == "train") {
      loss.backward();
      for (auto& [n, p] : model->named_parameters()) p.mutable_grad() = at::Tensor();
    } else {
      torch::autograd::grad({loss}, taps.probes);
    }
    if (it >= 2) times.push_back(seconds_since(t0)), cpu.push_back(cpu_seconds() - c0);
  }
  std::sort(times.begin(), times.end());
  std::sort(cpu.begin(), cpu.end());
  double total = 0;
  for (double t : times) total += t;
  const double tokens = static_cast<double>(a.batch) * a.seq;
  std::printf("{\"impl\": \"libtorch-cpp\", \"torch\": \"%s\", \"mode\": \"%s\", \"threads\": %d, \"B\": %d, "
              "\"T\": %d, \"iters\": %d, \"tokens_per_s\": %.1f, \"s_per_iter_median\": %.4f, \"s_per_iter_min\": %.4f, "
              "\"cpu_s_per_iter_median\": %.4f}\n",
              TORCH_VERSION, a.mode.c_str(), at::get_num_threads(), a.batch, a.seq, a.iters,
              tokens * times.size() / total, times[times.size() / 2], times.front(), cpu[cpu.size() / 2]);
}

// Random GPT-2-small weights under HF's names and layout (Conv1D [in, out]).
void write_checkpoint(const std::string& dir) {
  const ep::ModelConfig c = gpt2_small();
  const int64_t D = c.hidden, I = c.intermediate;
  std::map<std::string, std::vector<int64_t>> shapes = {{"wte.weight", {c.vocab_size, D}},
                                                        {"wpe.weight", {c.max_positions, D}},
                                                        {"ln_f.weight", {D}}, {"ln_f.bias", {D}}};
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    for (const char* ln : {"ln_1.", "ln_2."}) shapes[h + ln + "weight"] = {D}, shapes[h + ln + "bias"] = {D};
    shapes[h + "attn.c_attn.weight"] = {D, 3 * D}, shapes[h + "attn.c_attn.bias"] = {3 * D};
    shapes[h + "attn.c_proj.weight"] = {D, D}, shapes[h + "attn.c_proj.bias"] = {D};
    shapes[h + "mlp.c_fc.weight"] = {D, I}, shapes[h + "mlp.c_fc.bias"] = {I};
    shapes[h + "mlp.c_proj.weight"] = {I, D}, shapes[h + "mlp.c_proj.bias"] = {D};
  }
  std::vector<torch::Tensor> keep;
  std::vector<ep::st::TensorToWrite> list;
  for (const auto& [name, shape] : shapes) {
    keep.push_back(shape.size() == 1 ? at::zeros(shape) : at::randn(shape) * 0.02);
    list.push_back({"transformer." + name, ep::st::DType::F32, shape, keep.back().data_ptr(), keep.back().nbytes()});
  }
  std::filesystem::create_directories(dir);
  ep::st::write_safetensors(std::filesystem::path(dir) / "model.safetensors", list);
  std::ofstream(std::filesystem::path(dir) / "config.json") << ep::to_hf_config_json(c);
  std::printf("{\"wrote\": \"%s\", \"tensors\": %zu}\n", dir.c_str(), list.size());
}

void load(const Args& a) {
  (void)at::ones({1});  // torch's own start-up memory belongs to the baseline
  const double before = status_mib("VmRSS");
  ep::LoadOptions opts;
  opts.dtype = a.dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  auto t0 = Clock::now();
  auto model = ep::load_causal_lm(a.load_dir, opts);
  const double load_s = seconds_since(t0);
  const double file = std::filesystem::file_size(std::filesystem::path(a.load_dir) / "model.safetensors") / 1048576.0;
  const double peak = status_mib("VmHWM");
  std::printf("{\"dtype\": \"%s\", \"file_mib\": %.1f, \"rss_before_mib\": %.1f, \"peak_rss_mib\": %.1f, "
              "\"peak_minus_before_mib\": %.1f, \"ratio_to_file\": %.3f, \"rss_after_mib\": %.1f, "
              "\"rss_file_after_mib\": %.1f, \"load_s\": %.2f}\n",
              a.dtype.c_str(), file, before, peak, peak - before, (peak - before) / file, status_mib("VmRSS"),
              status_mib("RssFile"), load_s);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Args a = parse(argc, argv);
    at::set_num_threads(a.threads);
    if (!a.write_dir.empty()) write_checkpoint(a.write_dir);
    else if (!a.load_dir.empty()) load(a);
    else forward_backward(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "torch_forward_backward: %s\n", e.what());
    return 1;
  }
  return 0;
}
