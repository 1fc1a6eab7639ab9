// Build and run-time facts for `eprunner info`. CUDA and NCCL are asked only through
// LibTorch's CUDA hooks and NCCL's own API, so this file compiles the same with a CPU
// or a CUDA LibTorch, with or without NCCL.
#include "distributed/build_info.h"

#include <ATen/detail/CUDAHooksInterface.h>
#include <fmt/format.h>
#include <mpi.h>
#include <torch/version.h>

#include <algorithm>
#include <fstream>
#include <string_view>

#ifdef EPRUNNER_WITH_NCCL
#include <cuda_runtime_api.h>
#include <nccl.h>
#endif

#include "distributed/check.h"

namespace ep::dist {
namespace {

// Distinct files mapped into this process whose name contains `needle` (from
// /proc/self/maps: what the loader actually loaded, not what ldd predicts).
std::vector<std::string> mapped_files(std::string_view needle) {
  std::vector<std::string> files;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    const size_t base = path.rfind('/');
    if (path.find(needle, base) == std::string::npos) continue;
    if (std::find(files.begin(), files.end(), path) == files.end()) files.push_back(path);
  }
  return files;
}

std::string dotted_version(int code, int major_div, int minor_div) {
  // CUDA: 13000 -> 13.0 (1000, 10); NCCL >= 2.9: 22809 -> 2.28.9 (10000, 100).
  return fmt::format("{}.{}.{}", code / major_div, code % major_div / minor_div, code % minor_div);
}

}  // namespace

BuildInfo build_info() {
  BuildInfo info;
  info.torch_version = TORCH_VERSION;
  auto torch_files = mapped_files("libtorch_cpu.so");
  if (!torch_files.empty()) info.torch_library = torch_files.front();

  // Without libtorch_cuda the hooks are the stubs, whose version query throws.
  const auto& cuda = at::detail::getCUDAHooks();
  try {
    const long rt = cuda.versionCUDART();
    info.cuda_compiled = true;
    info.cuda_runtime = fmt::format("{}.{}", rt / 1000, rt % 1000 / 10);
    info.cuda_devices = cuda.getNumGPUs();
  } catch (const c10::Error&) {
    info.cuda_compiled = false;
  }

#ifdef EPRUNNER_WITH_NCCL
  info.nccl_compiled = true;
  info.nccl_header = fmt::format("{}.{}.{}", NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH);
  int code = 0;
  if (ncclGetVersion(&code) == ncclSuccess) info.nccl_loaded = dotted_version(code, 10000, 100);
  for (int d = 0; d < info.cuda_devices; ++d) {
    cudaDeviceProp prop{};
    info.device_names.push_back(cudaGetDeviceProperties(&prop, d) == cudaSuccess ? prop.name : "(unknown)");
  }
#endif
  info.nccl_files = mapped_files("libnccl");
  info.mpi_library = detail::mpi_library_version();
  return info;
}

std::string format_build_info(const BuildInfo& i) {
  std::string s;
  auto line = [&](std::string_view name, const std::string& value) { s += fmt::format("{}: {}\n", name, value); };
  line("LibTorch", i.torch_version + (i.torch_library.empty() ? "" : " (" + i.torch_library + ")"));
  line("CUDA compiled in", i.cuda_compiled ? "yes (CUDA runtime " + i.cuda_runtime + ")" : "no");
  std::string gpus = std::to_string(i.cuda_devices);
  for (size_t d = 0; d < i.device_names.size(); ++d) gpus += fmt::format("{} {}: {}", d ? "," : ";", d, i.device_names[d]);
  line("CUDA devices", gpus);
  line("NCCL compiled in", i.nccl_compiled ? "yes (nccl.h " + i.nccl_header + ")" : "no");
  line("NCCL loaded", i.nccl_loaded.empty() ? "none" : i.nccl_loaded);
  std::string files = std::to_string(i.nccl_files.size());
  for (const auto& f : i.nccl_files) files += " " + f;
  line("NCCL libraries mapped", files);
  line("MPI", i.mpi_library);
  return s;
}

}  // namespace ep::dist
