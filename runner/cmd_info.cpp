// `eprunner info` (also `eprunner --version`): this binary's version and commit, the
// LibTorch it runs on, whether CUDA and the NCCL backend are compiled in, the NCCL
// version actually loaded (and from which file), the GPUs it sees and the MPI library.
// A cluster user's first check after a build; tests/cli/build_info.sh asserts on it.
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "runner/commands.h"
#include "runner/version.h"
#ifdef EPRUNNER_WITH_MODELS
#include "distributed/build_info.h"
#endif

namespace ep::cli {

std::string info_text() {
  std::string s = fmt::format("eprunner {} (commit {})\n", version(), git_commit());
#ifdef EPRUNNER_WITH_MODELS
  s += dist::format_build_info(dist::build_info());
#else
  s += "LibTorch: not built (EPRUNNER_WITH_TORCH=OFF: the torch-free layers only)\n";
#endif
  return s;
}

void add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Version, commit, LibTorch, CUDA and NCCL (compiled in, version loaded), "
                                         "GPUs seen, MPI library");
  cmd->callback([] { std::fputs(info_text().c_str(), stdout); });
}

}  // namespace ep::cli
