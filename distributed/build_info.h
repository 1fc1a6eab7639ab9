// What this eprunner binary was built with and what it finds at run time: LibTorch,
// CUDA, NCCL (compiled in? which version is *loaded*, from which file, and how many
// libnccl files the process has mapped), the GPUs it sees, the MPI library.
// `eprunner info` and `eprunner --version` print it; tests/cli/build_info.sh checks it.
// The loaded NCCL is asked at run time (ncclGetVersion), not read from nccl.h: the
// header says what we compiled against, the library what actually runs.
#pragma once

#include <string>
#include <vector>

namespace ep::dist {

struct BuildInfo {
  std::string torch_version;        // "2.11.0"
  std::string torch_library;        // the libtorch_cpu.so this process loaded
  bool cuda_compiled = false;       // LibTorch has CUDA (libtorch_cuda is linked)
  std::string cuda_runtime;         // CUDA runtime version LibTorch was built with, "13.0"
  int cuda_devices = 0;             // GPUs visible now (0 without a driver)
  std::vector<std::string> device_names;
  bool nccl_compiled = false;       // the NCCL communicator is in this binary
  std::string nccl_header;          // nccl.h's version at build time, "2.28.9"
  std::string nccl_loaded;          // ncclGetVersion() now, "2.28.9"
  std::vector<std::string> nccl_files;  // every libnccl file mapped into this process
  std::string mpi_library;          // first line of MPI_Get_library_version
};

// Gathers it; safe before MPI_Init and without a GPU.
BuildInfo build_info();

// Lines of "name: value", the format `eprunner info` prints.
std::string format_build_info(const BuildInfo& info);

}  // namespace ep::dist
