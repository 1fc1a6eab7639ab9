// Small MPI collectives for the run's control flow (flags, cell ids, counts,
// strings), each waiting politely (distributed/work_queue.h wait_politely): a rank
// waiting here sleeps instead of spinning, leaving the cores to the ranks still
// computing. The cell loop (runner/cell_loop.cpp) goes through these, never MPI.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <mpi.h>

namespace ep::dist {

// Whether the MPI library runs MPI_THREAD_MULTIPLE (and the level it has).
bool thread_multiple(int* level = nullptr);

// True on every rank when `mine` is true on any (a max all-reduce).
bool any_rank(MPI_Comm comm, bool mine);

// Root's value on every rank.
int64_t broadcast_int(MPI_Comm comm, int64_t value, int root = 0);
std::vector<int64_t> broadcast_ints(MPI_Comm comm, std::vector<int64_t> values, int root = 0);  // same size everywhere
std::string broadcast_string(MPI_Comm comm, std::string s, int root = 0);

// Every rank's string, in rank order, on root (empty elsewhere).
std::vector<std::string> gather_strings(MPI_Comm comm, const std::string& mine, int root = 0);

void barrier(MPI_Comm comm);

}  // namespace ep::dist
