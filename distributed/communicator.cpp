// Choosing a backend for a group, and a device for a rank.
#include "distributed/communicator.h"

#include <c10/core/Device.h>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>

#include "core/util/error.h"
#include "core/util/host.h"
#include "distributed/device.h"
#include "distributed/mpi_env.h"

namespace ep::dist {

std::unique_ptr<Communicator> make_communicator(MPI_Comm group, const c10::Device& device) {
  std::unique_ptr<Communicator> comm;
  if (device.is_cuda()) {
#ifdef EPRUNNER_WITH_NCCL
    comm = make_nccl_communicator(group, device.index() < 0 ? 0 : device.index());
#else
    EP_FAIL("device {} needs the NCCL backend, but this eprunner was built without NCCL (CPU LibTorch, or "
            "nccl.h/libnccl not found at configure time); use device = \"cpu\" or rebuild", device.str());
#endif
  } else {
    comm = make_mpi_communicator(group);
  }
  if (comm->rank() == 0)
    spdlog::info("group communicator: {} over {} rank(s), device {}", comm->backend(), comm->size(), device.str());
  return comm;
}

c10::Device rank_device(bool want_cuda, MPI_Comm world, int gpus_per_node) {
  if (!want_cuda) return c10::Device(c10::kCPU);
  const int visible = static_cast<int>(torch::cuda::device_count());
  EP_CHECK(visible > 0, "the grid asks for device = \"cuda\" but {} sees no GPU (CPU-only LibTorch, no driver, "
           "or CUDA_VISIBLE_DEVICES empty); use device = \"cpu\"", hostname());
  const int index = cuda_device_index(local_rank(world), gpus_per_node, visible);
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace ep::dist
