// MPI start-up and the pieces every distributed run needs around it: the session
// (init/finalize), owned communicators, splitting the world into groups, and which
// GPU a rank uses.
#pragma once

#include <string>

#include <mpi.h>

namespace ep::dist {

// MPI_Init_thread asking for MPI_THREAD_MULTIPLE (the runner's cell queue serves
// requests from a thread on world rank 0), MPI_Finalize on destruction. If MPI is
// already initialized (a test harness did it) the session neither inits nor
// finalizes.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int thread_level() const { return thread_level_; }
  bool multithreaded() const { return thread_level_ >= MPI_THREAD_MULTIPLE; }

 private:
  bool owns_ = false;
  int thread_level_ = MPI_THREAD_SINGLE;
};

// An owned MPI communicator (MPI_Comm_free on destruction; MPI_COMM_NULL is fine).
class MpiComm {
 public:
  MpiComm() = default;
  explicit MpiComm(MPI_Comm comm) : comm_(comm) {}
  MpiComm(MpiComm&& o) noexcept : comm_(o.comm_) { o.comm_ = MPI_COMM_NULL; }
  MpiComm& operator=(MpiComm&& o) noexcept;
  MpiComm(const MpiComm&) = delete;
  MpiComm& operator=(const MpiComm&) = delete;
  ~MpiComm();

  MPI_Comm get() const { return comm_; }
  bool null() const { return comm_ == MPI_COMM_NULL; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

// MPI_Comm_split: ranks with the same color form one communicator, ordered by key.
// color < 0 means "in no group": the result is null.
MpiComm split_comm(MPI_Comm comm, int color, int key);

// MPI_Comm_dup (collective): a communicator whose messages cannot mix with others'.
MpiComm dup_comm(MPI_Comm comm);

int comm_rank(MPI_Comm comm);
int comm_size(MPI_Comm comm);

// This rank's index among the ranks on its node: OMPI_COMM_WORLD_LOCAL_RANK (or the
// MPICH, MVAPICH, srun equivalents) when the launcher sets it, else the rank in
// MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) of `world`. Computed by the first call
// and kept: that first call may be collective over `world`, so make it on every rank
// at start-up (cmd_run does), never from one group only.
int local_rank(MPI_Comm world);

// Which of the node's GPUs a rank uses: local_rank % gpus, gpus = gpus_per_node
// when set (> 0) and no more than `visible`, else `visible`. -1 when no GPU.
int cuda_device_index(int local_rank, int gpus_per_node, int visible);

}  // namespace ep::dist
