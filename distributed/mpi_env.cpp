// MPI session, owned communicators, local rank and GPU choice.
#include "distributed/mpi_env.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "core/util/error.h"
#include "distributed/check.h"

namespace ep::dist {

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) {
    MPI_Query_thread(&thread_level_);
    return;
  }
  int rc = MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &thread_level_);
  if (rc != MPI_SUCCESS) detail::throw_mpi_error(rc, "MPI_Init_thread", __FILE__, __LINE__);
  owns_ = true;
  // Errors on the world communicator come back as codes (and then exceptions with
  // context) rather than aborting inside MPI without a word.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

MpiSession::~MpiSession() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owns_ && !finalized) MPI_Finalize();
}

MpiComm& MpiComm::operator=(MpiComm&& o) noexcept {
  if (this != &o) {
    MpiComm old(comm_);
    comm_ = o.comm_;
    o.comm_ = MPI_COMM_NULL;
  }
  return *this;
}

MpiComm::~MpiComm() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL && comm_ != MPI_COMM_WORLD && comm_ != MPI_COMM_SELF)
    MPI_Comm_free(&comm_);
}

MpiComm split_comm(MPI_Comm comm, int color, int key) {
  MPI_Comm out = MPI_COMM_NULL;
  EP_MPICHECK(MPI_Comm_split(comm, color < 0 ? MPI_UNDEFINED : color, key, &out));
  if (out != MPI_COMM_NULL) EP_MPICHECK(MPI_Comm_set_errhandler(out, MPI_ERRORS_RETURN));
  return MpiComm(out);
}

MpiComm dup_comm(MPI_Comm comm) {
  MPI_Comm out = MPI_COMM_NULL;
  EP_MPICHECK(MPI_Comm_dup(comm, &out));
  EP_MPICHECK(MPI_Comm_set_errhandler(out, MPI_ERRORS_RETURN));
  return MpiComm(out);
}

int comm_rank(MPI_Comm comm) {
  int r = 0;
  EP_MPICHECK(MPI_Comm_rank(comm, &r));
  return r;
}

int comm_size(MPI_Comm comm) {
  int n = 0;
  EP_MPICHECK(MPI_Comm_size(comm, &n));
  return n;
}

int local_rank(MPI_Comm world) {
  // Computed once: without a launcher variable it is a collective over `world`, which
  // a later call from one group only would deadlock (so cmd_run calls it on every rank
  // at start-up).
  static const int cached = [world] {
    // Launchers say it directly; asking MPI costs a collective.
    for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"})
      if (const char* v = std::getenv(var)) return std::atoi(v);
    MPI_Comm shared = MPI_COMM_NULL;
    EP_MPICHECK(MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, comm_rank(world), MPI_INFO_NULL, &shared));
    MpiComm node(shared);
    return comm_rank(node.get());
  }();
  return cached;
}

int cuda_device_index(int local_rank, int gpus_per_node, int visible) {
  if (visible <= 0) return -1;
  int gpus = gpus_per_node > 0 ? std::min(gpus_per_node, visible) : visible;
  return local_rank % gpus;
}

}  // namespace ep::dist
