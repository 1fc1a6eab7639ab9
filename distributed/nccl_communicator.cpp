// The NCCL backend: CUDA tensors reduced and broadcast by NCCL on the current torch
// CUDA stream, so the collective is ordered after the kernels that produced the
// tensor without a host sync. Byte buffers (CPU data) go through an MPI
// communicator over the same ranks.
//
// Start-up as in NVIDIA/nccl-tests and llm.c: group rank 0 makes the unique id,
// MPI_Bcast sends it, every rank calls ncclCommInitRank on its own device.
//
// Compiled to nothing without EPRUNNER_WITH_NCCL (CPU-only LibTorch, or no NCCL).
#ifdef EPRUNNER_WITH_NCCL

#include "distributed/communicator.h"

#include <ATen/core/Tensor.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <fmt/format.h>
#include <nccl.h>
#include <spdlog/spdlog.h>

#include "core/util/error.h"
#include "distributed/check.h"
#include "distributed/nccl_watchdog.h"

// Checks an NCCL call; the reason includes NCCL's last error text when there is one.
#define EP_NCCLCHECK(call)                                                                                   \
  do {                                                                                                       \
    ncclResult_t ep_nccl_rc_ = (call);                                                                       \
    if (ep_nccl_rc_ != ncclSuccess)                                                                          \
      ::ep::dist::detail::throw_nccl_error(::ep::dist::nccl_reason(ep_nccl_rc_, comm_), #call, __FILE__, \
                                           __LINE__);                                                        \
  } while (0)

namespace ep::dist {

std::string nccl_reason(ncclResult_t rc, ncclComm_t comm) {
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 13, 0)
  const char* last = ncclGetLastError(comm);
#else
  const char* last = nullptr;
#endif
  return fmt::format("{}{} (NCCL {}.{}.{})", ncclGetErrorString(rc),
                     last && *last ? std::string(": ") + last : std::string(), NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH);
}

namespace {

ncclDataType_t nccl_type(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat: return ncclFloat32;
    case at::kDouble: return ncclFloat64;
    case at::kHalf: return ncclFloat16;
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 10, 0)
    case at::kBFloat16: return ncclBfloat16;
#endif
    case at::kInt: return ncclInt32;
    case at::kLong: return ncclInt64;
    case at::kByte: return ncclUint8;
    case at::kChar: return ncclInt8;
    default:
      EP_FAIL("NCCL: dtype {} is not supported", c10::toString(t.scalar_type()));
  }
}

ncclRedOp_t nccl_op(ReduceOp op) { return op == ReduceOp::Sum ? ncclSum : ncclMax; }

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(MPI_Comm comm, int device) : mpi_(make_mpi_communicator(comm)), device_(device) {
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
    // Rank 0 broadcasts the id, or its error in place of one: the others must not wait
    // in the broadcast for an id that will never come.
    ncclUniqueId id;
    Bytes id_bytes;
    if (mpi_->rank() == 0) {
      const ncclResult_t r = ncclGetUniqueId(&id);
      if (r == ncclSuccess) {
        id_bytes.assign(reinterpret_cast<uint8_t*>(&id), reinterpret_cast<uint8_t*>(&id) + sizeof(id));
      } else {
        const std::string why = fmt::format("ncclGetUniqueId on the group's first rank failed: {}", ncclGetErrorString(r));
        id_bytes.assign(why.begin(), why.end());
        if (id_bytes.size() == sizeof(id)) id_bytes.push_back('.');  // never the size of an id
      }
    }
    mpi_->broadcast_bytes(id_bytes, 0);
    EP_CHECK(id_bytes.size() == sizeof(id), "NCCL communicator for {} ranks: {}", mpi_->size(),
             std::string(id_bytes.begin(), id_bytes.end()));
    std::copy(id_bytes.begin(), id_bytes.end(), reinterpret_cast<uint8_t*>(&id));
    EP_NCCLCHECK(ncclCommInitRank(&comm_, mpi_->size(), id, mpi_->rank()));
    watchdog_ = std::make_unique<NcclWatchdog>(comm_, device_, NcclWatchdog::timeout_from_environment());
  }

  ~NcclCommunicator() override {
    // Destroy waits for outstanding work; after an error (async or thrown) abort
    // instead, so a broken peer cannot hang the shutdown.
    if (!comm_) return;
    const bool aborted = watchdog_ && !watchdog_->aborted().empty();
    watchdog_.reset();
    if (aborted) return;  // ncclCommAbort freed it
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(comm_, &async);
    if (async == ncclSuccess)
      ncclCommDestroy(comm_);
    else
      ncclCommAbort(comm_);
  }

  int rank() const override { return mpi_->rank(); }
  int size() const override { return mpi_->size(); }
  std::string_view backend() const override { return "nccl"; }

  void all_reduce(const at::Tensor& t, ReduceOp op) override {
    if (on_cpu(t)) return mpi_->all_reduce(t, op);
    collective("all_reduce", t, [&](void* data, size_t count, ncclDataType_t type, cudaStream_t stream) {
      EP_NCCLCHECK(ncclAllReduce(data, data, count, type, nccl_op(op), comm_, stream));
    });
  }

  std::vector<Bytes> all_gather_bytes(const Bytes& mine) override { return mpi_->all_gather_bytes(mine); }
  void broadcast_bytes(Bytes& buffer, int root) override { mpi_->broadcast_bytes(buffer, root); }

 private:
  static bool on_cpu(const at::Tensor& t) { return t.defined() && t.device().is_cpu(); }

  // The one path every CUDA collective takes: check the tensor, enqueue `fn` on
  // the current stream of the tensor's device, check NCCL's async state, and hand the
  // collective to the watchdog (nccl_watchdog.h), which aborts it if it never ends.
  template <class Fn>
  void collective(const char* name, const at::Tensor& t, Fn&& fn) {
    EP_CHECK(t.defined(), "NCCL {}: the tensor is undefined", name);
    EP_CHECK(t.device().is_cuda() && t.device().index() == device_,
             "NCCL {}: tensor is on {}, this communicator on cuda:{}", name, t.device().str(), device_);
    EP_CHECK(t.is_contiguous(), "NCCL {}: tensor is not contiguous; call .contiguous() first", name);
    const std::string aborted = watchdog_->aborted();
    EP_CHECK(aborted.empty(), "NCCL {}: the group's communicator was aborted earlier ({})", name, aborted);
    c10::cuda::CUDAGuard guard(t.device());
    cudaStream_t stream = at::cuda::getCurrentCUDAStream(t.device().index()).stream();
    fn(t.data_ptr(), static_cast<size_t>(t.numel()), nccl_type(t), stream);
    ncclResult_t async = ncclSuccess;
    EP_NCCLCHECK(ncclCommGetAsyncError(comm_, &async));
    EP_NCCLCHECK(async);
    watchdog_->watch(name, stream);
  }

  std::unique_ptr<Communicator> mpi_;
  int device_ = 0;
  ncclComm_t comm_ = nullptr;
  std::unique_ptr<NcclWatchdog> watchdog_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm, int cuda_device) {
  return std::make_unique<NcclCommunicator>(comm, cuda_device);
}

}  // namespace ep::dist

#endif  // EPRUNNER_WITH_NCCL
