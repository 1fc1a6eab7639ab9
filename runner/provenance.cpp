// Versions and context for the results file's root attributes.
#include "runner/provenance.h"

#include <fmt/format.h>

#include "runner/version.h"

// The library versions come from headers only where the build has the library:
// LibTorch and MPI reach ep_runner_lib through the model layer.
#if __has_include(<torch/version.h>)
#include <torch/version.h>
#endif
#if __has_include(<mpi.h>)
#include <mpi.h>
#endif

namespace ep::runner {
namespace {

std::string torch_version() {
#ifdef TORCH_VERSION
  return TORCH_VERSION;
#else
  return "";
#endif
}

std::string mpi_version() {
#ifdef MPI_MAX_LIBRARY_VERSION_STRING
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
  int len = 0;
  MPI_Get_library_version(text, &len);  // allowed before MPI_Init
  std::string v(text, static_cast<size_t>(len));
  return v.substr(0, v.find_first_of(",\n"));
#else
  return "";
#endif
}

}  // namespace

Provenance make_provenance(const grid::Grid& grid, int argc, const char* const* argv, const std::string& devices) {
  Provenance p;
  p.grid_text = grid.text;
  p.grid_path = grid.source.empty() ? "" : std::filesystem::absolute(grid.source).string();
  p.eprunner_version = version();
  p.git_commit = git_commit();
  for (int i = 0; i < argc; ++i) p.command_line += (i ? " " : "") + std::string(argv[i]);
  p.devices = devices;
  p.torch_version = torch_version();
  p.mpi_version = mpi_version();
  p.started_at = utc_now();
  return p;
}

}  // namespace ep::runner
