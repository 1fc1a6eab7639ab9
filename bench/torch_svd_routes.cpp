// SVD routes for the key matrices of GPT-2 small and GPT-2 XL (random weights,
// normal(0, 0.02) like the models' init): per head and per whole matrix, each
// route against torch's default SVD in the same run.
//
//   torch_svd_routes [--device cpu|cuda] [--threads 2] [--xl-matrix-layers 4] [--repeat 3]
//
// Routes (core/prune/decompose.h): lapack = at::linalg_svd in float64; gram =
// eigh of the Gram matrix in float64; auto = gram + reconstruction check. The
// baseline "torch" is what a Python user writes: torch.linalg.svd(W, full_matrices=False)
// on the float32 weights. Correctness columns: the worst reconstruction error
// ||A - USVᵀ||/||A|| and the worst |s - s_lapack64| / s_max over all blocks.
// When a per-matrix XL run would be long on a small CPU, only --xl-matrix-layers
// layers are timed and the total is extrapolated linearly (said in the output).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/prune/decompose.h"

namespace {

struct Shape {
  const char* model;
  int64_t layers, heads, d;  // key matrix [d, d]; head blocks [heads, d/heads, d]
};

struct Args {
  std::string device = "cpu";
  int threads = 2;
  int64_t xl_matrix_layers = 4;
  int repeat = 3;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--device")) a.device = argv[i + 1];
    else if (!std::strcmp(argv[i], "--threads")) a.threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--xl-matrix-layers")) a.xl_matrix_layers = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--repeat")) a.repeat = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      std::exit(2);
    }
  }
  return a;
}

void sync(const at::Device& dev) {
  // A device-to-host copy waits for every queued kernel (no CUDA header needed).
  if (dev.is_cuda()) at::zeros({1}, at::TensorOptions().device(dev)).cpu();
}

// The blocks of `layers` random key matrices at a granularity: one [nb, m, n] per layer.
std::vector<at::Tensor> key_blocks(const Shape& s, int64_t layers, bool per_head, const at::Device& dev) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1234);
  std::vector<at::Tensor> out;
  for (int64_t l = 0; l < layers; ++l) {
    auto w = at::randn({s.d, s.d}, gen, at::kFloat) * 0.02;  // [out, in]
    out.push_back((per_head ? w.view({s.heads, s.d / s.heads, s.d}) : w.unsqueeze(0)).to(dev));
  }
  return out;
}

struct Result {
  double seconds = 1e300;  // wall
  double cpu = 1e300;      // process CPU time, all threads (steadier on a shared machine)
  double recon = 0, s_err = 0;
};

// One timed run of `route` over all blocks (the outputs are kept, as decompose()
// keeps them); the best time over calls stays in `r`, the accuracy of the last.
void run_route(const std::string& route, const std::vector<at::Tensor>& blocks, const at::Device& dev,
               Result& r) {
  std::vector<ep::BlockSvd> out;
  sync(dev);
  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();
  for (const auto& b : blocks) {
    if (route == "torch") {
      auto usv = at::linalg_svd(b, /*full_matrices=*/false);
      out.push_back({std::get<0>(usv), std::get<1>(usv), std::get<2>(usv).transpose(-2, -1)});
    } else {
      out.push_back(ep::block_svd(b.to(at::kDouble), ep::parse_name<ep::SvdRoute>(route, "SVD route")));
    }
  }
  sync(dev);
  r.seconds = std::min(r.seconds, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  r.cpu = std::min(r.cpu, static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
  r.recon = r.s_err = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    auto a = blocks[i].to(at::kDouble);
    ep::BlockSvd svd{out[i].u.to(at::kDouble), out[i].s.to(at::kDouble), out[i].v.to(at::kDouble)};
    r.recon = std::max(r.recon, ep::reconstruction_error(a, svd).max().item<double>());
    auto ref = at::linalg_svdvals(a);  // LAPACK float64
    r.s_err = std::max(r.s_err, ((svd.s - ref).abs() / ref.narrow(-1, 0, 1)).max().item<double>());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  at::set_num_threads(args.threads);
  const at::Device dev(args.device);
  const Shape shapes[] = {{"gpt2-small", 12, 12, 768}, {"gpt2-xl", 48, 25, 1600}};
  std::printf("# SVD routes for key matrices, device %s, %d torch threads, best of %d\n",
              args.device.c_str(), at::get_num_threads(), args.repeat);
  std::printf("# %-10s %-6s %-16s %-7s %9s %9s %9s %9s %9s %9s  %s\n", "model", "gran", "blocks", "route",
              "wall", "vs torch", "cpu", "vs torch", "recon", "s_err", "note");
  std::printf("# %-10s %-6s %-16s %-7s %9s %9s %9s %9s %9s %9s\n", "", "", "(layers x shape)", "", "(s)",
              "(speedup)", "(s)", "(speedup)", "(rel)", "(/s_max)");
  bool ok = true;
  for (const auto& s : shapes) {
    for (bool per_head : {true, false}) {
      int64_t layers = s.layers;
      std::string note;
      if (!per_head && s.d > 1000 && !dev.is_cuda() && args.xl_matrix_layers < s.layers) {
        layers = args.xl_matrix_layers;
        note = "timed " + std::to_string(layers) + " layers, x" + std::to_string(s.layers / layers) +
               " extrapolated";
      }
      const double scale = static_cast<double>(s.layers) / static_cast<double>(layers);
      auto blocks = key_blocks(s, layers, per_head, dev);
      char shape[64];
      std::snprintf(shape, sizeof shape, "%lldx[%lld,%lld,%lld]", static_cast<long long>(s.layers),
                    static_cast<long long>(blocks[0].size(0)), static_cast<long long>(blocks[0].size(1)),
                    static_cast<long long>(blocks[0].size(2)));
      // Routes interleaved within each repeat, so a change of machine load hits all alike.
      const char* routes[] = {"torch", "lapack", "gram", "auto"};
      Result results[4];
      for (int rep = 0; rep < args.repeat; ++rep)
        for (int k = 0; k < 4; ++k) run_route(routes[k], blocks, dev, results[k]);
      double torch_s = 0, torch_cpu = 0;
      for (int k = 0; k < 4; ++k) {
        const char* route = routes[k];
        const Result& r = results[k];
        const double total = r.seconds * scale, cpu = r.cpu * scale;
        if (!std::strcmp(route, "torch")) torch_s = total, torch_cpu = cpu;
        // The project's routes must meet 1e-6; torch's float32 SVD is shown for reference.
        const bool pass = !std::strcmp(route, "torch") || (r.recon <= 1e-6 && r.s_err <= 1e-6);
        ok = ok && pass;
        std::printf("  %-10s %-6s %-16s %-7s %9.3f %9.2f %9.3f %9.2f %9.1e %9.1e  %s%s\n", s.model,
                    per_head ? "head" : "matrix", shape, route, total, torch_s / total, cpu,
                    torch_cpu / cpu, r.recon, r.s_err, pass ? "" : "FAILED ", note.c_str());
        std::fflush(stdout);
      }
    }
  }
  std::printf("# %s\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}
