#include "distributed/control.h"

#include "distributed/check.h"
#include "distributed/mpi_env.h"
#include "distributed/work_queue.h"

namespace ep::dist {

bool thread_multiple(int* level) {
  int l = MPI_THREAD_SINGLE;
  MPI_Query_thread(&l);
  if (level) *level = l;
  return l >= MPI_THREAD_MULTIPLE;
}

bool any_rank(MPI_Comm comm, bool mine) {
  int here = mine ? 1 : 0, any = 0;
  MPI_Request req;
  EP_MPICHECK(MPI_Iallreduce(&here, &any, 1, MPI_INT, MPI_MAX, comm, &req));
  wait_politely(req);
  return any != 0;
}

int64_t broadcast_int(MPI_Comm comm, int64_t value, int root) {
  MPI_Request req;
  EP_MPICHECK(MPI_Ibcast(&value, 1, MPI_INT64_T, root, comm, &req));
  wait_politely(req);
  return value;
}

std::vector<int64_t> broadcast_ints(MPI_Comm comm, std::vector<int64_t> values, int root) {
  MPI_Request req;
  EP_MPICHECK(MPI_Ibcast(values.data(), static_cast<int>(values.size()), MPI_INT64_T, root, comm, &req));
  wait_politely(req);
  return values;
}

std::string broadcast_string(MPI_Comm comm, std::string s, int root) {
  const auto n = static_cast<uint64_t>(broadcast_int(comm, static_cast<int64_t>(s.size()), root));
  s.resize(n);
  if (n == 0) return s;
  MPI_Request req;
  EP_MPICHECK(MPI_Ibcast(s.data(), static_cast<int>(n), MPI_CHAR, root, comm, &req));
  wait_politely(req);
  return s;
}

std::vector<std::string> gather_strings(MPI_Comm comm, const std::string& mine, int root) {
  const int size = comm_size(comm), rank = comm_rank(comm);
  int len = static_cast<int>(mine.size());
  std::vector<int> lens(rank == root ? size : 0);
  EP_MPICHECK(MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, root, comm));
  std::vector<int> offsets(lens.size(), 0);
  int total = 0;
  for (size_t i = 0; i < lens.size(); ++i) offsets[i] = total, total += lens[i];
  std::string all(static_cast<size_t>(total), '\0');
  EP_MPICHECK(MPI_Gatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), offsets.data(), MPI_CHAR, root, comm));
  std::vector<std::string> out;
  for (size_t i = 0; i < lens.size(); ++i) out.push_back(all.substr(offsets[i], lens[i]));
  return out;
}

void barrier(MPI_Comm comm) {
  MPI_Request req;
  EP_MPICHECK(MPI_Ibarrier(comm, &req));
  wait_politely(req);
}

}  // namespace ep::dist
