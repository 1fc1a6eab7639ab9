// Collective communication inside a group of ranks, in the shape of PyTorch's
// c10d backends but small: rank/size, in-place all_reduce and broadcast of
// tensors, gathers of variable-size byte buffers (per-example predictions,
// serialized results), barrier.
//
// Backends: "mpi" (CPU tensors, MPI_Allreduce), "nccl" (CUDA tensors on the current
// torch CUDA stream; byte buffers still go through MPI), "local" (size 1, for tests
// and single-process runs). A communicator owns its MPI/NCCL communicator (RAII),
// cannot be copied, and every collective goes through one checked helper per
// backend, whose errors carry file:line, the library (and its version) and reason.
//
// LibTorch types are only forward-declared here: code that just moves bytes (the
// runner's cell loop) includes this header without paying for ATen.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <mpi.h>

#include "core/util/name_table.h"

namespace at {
class Tensor;
}
namespace c10 {
struct Device;
}

namespace ep::dist {

enum class ReduceOp { Sum, Max };
inline constexpr Named<ReduceOp> kReduceOpNames[] = {{ReduceOp::Sum, "sum"}, {ReduceOp::Max, "max"}};
constexpr const auto& names(ReduceOp) { return kReduceOpNames; }

using Bytes = std::vector<uint8_t>;

class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string_view backend() const = 0;  // "mpi", "nccl", "local"

  // In place: every rank ends with the element-wise sum/max over ranks. The tensor
  // must be contiguous, on the backend's device, and the same shape/dtype on every
  // rank. MPI: float32, float64, int32, int64. NCCL: also fp16, bf16.
  virtual void all_reduce(const at::Tensor& tensor, ReduceOp op) = 0;
  // Variable-size byte buffers. all_gather: every rank gets every rank's buffer
  // (rank order). broadcast_bytes: every rank's buffer becomes root's (resized as needed).
  virtual std::vector<Bytes> all_gather_bytes(const Bytes& mine) = 0;
  virtual void broadcast_bytes(Bytes& buffer, int root) = 0;

 protected:
  Communicator() = default;
};

// Size 1: collectives are identities. For tests and runs without MPI.
std::unique_ptr<Communicator> make_local_communicator();

// MPI over a duplicate of `comm` (so its traffic never mixes with other messages
// on `comm`); errors are returned, not fatal, and become ep::Error.
std::unique_ptr<Communicator> make_mpi_communicator(MPI_Comm comm);

#ifdef EPRUNNER_WITH_NCCL
// NCCL over the ranks of `comm`, bound to CUDA device `cuda_device`: group rank 0
// makes the unique id and MPI_Bcast's it.
std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm, int cuda_device);
inline constexpr bool kHaveNccl = true;
#else
inline constexpr bool kHaveNccl = false;
#endif

// NCCL for a CUDA device, MPI otherwise; logs the choice. A CUDA device in a build
// without NCCL is an error with a hint. A group of one still gets a real backend,
// so a one-rank run takes the same code path as a large one.
std::unique_ptr<Communicator> make_communicator(MPI_Comm group, const c10::Device& device);

}  // namespace ep::dist
