// EP_MPICHECK / EP_NCCLCHECK: turn a failing MPI or NCCL call into an ep::Error
// that says where (file:line, host, pid, rank), which library (with its version)
// and why (the library's own error string). ref: NVIDIA/nccl-tests NCCLCHECK.
#pragma once

#include <string>

#include <mpi.h>

namespace ep::dist::detail {

// Throws ep::Error; `call` is the call's source text.
[[noreturn]] void throw_mpi_error(int code, const char* call, const char* file, int line);
[[noreturn]] void throw_nccl_error(const std::string& reason, const char* call, const char* file, int line);

// "Open MPI v4.1.4, ..." (first line of MPI_Get_library_version).
std::string mpi_library_version();
// "host:pid rank r" for messages (world rank, or "rank ?" before MPI_Init).
std::string where_am_i();

}  // namespace ep::dist::detail

// Needs MPI_ERRORS_RETURN on the communicator (our communicators set it), else MPI
// aborts before we can say anything.
#define EP_MPICHECK(call)                                                               \
  do {                                                                                  \
    int ep_mpi_rc_ = (call);                                                            \
    if (ep_mpi_rc_ != MPI_SUCCESS) ::ep::dist::detail::throw_mpi_error(ep_mpi_rc_, #call, __FILE__, __LINE__); \
  } while (0)
