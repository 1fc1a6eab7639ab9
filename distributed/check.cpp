// Error reports for MPI and NCCL failures.
#include "distributed/check.h"

#include <unistd.h>

#include <fmt/format.h>

#include "core/util/error.h"
#include "core/util/host.h"

namespace ep::dist::detail {

std::string mpi_library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
  int len = 0;
  MPI_Get_library_version(text, &len);  // callable before MPI_Init
  std::string v(text, static_cast<size_t>(len));
  auto nl = v.find_first_of("\n,");
  return nl == std::string::npos ? v : v.substr(0, nl);
}

std::string where_am_i() {
  int initialized = 0, finalized = 0, rank = -1;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return fmt::format("{}:{} rank {}", hostname(), ::getpid(), rank >= 0 ? std::to_string(rank) : "?");
}

void throw_mpi_error(int code, const char* call, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {0};
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = 0;
  std::string f(file);
  f = f.substr(f.find_last_of('/') + 1);
  throw Error(fmt::format("MPI error {} in {} at {}:{} on {}: {} ({})", code, call, f, line, where_am_i(),
                          len ? std::string(text, static_cast<size_t>(len)) : "unknown error", mpi_library_version()));
}

void throw_nccl_error(const std::string& reason, const char* call, const char* file, int line) {
  std::string f(file);
  f = f.substr(f.find_last_of('/') + 1);
  throw Error(fmt::format("NCCL error in {} at {}:{} on {}: {}", call, f, line, where_am_i(), reason));
}

}  // namespace ep::dist::detail
